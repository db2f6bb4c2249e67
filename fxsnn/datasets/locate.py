"""Where a data set's files are looked for, and the message when they are found nowhere.

Search order (the first folder holding every file needed wins):

1. ``data_dir`` (the CLI's ``--data-dir``), and its subfolders for the data set (``DatasetInfo.subdirs``);
2. each folder in the environment variable ``FXSNN_DATA_DIR`` (``os.pathsep``-separated), and its subfolders;
3. the user cache ``$XDG_CACHE_HOME/fxsnn/<name>`` (default ``~/.cache/fxsnn/<name>``), where downloads go;
4. the folders of the data set's system package (``DatasetInfo.system_dirs``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import FxsnnError
from .registry import dataset_info

__all__ = ["cache_root", "env_flag", "search_locations", "find_file", "describe_missing", "not_found"]


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/fxsnn`` (default ``~/.cache/fxsnn``): downloads and encoded data sets live here."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fxsnn"


def search_locations(name: str, data_dir) -> list[tuple[Path, str]]:
    """Candidate folders for data set ``name`` with a note saying where each comes from, in search order."""
    info = dataset_info(name)
    places: list[tuple[Path, str]] = []
    bases: list[tuple[Path, str]] = []
    if data_dir is not None and str(data_dir) != "":
        bases.append((Path(data_dir).expanduser(), "data_dir / --data-dir"))
    for entry in os.environ.get("FXSNN_DATA_DIR", "").split(os.pathsep):
        if entry.strip():
            bases.append((Path(entry.strip()).expanduser(), "FXSNN_DATA_DIR"))
    for base, why in bases:
        places.append((base, why))
        for sub in info.subdirs:
            places.append((base / sub, why))
    places.append((cache_root() / name, "user cache"))
    for path in info.system_dirs:
        places.append((path, f"system package {info.system_package}"))
    return places


def find_file(folder: Path, stems: tuple[str, ...]) -> Path | None:
    """The first of ``stem.gz`` / ``stem`` for each stem that exists in ``folder``."""
    for stem in stems:
        for candidate in (folder / (stem + ".gz"), folder / stem):
            if candidate.is_file():
                return candidate
    return None


def describe_missing(folder: Path, why: str, found: list[Path]) -> str:
    """One searched folder, and why it did not do."""
    if not folder.is_dir():
        return f"{folder} ({why}: no such folder)"
    if found:
        return f"{folder} ({why}: incomplete, has only {', '.join(p.name for p in found)})"
    return f"{folder} ({why}: files absent)"


def not_found(
    name: str, wanted: str, notes: list[str], download_note: str, tried: bool = False
) -> FxsnnError:
    """The error for data set ``name`` found nowhere: every place searched, and every way to fix it."""
    info = dataset_info(name)
    first = info.subdirs[0] if info.subdirs else name
    fixes = (
        "pass --data-dir DIR (a folder holding the files, or holding a "
        f"{first}/ subfolder) or set FXSNN_DATA_DIR=DIR"
    )
    if info.urls:
        fixes += (
            ", or retry when online"
            if tried
            else ", or allow the download (download=True, or unset FXSNN_OFFLINE)"
        )
    if info.system_package:
        folders = ", ".join(str(p) for p in info.system_dirs)
        fixes += f", or `apt-get install {info.system_package}` (installs {folders})"
    if not info.urls and info.home:
        fixes += f"; {info.title} is available from {info.home}"
    return FxsnnError(
        f"{info.title} ({name}) not found: looked for {wanted} in "
        + "; ".join(notes)
        + f". {download_note}. To fix: {fixes}"
    )
