"""One split of a data set, as every loader returns it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..encode import EventBatch, SpikeTrains

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a data set.

    Attributes
    ----------
    name, split : str
        ``name`` in :data:`DATASETS`; ``split`` is ``"train"`` or ``"test"``.
    labels : ndarray of int64, shape (n,)
    n_classes, n_inputs : int
    num_steps_hint : int
        The number of steps the data set is usually run with (the paper's T = 100 for images; the
        binning ``num_steps`` for SHD).
    images : ndarray of float64, shape (n, n_inputs), values in [0, 1]; ``None`` for SHD.
    events : EventBatch or None
        SHD's spikes binned into ``num_steps_hint`` steps; ``None`` for image data sets (use
        :func:`encode_dataset`).
    fingerprint : str
        SHA-256 identifying the data (used in cache keys); if empty, :func:`encode_dataset` hashes the
        content instead.
    source : str
        Where the data came from (file paths, or the scikit-learn loader).
    spike_trains : SpikeTrains or None
        SHD's raw spike times, for re-binning with another ``num_steps``.
    max_time : float or None
        SHD: the binning window of ``events`` in seconds.
    """

    name: str
    split: str
    labels: np.ndarray
    n_classes: int
    n_inputs: int
    num_steps_hint: int
    images: np.ndarray | None
    events: EventBatch | None
    fingerprint: str = ""
    source: str = ""
    spike_trains: SpikeTrains | None = None
    max_time: float | None = None

    def __post_init__(self):
        for field in ("labels", "images"):
            arr = getattr(self, field)
            if arr is not None:
                arr.flags.writeable = False

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_samples(self) -> int:
        return len(self)
