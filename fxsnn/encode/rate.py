"""Bernoulli rate coding of images, reproducible from a seed whatever the number of threads.

Every (sample, input) pair draws one 53-bit uniform integer per step from its own splitmix64 stream, seeded
by (seed, sample index, input index); the input spikes at that step when the draw is below
``x * max_rate * 2**53``. Two passes over the same streams (count, then fill) write the events in
(step, input) order without sorting.
"""

from __future__ import annotations

import numba
import numpy as np

from .._jit import JIT
from ._checks import check_num_steps, check_positive
from .events import EventBatch

__all__ = ["RATE_DEFAULTS", "rate_encode"]

#: Default of the rate encoder: spike probability per step of an input at x = 1.
RATE_DEFAULTS = {"max_rate": 0.2}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(inline="always", **JIT)
def _mix64(z):
    """splitmix64's output function (a bijective 64-bit mixer)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always", **JIT)
def _stream_start(seed, sample, pixel):
    """Start state of the random stream of one (seed, sample, input): streams never depend on threads."""
    z = _mix64(np.uint64(seed) + _GOLDEN)
    z = _mix64(z ^ (np.uint64(sample) + _GOLDEN))
    return _mix64(z ^ (np.uint64(pixel) * _GOLDEN + np.uint64(1)))


@numba.njit(inline="always", **JIT)
def _rate_threshold(prob):
    """Spike iff a 53-bit uniform integer is below this: probability floor(prob * 2^53) / 2^53."""
    return np.uint64(prob * 9007199254740992.0)


@numba.njit(parallel=True, **JIT)
def _rate_count(prob, num_steps, seed, step_counts):
    """Pass 1: ``step_counts[b, t]`` = number of inputs of sample ``b`` spiking at step ``t``."""
    n, p = prob.shape
    for b in numba.prange(n):
        for i in range(p):
            if prob[b, i] > 0.0:
                threshold = _rate_threshold(prob[b, i])
                state = _stream_start(seed, b, i)
                for t in range(num_steps):
                    state = state + _GOLDEN
                    if (_mix64(state) >> np.uint64(11)) < threshold:
                        step_counts[b, t] += 1


@numba.njit(parallel=True, **JIT)
def _rate_fill(prob, num_steps, seed, step_counts, offsets, steps_out, indices_out):
    """Pass 2: the same streams again, each event written to its slot: a counting sort over steps, inputs
    visited in increasing order, so events end up sorted by (step, input)."""
    n, p = prob.shape
    for b in numba.prange(n):
        slot = np.empty(num_steps, dtype=np.int64)
        next_free = offsets[b]
        for t in range(num_steps):
            slot[t] = next_free
            next_free += step_counts[b, t]
        for i in range(p):
            if prob[b, i] > 0.0:
                threshold = _rate_threshold(prob[b, i])
                state = _stream_start(seed, b, i)
                for t in range(num_steps):
                    state = state + _GOLDEN
                    if (_mix64(state) >> np.uint64(11)) < threshold:
                        steps_out[slot[t]] = t
                        indices_out[slot[t]] = i
                        slot[t] += 1


def rate_encode(images: np.ndarray, num_steps: int, max_rate: float, seed: int = 0) -> EventBatch:
    """Bernoulli rate coding: input ``i`` of a sample spikes in each step independently with probability
    ``images[:, i] * max_rate``.

    Deterministic given ``seed``, whatever the number of threads: every (sample, input) pair draws one
    53-bit uniform per step from its own splitmix64 stream, seeded by (seed, sample index, input index);
    the input spikes when the draw is below ``x * max_rate * 2^53``. Inputs at 0 draw nothing.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2:
        raise ValueError(f"images must be (samples, pixels), got shape {images.shape}")
    if images.size and (np.isnan(images).any() or images.min() < 0.0 or images.max() > 1.0):
        raise ValueError("rate encoding needs pixel values in [0, 1]")
    num_steps = check_num_steps(num_steps)
    max_rate = check_positive("max_rate", max_rate)
    if max_rate > 1.0:
        raise ValueError(f"max_rate is a spike probability per step, in (0, 1]; got {max_rate!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    prob = np.ascontiguousarray(np.minimum(images * max_rate, 1.0))
    n, p = prob.shape
    step_counts = np.zeros((n, num_steps), dtype=np.int32)
    _rate_count(prob, num_steps, int(seed), step_counts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(step_counts.sum(axis=1, dtype=np.int64), out=offsets[1:])
    steps = np.empty(int(offsets[-1]), dtype=np.int32)
    indices = np.empty(int(offsets[-1]), dtype=np.int32)
    _rate_fill(prob, num_steps, int(seed), step_counts, offsets, steps, indices)
    return EventBatch(steps, indices, offsets, num_steps, p)
