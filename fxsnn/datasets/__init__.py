"""Data sets: ``load_dataset(name, split)`` returns a :class:`Dataset`; ``encode_dataset`` its events.

- :mod:`~fxsnn.datasets.registry`: the known data sets (``digits``, ``fmnist``, ``mnist``, ``shd``) and every
  fact about each (sizes, folders, official URLs and checksums, default encoder);
- :mod:`~fxsnn.datasets.digits`: scikit-learn's 8x8 digits, the embedded default (no download);
- :mod:`~fxsnn.datasets.idx`: MNIST and Fashion-MNIST idx files, parsed strictly and checksummed;
- :mod:`~fxsnn.datasets.shd`: Spiking Heidelberg Digits (HDF5);
- :mod:`~fxsnn.datasets.locate`: where files are searched (``--data-dir``, ``FXSNN_DATA_DIR``, user cache);
- :mod:`~fxsnn.datasets.download`: downloads of the official files, checked against their SHA-256;
- :mod:`~fxsnn.datasets.encoded`: :func:`encode_dataset` and its encoding cache.

Environment variables: ``FXSNN_DATA_DIR`` (where the data lives), ``FXSNN_OFFLINE=1`` (never download;
``download=True`` still does), ``FXSNN_NO_CACHE=1`` (no on-disk encoding cache), ``XDG_CACHE_HOME`` (moves the
user cache).
"""

from __future__ import annotations

from ..errors import UsageError
from .dataset import Dataset
from .digits import load_digits
from .encoded import encode_dataset
from .idx import load_idx_dataset
from .locate import cache_root
from .registry import DATASETS, SPLITS, DatasetInfo, check_split, dataset_info, default_encoder
from .shd import load_shd

__all__ = [
    "DATASETS",
    "SPLITS",
    "Dataset",
    "DatasetInfo",
    "cache_root",
    "dataset_info",
    "default_encoder",
    "encode_dataset",
    "load_dataset",
]


def load_dataset(
    name: str,
    split: str = "train",
    *,
    data_dir=None,
    download: bool | None = None,
    num_steps: int | None = None,
    max_time: float | None = None,
    progress: bool | None = None,
) -> Dataset:
    """Load one split of a data set.

    Parameters
    ----------
    name : str
        One of :data:`~fxsnn.datasets.registry.DATASETS`: ``"digits"``, ``"fmnist"``, ``"mnist"``, ``"shd"``.
    split : str
        ``"train"`` or ``"test"``.
    data_dir : path-like, optional
        Searched first (the CLI's ``--data-dir``); see :mod:`fxsnn.datasets.locate` for the full search order.
    download : bool or None
        Whether missing MNIST / Fashion-MNIST files may be downloaded into the user cache. ``None``: yes,
        unless the environment variable ``FXSNN_OFFLINE=1``.
    num_steps, max_time : optional
        SHD only: bin spikes over ``[0, max_time)`` seconds (default 1.0) into ``num_steps`` steps
        (default 100). :func:`encode_dataset` can re-bin with other values later.
    progress : bool or None
        Download progress bar on stderr; ``None`` shows it only when stderr is a terminal.

    Raises
    ------
    FxsnnError
        When the files are missing (naming every place searched and how to fix it), corrupt, or truncated.
    UsageError
        For an unknown data set or split, or bad SHD binning parameters.
    """
    info = dataset_info(name)
    check_split(split)
    if not info.recorded and (num_steps is not None or max_time is not None):
        raise UsageError(f"num_steps and max_time apply to SHD only; {name} is encoded by encode_dataset")
    if name == "digits":
        return load_digits(split)
    if name == "shd":
        return load_shd(split, data_dir, num_steps, max_time)
    return load_idx_dataset(name, split, data_dir, download, progress)
