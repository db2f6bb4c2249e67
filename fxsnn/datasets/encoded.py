"""Encoded data sets: ``encode_dataset(ds, encoder, num_steps)`` turns a split into an EventBatch once.

Encodings are cached in memory and as ``.npz`` files under ``<user cache>/fxsnn/encoded/``, keyed by a hash of
(data set, split, data checksum, encoder, num_steps, and the seed for the rate encoder), so training never
re-encodes per epoch. ``FXSNN_NO_CACHE=1`` (or ``cache=False``) skips the disk cache.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .._files import atomic_write
from ..encode import IMAGE_ENCODERS, EventBatch, encode, normalize_encoder
from ..encode._checks import check_num_steps
from ..errors import UsageError
from .dataset import Dataset
from .locate import cache_root, env_flag
from .registry import default_encoder

__all__ = ["encode_dataset"]


def _encode_uncached(ds: Dataset, encoder: dict, num_steps: int, seed: int) -> EventBatch:
    """Encode ``ds`` without any cache (messages name the data set when the encoder does not fit it)."""
    kind = encoder["kind"]
    if ds.images is None:
        if kind != "bins":
            raise UsageError(
                f"{ds.name} is recorded as spikes; it takes the encoder "
                f"{default_encoder(ds.name, ds.max_time)}, not {kind}"
            )
        return encode(ds.spike_trains, encoder, num_steps)
    if kind not in IMAGE_ENCODERS:
        raise UsageError(f"the {kind} encoder applies to spike data sets (shd) only; {ds.name} is images")
    return encode(ds.images, encoder, num_steps, seed=seed)


_MEMORY_CACHE: OrderedDict[str, EventBatch] = OrderedDict()
_MEMORY_CACHE_SIZE = 6
_CACHE_FORMAT = 1


def _content_fingerprint(ds: Dataset) -> str:
    """``ds.fingerprint``, or for a Dataset built by hand, a SHA-256 of its content."""
    if ds.fingerprint:
        return ds.fingerprint
    digest = hashlib.sha256(np.ascontiguousarray(ds.labels).tobytes())
    if ds.images is not None:
        digest.update(repr(ds.images.shape).encode())
        digest.update(np.ascontiguousarray(ds.images, dtype=np.float64).tobytes())
    if ds.spike_trains is not None:
        for arr in (ds.spike_trains.times, ds.spike_trains.units, ds.spike_trains.offsets):
            digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def _cache_key(ds: Dataset, encoder: dict, num_steps: int, seed: int) -> tuple[str, str]:
    description = {
        "format": _CACHE_FORMAT,
        "dataset": ds.name,
        "split": ds.split,
        "fingerprint": _content_fingerprint(ds),
        "encoder": encoder,
        "num_steps": num_steps,
        # only the rate encoder is random; other encodings are shared across seeds
        "seed": seed if encoder["kind"] == "rate" else None,
    }
    text = json.dumps(description, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest(), text


def _read_cached(path: Path, key_text: str) -> EventBatch | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["key"]) != key_text:
                return None
            return EventBatch(
                npz["steps"], npz["indices"], npz["offsets"], int(npz["num_steps"]), int(npz["num_inputs"])
            )
    except (OSError, KeyError, ValueError, zlib.error, EOFError):
        return None  # unreadable or stale cache entry: encode again and overwrite it


def _write_cached(path: Path, key_text: str, events: EventBatch) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb", suffix=".part") as out:
            np.savez(
                out,
                key=np.array(key_text),
                steps=events.steps,
                indices=events.indices,
                offsets=events.offsets,
                num_steps=np.int64(events.num_steps),
                num_inputs=np.int64(events.num_inputs),
            )
    except OSError:
        pass  # a read-only or full cache only costs speed


def encode_dataset(
    ds: Dataset,
    encoder: dict | None = None,
    num_steps: int | None = None,
    *,
    seed: int = 0,
    cache: bool = True,
) -> EventBatch:
    """Spike events of every sample of ``ds`` (encoded once, then served from the cache).

    Parameters
    ----------
    ds : Dataset
    encoder : dict or None
        ``{"kind": "latency", "tau": 20.0, "threshold": 0.2}`` (default for images),
        ``{"kind": "rate", "max_rate": 0.2}``, or ``{"kind": "bins", "max_time": 1.0}`` (default for SHD).
        Missing parameters take their defaults. See :func:`normalize_encoder`.
    num_steps : int or None
        T; ``None`` uses ``ds.num_steps_hint``.
    seed : int
        Seed of the rate encoder (ignored by the deterministic encoders).
    cache : bool
        Also use the on-disk cache (``<user cache>/fxsnn/encoded``); off when ``FXSNN_NO_CACHE=1``.
        The in-memory cache is always used.

    Returns
    -------
    EventBatch
        ``num_inputs == ds.n_inputs``, ``num_steps == num_steps``, one entry per sample of ``ds`` in order.
    """
    if not isinstance(ds, Dataset):
        raise UsageError(f"encode_dataset needs a Dataset from load_dataset, got {type(ds).__name__}")
    encoder = normalize_encoder(default_encoder(ds.name, ds.max_time) if encoder is None else encoder)
    num_steps = check_num_steps(ds.num_steps_hint if num_steps is None else num_steps)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    if (
        ds.events is not None
        and encoder == {"kind": "bins", "max_time": ds.max_time}
        and (ds.events.num_steps == num_steps)
    ):
        return ds.events
    key, key_text = _cache_key(ds, encoder, num_steps, seed)
    if key in _MEMORY_CACHE:
        _MEMORY_CACHE.move_to_end(key)
        return _MEMORY_CACHE[key]
    use_disk = cache and not env_flag("FXSNN_NO_CACHE")
    path = cache_root() / "encoded" / f"{ds.name}-{ds.split}-{encoder['kind']}-T{num_steps}-{key[:24]}.npz"
    events = _read_cached(path, key_text) if use_disk and path.is_file() else None
    if events is None or events.n_samples != len(ds) or events.num_inputs != ds.n_inputs:
        events = _encode_uncached(ds, encoder, num_steps, seed)
        if use_disk:
            _write_cached(path, key_text, events)
    _MEMORY_CACHE[key] = events
    while len(_MEMORY_CACHE) > _MEMORY_CACHE_SIZE:
        _MEMORY_CACHE.popitem(last=False)
    return events
