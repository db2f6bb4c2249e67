"""Encoder descriptions: the one table of encoder kinds and their parameters, validation, and dispatch.

An encoder is a small dict, stored in model files and training configs:

- ``{"kind": "latency", "tau": 20.0, "threshold": 0.2}``: time-to-first-spike (:mod:`fxsnn.encode.latency`);
- ``{"kind": "rate", "max_rate": 0.2}``: Bernoulli rate coding (:mod:`fxsnn.encode.rate`);
- ``{"kind": "bins", "max_time": 1.0}``: binning of recorded spike trains (:mod:`fxsnn.encode.bins`).

Missing parameters take the defaults above (:data:`ENCODERS`); :func:`normalize_encoder` fills them in.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import UsageError
from ._checks import check_num_steps, check_positive
from .bins import BINS_DEFAULTS, SpikeTrains, bin_spike_trains
from .events import EventBatch
from .latency import LATENCY_DEFAULTS, latency_encode
from .rate import RATE_DEFAULTS, rate_encode

__all__ = ["ENCODERS", "IMAGE_ENCODERS", "normalize_encoder", "encode"]

#: Every encoder kind with its parameters' defaults.
ENCODERS = {
    "latency": dict(LATENCY_DEFAULTS),
    "rate": dict(RATE_DEFAULTS),
    "bins": dict(BINS_DEFAULTS),
}
#: The kinds that encode images (values in [0, 1]); ``bins`` encodes recorded spike trains.
IMAGE_ENCODERS = ("latency", "rate")


def normalize_encoder(spec) -> dict:
    """Validate an encoder spec and return it with every parameter filled in (floats), e.g.
    ``{"kind": "latency", "tau": 20.0, "threshold": 0.2}``. Raises :class:`UsageError` naming the problem."""
    if not isinstance(spec, Mapping):
        example = {"kind": "latency", **ENCODERS["latency"]}
        raise UsageError(f"an encoder must be a dict like {example}, got {spec!r}")
    kind = spec.get("kind")
    if kind not in ENCODERS:
        raise UsageError(f"unknown encoder kind {kind!r}; choose one of {', '.join(ENCODERS)}")
    fields = ENCODERS[kind]
    unknown = sorted(set(spec) - set(fields) - {"kind"})
    if unknown:
        raise UsageError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for the {kind} encoder; "
            f"it takes {', '.join(fields)}"
        )
    out = {"kind": kind}
    for field, default in fields.items():
        out[field] = check_positive(f"{kind} encoder {field}", spec.get(field, default))
    if kind == "latency" and not out["threshold"] < 1.0:
        raise UsageError(f"latency encoder threshold must be in (0, 1), got {out['threshold']!r}")
    if kind == "rate" and not out["max_rate"] <= 1.0:
        raise UsageError(
            f"rate encoder max_rate is a spike probability per step, in (0, 1]; got {out['max_rate']!r}"
        )
    return out


def encode(source, encoder: dict, num_steps: int, *, seed: int = 0) -> EventBatch:
    """Encode ``source`` with ``encoder`` (a spec, normalised here) into ``num_steps`` steps.

    ``source`` is an ``(n_samples, n_inputs)`` array of values in [0, 1] for the image encoders, or
    :class:`SpikeTrains` for ``bins``. ``seed`` drives the rate encoder only.
    """
    encoder = normalize_encoder(encoder)
    num_steps = check_num_steps(num_steps)
    kind = encoder["kind"]
    if isinstance(source, SpikeTrains):
        if kind != "bins":
            raise UsageError(f"recorded spike trains take the bins encoder, not {kind}")
        return bin_spike_trains(source, num_steps, encoder["max_time"])
    if kind == "bins":
        raise UsageError("the bins encoder applies to recorded spike trains (shd) only, not to images")
    images = np.asarray(source)
    if kind == "latency":
        return latency_encode(images, num_steps, encoder["tau"], encoder["threshold"])
    return rate_encode(images, num_steps, encoder["max_rate"], seed)
