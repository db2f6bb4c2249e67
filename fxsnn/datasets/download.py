"""Downloads of the official data set files into the user cache, checked against their SHA-256."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import FxsnnError
from .locate import cache_root, env_flag
from .registry import IDX_PREFIX, dataset_info

__all__ = ["download_allowed", "download_idx"]


def download_allowed(download) -> bool:
    """``download`` if given, else whether the environment allows it (``FXSNN_OFFLINE`` unset)."""
    if download is None:
        return not env_flag("FXSNN_OFFLINE")
    return bool(download)


def _download(url: str, dest: Path, sha256: str, progress) -> None:
    """Download ``url`` to ``dest`` atomically (temp file + rename) if its SHA-256 is ``sha256``."""
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = response.headers.get("Content-Length")
            with tqdm(
                total=int(total) if total and total.isdigit() else None,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                file=sys.stderr,
                disable=None if progress is None else not progress,
                leave=False,
            ) as bar:
                while True:
                    chunk = response.read(1 << 16)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        got = digest.hexdigest()
        if got != sha256:
            raise FxsnnError(
                f"{url}: checksum mismatch (SHA-256 {got}, expected {sha256}); download discarded"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_idx(name: str, split: str, progress) -> Path:
    """Download the split's two files into the user cache; returns that folder. Raises FxsnnError."""
    folder = cache_root() / name
    info = dataset_info(name)
    prefix = IDX_PREFIX[split]
    for kind in ("images-idx3", "labels-idx1"):
        filename = f"{prefix}-{kind}-ubyte.gz"
        dest = folder / filename
        if dest.is_file():
            continue
        failures = []
        for base in info.urls:
            url = base + filename
            try:
                _download(url, dest, info.gz_sha256[filename], progress)
                break
            except FxsnnError as exc:
                failures.append(str(exc))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                http_error = isinstance(exc, urllib.error.HTTPError)
                reason = exc if http_error else getattr(exc, "reason", None) or exc
                if http_error:
                    exc.close()  # an HTTPError holds the open response
                failures.append(f"{url}: {reason}")
        else:
            raise FxsnnError("; ".join(failures))
    return folder
