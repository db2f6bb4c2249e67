"""Spiking Heidelberg Digits (SHD): ``shd_train.h5`` / ``shd_test.h5`` (or ``.h5.gz``), read with h5py.

700 input units, 20 classes, from ``spikes/times`` (seconds), ``spikes/units`` and ``labels``. Spikes are
already events: they are binned by :func:`fxsnn.encode.bin_spike_trains` (``num_steps`` steps over
``[0, max_time)``, default 100 steps over 1.0 s). SHD is never downloaded (its checksums are not pinned
here); the error says where to get it.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import zlib
from pathlib import Path

import numpy as np

from .._files import atomic_write
from ..encode import BINS_DEFAULTS, SpikeTrains, bin_spike_trains
from ..encode._checks import check_num_steps, check_positive
from ..errors import FxsnnError
from .dataset import Dataset
from .locate import cache_root, describe_missing, not_found, search_locations
from .registry import dataset_info

__all__ = ["load_shd"]

_INFO = dataset_info("shd")


def _shd_file(split: str, data_dir) -> tuple[Path, list[str]]:
    filename = f"shd_{split}.h5"
    notes = []
    for folder, why in search_locations("shd", data_dir):
        for candidate in (folder / filename, folder / (filename + ".gz")):
            if candidate.is_file():
                return candidate, notes
        notes.append(describe_missing(folder, why, []))
    raise not_found("shd", f"{filename}[.gz]", notes, "SHD is not downloaded automatically")


def _gunzip_to_cache(path: Path) -> Path:
    """Decompress ``path`` (``shd_*.h5.gz``) into the user cache once (atomically); returns the .h5 path."""
    dest_dir = cache_root() / "shd"
    dest = dest_dir / path.name[:-3]
    if dest.is_file() and dest.stat().st_mtime >= path.stat().st_mtime:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_write(dest, "wb", suffix=".part") as out, gzip.open(path, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise FxsnnError(
            f"{path}: corrupt or truncated gzip file ({exc}); delete it and fetch it again"
        ) from exc
    return dest


def _read_shd(path: Path) -> tuple[SpikeTrains, np.ndarray, str]:
    import h5py

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise FxsnnError(
            f"{path}: not a readable HDF5 file ({exc}); the file is corrupt or truncated"
        ) from exc
    with h5:
        missing = [key for key in ("spikes/times", "spikes/units", "labels") if key not in h5]
        if missing:
            raise FxsnnError(f"{path}: not in SHD's layout, missing {', '.join(missing)}")
        try:
            times = h5["spikes/times"][()]
            units = h5["spikes/units"][()]
            labels = np.asarray(h5["labels"][()])
        except (OSError, ValueError, TypeError) as exc:
            raise FxsnnError(f"{path}: cannot read SHD arrays ({exc}); the file is corrupt") from exc
    if not (len(times) == len(units) == len(labels)):
        raise FxsnnError(
            f"{path}: spikes/times, spikes/units and labels differ in length "
            f"({len(times)}, {len(units)}, {len(labels)})"
        )
    counts = np.array([np.size(t) for t in times], dtype=np.int64)
    unit_counts = np.array([np.size(u) for u in units], dtype=np.int64)
    if (counts != unit_counts).any():
        b = int(np.flatnonzero(counts != unit_counts)[0])
        raise FxsnnError(f"{path}: sample {b} has {counts[b]} spike times but {unit_counts[b]} units")
    offsets = np.zeros(len(times) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat_times = (
        np.concatenate([np.asarray(t, dtype=np.float64).ravel() for t in times])
        if len(times)
        else np.zeros(0)
    )
    flat_units = np.concatenate([np.asarray(u).ravel() for u in units]) if len(units) else np.zeros(0)
    if flat_times.size and (not np.isfinite(flat_times).all() or flat_times.min() < 0):
        raise FxsnnError(f"{path}: spike times must be finite and >= 0 seconds")
    if flat_units.size and (flat_units.min() < 0 or flat_units.max() >= _INFO.n_inputs):
        raise FxsnnError(
            f"{path}: spike units must be in 0..{_INFO.n_inputs - 1}, found {int(flat_units.max())}"
        )
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= _INFO.n_classes)):
        raise FxsnnError(f"{path}: labels must be a 1-D array of classes 0..{_INFO.n_classes - 1}")
    trains = SpikeTrains(flat_times, flat_units.astype(np.int32), offsets, _INFO.n_inputs)
    return trains, labels.astype(np.int64), digest.hexdigest()


def load_shd(split, data_dir, num_steps, max_time) -> Dataset:
    """The SHD split, binned into ``num_steps`` steps over ``[0, max_time)`` s (defaults 100 and 1.0)."""
    num_steps = check_num_steps(_INFO.num_steps_hint if num_steps is None else num_steps)
    max_time = check_positive("max_time", BINS_DEFAULTS["max_time"] if max_time is None else max_time)
    path, _ = _shd_file(split, data_dir)
    h5_path = _gunzip_to_cache(path) if path.name.endswith(".gz") else path
    trains, labels, digest = _read_shd(h5_path)
    return Dataset(
        name="shd",
        split=split,
        labels=labels,
        n_classes=_INFO.n_classes,
        n_inputs=_INFO.n_inputs,
        num_steps_hint=num_steps,
        images=None,
        events=bin_spike_trains(trains, num_steps, max_time),
        fingerprint=hashlib.sha256(f"shd:{split}:{digest}".encode()).hexdigest(),
        source=str(path),
        spike_trains=trains,
        max_time=max_time,
    )
