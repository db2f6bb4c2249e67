"""MNIST and Fashion-MNIST from their idx files (gzip-compressed or raw), parsed strictly.

Every idx file is parsed strictly (gzip stream, magic number, dtype, dimensions, exact length, label range).
A file whose dimensions are those of the official release must also match the official content's SHA-256
(:mod:`fxsnn.datasets.registry`); other files (e.g. subsets) are accepted on the structural checks alone.
Every failure names the file. File names: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (optionally ``.gz``; the ``train-images.idx3-ubyte``
spelling is accepted too).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import FxsnnError
from .dataset import Dataset
from .download import download_allowed, download_idx
from .locate import cache_root, describe_missing, find_file, not_found, search_locations
from .registry import IDX_PREFIX, OFFICIAL_IDX_DIMS, dataset_info

__all__ = ["read_bytes", "load_idx_dataset"]


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is a gzip file (detected by its magic bytes)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise FxsnnError(
            f"{path}: corrupt or truncated gzip file ({exc}); delete it and download it again"
        ) from exc
    except OSError as exc:
        raise FxsnnError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def _parse_idx(path: Path, content: bytes, ndim: int) -> np.ndarray:
    """Parse an idx file of unsigned bytes with ``ndim`` dimensions, checking magic number and length."""
    if len(content) < 4:
        raise FxsnnError(f"{path}: not an idx file (only {len(content)} bytes); the file is truncated")
    if content[0] != 0 or content[1] != 0 or content[2] != 0x08:
        raise FxsnnError(
            f"{path}: not an idx file of unsigned bytes (magic number 0x{content[:4].hex()}, "
            f"expected 0x000008{ndim:02x}); the file is corrupt or not what its name says"
        )
    if content[3] != ndim:
        raise FxsnnError(
            f"{path}: idx file has {content[3]} dimensions, expected {ndim} (magic 0x{content[:4].hex()}, "
            f"expected 0x000008{ndim:02x}); images and labels swapped, or a corrupt file"
        )
    header = 4 + 4 * ndim
    if len(content) < header:
        raise FxsnnError(f"{path}: idx header is truncated ({len(content)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", content[4:header])
    expected = header + math.prod(dims)
    if len(content) != expected:
        what = "truncated" if len(content) < expected else "longer than its header says"
        raise FxsnnError(
            f"{path}: idx file is {what}: header says {'x'.join(map(str, dims))} "
            f"({expected} bytes in all), the file has {len(content)} bytes"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims)


def _stem_of(path: Path) -> str:
    """The canonical name (``train-images-idx3-ubyte``) of an idx file path."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name.replace("images.idx", "images-idx").replace("labels.idx", "labels-idx")


def _load_idx(name: str, path: Path, ndim: int) -> tuple[np.ndarray, str]:
    """Parsed array and content SHA-256 of one idx file; official-sized files must match the official hash."""
    content = read_bytes(path)
    array = _parse_idx(path, content, ndim)
    digest = hashlib.sha256(content).hexdigest()
    stem = _stem_of(path)
    info = dataset_info(name)
    if array.shape == OFFICIAL_IDX_DIMS.get(stem):
        official = info.content_sha256[stem]
        if digest != official:
            raise FxsnnError(
                f"{path}: checksum mismatch: it has the size of the official {info.title} file, but its "
                f"content SHA-256 is {digest}, expected {official}; the file is corrupt or from another "
                f"data set: delete it (a fresh copy is downloaded into {cache_root() / name} when online)"
            )
    return array, digest


def _load_idx_split(name: str, split: str, images_path: Path, labels_path: Path) -> Dataset:
    images, images_sha = _load_idx(name, images_path, 3)
    labels, labels_sha = _load_idx(name, labels_path, 1)
    if images.shape[0] != labels.shape[0]:
        raise FxsnnError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels; "
            "the two files do not belong together"
        )
    if labels.size and labels.max() >= 10:
        raise FxsnnError(
            f"{labels_path}: label {int(labels.max())} is out of range 0..9; the file is corrupt"
        )
    n = images.shape[0]
    pixels = images.reshape(n, -1).astype(np.float64)
    pixels /= 255.0
    fingerprint = hashlib.sha256(f"{name}:{images_sha}:{labels_sha}".encode()).hexdigest()
    return Dataset(
        name=name,
        split=split,
        labels=labels.astype(np.int64),
        n_classes=dataset_info(name).n_classes,
        n_inputs=pixels.shape[1],
        num_steps_hint=dataset_info(name).num_steps_hint,
        images=pixels,
        events=None,
        fingerprint=fingerprint,
        source=f"{images_path}, {labels_path}",
    )


def load_idx_dataset(name, split, data_dir, download, progress) -> Dataset:
    prefix = IDX_PREFIX[split]
    image_stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte")
    label_stems = (f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte")
    notes = []
    for folder, why in search_locations(name, data_dir):
        images_path = find_file(folder, image_stems)
        labels_path = find_file(folder, label_stems)
        if images_path is not None and labels_path is not None:
            return _load_idx_split(name, split, images_path, labels_path)
        notes.append(describe_missing(folder, why, [p for p in (images_path, labels_path) if p]))
    wanted = f"{image_stems[0]}[.gz] and {label_stems[0]}[.gz]"
    if not download_allowed(download):
        why = "download=False" if download is False else "FXSNN_OFFLINE is set"
        raise not_found(name, wanted, notes, f"Download is off ({why})")
    try:
        folder = download_idx(name, split, progress)
    except FxsnnError as exc:
        raise not_found(
            name, wanted, notes, f"Download into {cache_root() / name} failed: {exc}", True
        ) from exc
    return _load_idx_split(name, split, folder / f"{image_stems[0]}.gz", folder / f"{label_stems[0]}.gz")
