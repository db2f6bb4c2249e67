"""numba options shared by every fxsnn kernel, and the on-disk cache that follows every fxsnn source.

Kernels inline helpers from other modules (``inline="always"``: :mod:`fxsnn._arith`, :mod:`fxsnn._step`).
numba's on-disk cache normally checks only the caller's own source file, so an edit to a helper would leave
callers running stale code from the cache; :class:`_PackageCacheLocator` therefore stamps every fxsnn
kernel's cache entry with the state of every fxsnn source that uses numba (every ``.py`` file below the
package folder, subpackages included, whose text mentions numba): an edit to any kernel or helper
recompiles, an edit to a command or a report does not.
"""

from __future__ import annotations

import hashlib
import os

import numba.core.caching

__all__ = ["JIT"]

#: numba options for every fxsnn kernel (used with njit, so never object mode): cached on disk, GIL released.
JIT = {"nogil": True, "cache": True}


class _PackageCacheLocator(numba.core.caching.InTreeCacheLocator):
    """numba's in-tree cache (``__pycache__``) for fxsnn kernels, invalidated by any fxsnn source's edit."""

    _package_dir = os.path.dirname(os.path.abspath(__file__))
    _package_stamp = None

    @classmethod
    def _inside_package(cls, py_file) -> bool:
        path = os.path.abspath(py_file)
        return os.path.commonpath([path, cls._package_dir]) == cls._package_dir

    @classmethod
    def from_function(cls, py_func, py_file):
        if numba.config.CACHE_DIR or not cls._inside_package(py_file):
            return None  # NUMBA_CACHE_DIR set, or not an fxsnn kernel: numba's own locators decide
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        if _PackageCacheLocator._package_stamp is None:
            entries = []
            for folder, subfolders, files in os.walk(self._package_dir):
                subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
                for name in sorted(files):
                    path = os.path.join(folder, name)
                    if name.endswith(".py") and _uses_numba(path):
                        st = os.stat(path)
                        entries.append((os.path.relpath(path, self._package_dir), st.st_mtime_ns, st.st_size))
            _PackageCacheLocator._package_stamp = hashlib.sha256(repr(entries).encode()).hexdigest()
        return (super().get_source_stamp(), _PackageCacheLocator._package_stamp)


def _uses_numba(path: str) -> bool:
    """Whether the source file at ``path`` mentions numba (it defines or inlines kernels)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "numba" in handle.read()


if _PackageCacheLocator not in numba.core.caching.CacheImpl._locator_classes:
    numba.core.caching.CacheImpl._locator_classes.insert(0, _PackageCacheLocator)
