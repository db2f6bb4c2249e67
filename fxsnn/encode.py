"""Input encoders: images (floats in [0, 1]) to spike events, and the event batch they produce.

The emulator, training and the hardware testbenches all consume an :class:`EventBatch`: for each sample
a list of (step, input index) events, sorted by step then index, each pair at most once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EventBatch", "latency_encode", "LATENCY_DEFAULTS"]

#: The paper's time-to-first-spike parameters (PAPER.md, "Input encoding").
LATENCY_DEFAULTS = {"tau": 20.0, "threshold": 0.2}


@dataclass(frozen=True, eq=False)
class EventBatch:
    """Input spike events of a batch of samples, in CSR form.

    Sample ``b`` owns events ``offsets[b] : offsets[b + 1]`` of ``steps`` and ``indices``; within a sample
    they are sorted by step, then by index, and no (step, index) pair repeats.
    """

    steps: np.ndarray  # int32, (n_events,)
    indices: np.ndarray  # int32, (n_events,)
    offsets: np.ndarray  # int64, (n_samples + 1,)
    num_steps: int
    num_inputs: int

    def __post_init__(self):
        steps = np.ascontiguousarray(self.steps, dtype=np.int32)
        indices = np.ascontiguousarray(self.indices, dtype=np.int32)
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if steps.ndim != 1 or steps.shape != indices.shape:
            raise ValueError(
                f"steps and indices must be 1-D and equal in length, got {steps.shape} and {indices.shape}"
            )
        if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or offsets[-1] != steps.size:
            raise ValueError("offsets must start at 0 and end at the number of events")
        if (np.diff(offsets) < 0).any():
            raise ValueError("offsets must be non-decreasing")
        if steps.size:
            if steps.min() < 0 or steps.max() >= self.num_steps:
                raise ValueError(f"event steps must be in [0, {self.num_steps - 1}]")
            if indices.min() < 0 or indices.max() >= self.num_inputs:
                raise ValueError(f"event indices must be in [0, {self.num_inputs - 1}]")
            key = steps.astype(np.int64) * self.num_inputs + indices
            boundary = np.zeros(steps.size, dtype=bool)
            boundary[offsets[1:-1][offsets[1:-1] < steps.size]] = True
            order_ok = (np.diff(key) > 0) | boundary[1:]
            if not order_ok.all():
                e = int(np.flatnonzero(~order_ok)[0]) + 1
                raise ValueError(
                    f"events must be sorted by (step, index) with no repeats within a sample; "
                    f"event {e} (step={steps[e]}, index={indices[e]}) breaks this"
                )
        for name, arr in (("steps", steps), ("indices", indices), ("offsets", offsets)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    @property
    def n_samples(self) -> int:
        return self.offsets.size - 1

    def __len__(self) -> int:
        return self.n_samples

    def sample(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, indices)`` of sample ``b``."""
        lo, hi = self.offsets[b], self.offsets[b + 1]
        return self.steps[lo:hi], self.indices[lo:hi]

    def select(self, which) -> EventBatch:
        """A new batch made of the samples ``which`` (indices or a slice), in that order."""
        which = (
            np.arange(self.n_samples)[which]
            if isinstance(which, slice)
            else np.asarray(which, dtype=np.int64)
        )
        counts = self.offsets[which + 1] - self.offsets[which]
        offsets = np.zeros(which.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        take = (
            np.concatenate([np.arange(self.offsets[b], self.offsets[b + 1]) for b in which])
            if which.size
            else np.zeros(0, np.int64)
        )
        return EventBatch(self.steps[take], self.indices[take], offsets, self.num_steps, self.num_inputs)

    @classmethod
    def from_dense(cls, spikes: np.ndarray) -> EventBatch:
        """From a 0/1 array of shape (n_samples, num_steps, num_inputs)."""
        spikes = np.asarray(spikes)
        if spikes.ndim != 3:
            raise ValueError(f"dense spikes must have shape (samples, steps, inputs), got {spikes.shape}")
        b, t, i = np.nonzero(spikes)  # C order: sorted by sample, step, index
        offsets = np.zeros(spikes.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(b, minlength=spikes.shape[0]), out=offsets[1:])
        return cls(t, i, offsets, spikes.shape[1], spikes.shape[2])

    def to_dense(self) -> np.ndarray:
        """0/1 uint8 array of shape (n_samples, num_steps, num_inputs)."""
        dense = np.zeros((self.n_samples, self.num_steps, self.num_inputs), dtype=np.uint8)
        sample_of = np.repeat(np.arange(self.n_samples), np.diff(self.offsets))
        dense[sample_of, self.steps, self.indices] = 1
        return dense


def latency_times(
    images: np.ndarray, num_steps: int, tau: float = 20.0, threshold: float = 0.2
) -> np.ndarray:
    """Spike step of every pixel (int32), or ``-1`` where the pixel never spikes.

    PAPER.md: a pixel x in [0, 1] below ``threshold`` never spikes; otherwise it spikes once at
    ``t = floor(tau * ln(x / (x - threshold)))``, clipped to ``num_steps - 1`` (x == threshold gives an
    infinite time, so it also lands on the last step). Brighter pixels spike earlier.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.size and (np.nanmin(x) < 0.0 or np.nanmax(x) > 1.0 or np.isnan(x).any()):
        raise ValueError("latency encoding needs pixel values in [0, 1]")
    if tau <= 0 or not 0.0 < threshold < 1.0:
        raise ValueError(
            f"latency encoding needs tau > 0 and 0 < threshold < 1, got tau={tau!r}, threshold={threshold!r}"
        )
    spikes = x >= threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        t = tau * np.log(x / (x - threshold))
    t = np.where(np.isfinite(t), t, num_steps - 1)
    t = np.minimum(np.floor(t), num_steps - 1)
    return np.where(spikes, t, -1).astype(np.int32)


def latency_encode(
    images: np.ndarray, num_steps: int = 100, tau: float = 20.0, threshold: float = 0.2
) -> EventBatch:
    """Time-to-first-spike encoding of ``images`` (n_samples, n_pixels) in [0, 1] (PAPER.md).

    Returns an :class:`EventBatch` with at most one event per pixel.
    """
    images = np.asarray(images)
    if images.ndim != 2:
        raise ValueError(f"images must be (samples, pixels), got shape {images.shape}")
    times = latency_times(images, num_steps, tau, threshold)
    n, p = times.shape
    sample, pixel = np.nonzero(times >= 0)
    step = times[sample, pixel]
    # np.nonzero gives (sample, pixel) order; one stable sort on (sample, step) then keeps pixels ascending
    # within a step, the EventBatch order, at a fraction of a three-key lexsort's cost.
    order = np.argsort(sample.astype(np.int64) * num_steps + step, kind="stable")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sample, minlength=n), out=offsets[1:])
    return EventBatch(step[order], pixel[order], offsets, num_steps, p)
