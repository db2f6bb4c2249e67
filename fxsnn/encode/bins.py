"""Binning of recorded spike trains (SHD) into steps: an encoder for data that already are spikes.

``step = floor(t * num_steps / max_time)`` in float64; spikes at ``t >= max_time`` are dropped; several spikes
of one unit in one step become one event (inputs are binary per step, docs/fixed-point.md section 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from .._jit import JIT
from ._checks import check_num_steps, check_positive
from .events import EventBatch

__all__ = ["BINS_DEFAULTS", "SpikeTrains", "bin_spike_trains"]

#: Default binning window: spikes in [0, max_time) seconds.
BINS_DEFAULTS = {"max_time": 1.0}


@dataclass(frozen=True, eq=False)
class SpikeTrains:
    """Recorded spikes of an event data set (SHD), in CSR form.

    Sample ``b`` owns spikes ``offsets[b] : offsets[b + 1]``.
    """

    times: np.ndarray  # float64 seconds, (n_spikes,)
    units: np.ndarray  # int32, (n_spikes,)
    offsets: np.ndarray  # int64, (n_samples + 1,)
    n_units: int



@numba.njit(parallel=True, **JIT)
def _bin_kernel(times, units, offsets, num_steps, max_time, n_units, keys, counts):
    """Per sample (in parallel): keys ``step * n_units + unit`` of the spikes before ``max_time`` written
    to the sample's own slice of ``keys``, sorted, repeats removed; ``counts[b]`` = distinct events."""
    n = offsets.size - 1
    for b in numba.prange(n):
        lo = offsets[b]
        m = 0
        for s in range(offsets[b], offsets[b + 1]):
            if times[s] < max_time:
                step = min(math.floor(times[s] * num_steps / max_time), num_steps - 1)
                keys[lo + m] = np.int64(step) * n_units + units[s]
                m += 1
        keys[lo : lo + m].sort()
        distinct = 0
        for s in range(lo, lo + m):
            if distinct == 0 or keys[s] != keys[lo + distinct - 1]:
                keys[lo + distinct] = keys[s]
                distinct += 1
        counts[b] = distinct


@numba.njit(parallel=True, **JIT)
def _bin_gather(keys, offsets, counts, new_offsets, n_units, steps_out, units_out):
    for b in numba.prange(offsets.size - 1):
        for k in range(counts[b]):
            key = keys[offsets[b] + k]
            steps_out[new_offsets[b] + k] = key // n_units
            units_out[new_offsets[b] + k] = key % n_units


def bin_spike_trains(trains: SpikeTrains, num_steps: int, max_time: float) -> EventBatch:
    """Bin spike times into ``num_steps`` steps over ``[0, max_time)`` seconds.

    ``step = floor(t * num_steps / max_time)`` (float64); spikes at ``t >= max_time`` are dropped; repeated
    (step, unit) pairs of a sample become one event.
    """
    num_steps = check_num_steps(num_steps)
    max_time = check_positive("max_time", max_time)
    n = trains.offsets.size - 1
    times = np.ascontiguousarray(trains.times, dtype=np.float64)
    units = np.ascontiguousarray(trains.units, dtype=np.int64)
    keys = np.empty(times.size, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    _bin_kernel(times, units, trains.offsets, num_steps, max_time, trains.n_units, keys, counts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    steps = np.empty(int(offsets[-1]), dtype=np.int32)
    event_units = np.empty(int(offsets[-1]), dtype=np.int32)
    _bin_gather(keys, trains.offsets, counts, offsets, trains.n_units, steps, event_units)
    return EventBatch(steps, event_units, offsets, num_steps, trains.n_units)
