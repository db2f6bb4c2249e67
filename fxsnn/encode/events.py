"""The event batch every encoder produces and every implementation consumes.

The emulator, training and the hardware testbenches all take an :class:`EventBatch`: for each sample a list
of (step, input index) events, sorted by step then index, each pair at most once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EventBatch"]


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
