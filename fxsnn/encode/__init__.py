"""Input encoders: images (values in [0, 1]) or recorded spike trains to spike events.

Every encoder lives here and produces an :class:`EventBatch`, the one input format of the emulator, training
and the hardware testbenches:

- :mod:`~fxsnn.encode.events`: :class:`EventBatch`;
- :mod:`~fxsnn.encode.latency`: the paper's time-to-first-spike code;
- :mod:`~fxsnn.encode.rate`: Bernoulli rate coding, reproducible from a seed;
- :mod:`~fxsnn.encode.bins`: recorded spike trains (SHD) binned into steps;
- :mod:`~fxsnn.encode.spec`: the table of encoder kinds, validation of encoder dicts, and :func:`encode`.
"""

from .bins import BINS_DEFAULTS, SpikeTrains, bin_spike_trains
from .events import EventBatch
from .latency import LATENCY_DEFAULTS, latency_encode, latency_times
from .rate import RATE_DEFAULTS, rate_encode
from .spec import ENCODERS, IMAGE_ENCODERS, encode, normalize_encoder

__all__ = [
    "BINS_DEFAULTS",
    "ENCODERS",
    "IMAGE_ENCODERS",
    "LATENCY_DEFAULTS",
    "RATE_DEFAULTS",
    "EventBatch",
    "SpikeTrains",
    "bin_spike_trains",
    "encode",
    "latency_encode",
    "latency_times",
    "normalize_encoder",
    "rate_encode",
]
