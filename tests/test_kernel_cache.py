"""numba's disk cache of fxsnn kernels follows every fxsnn source, not only the kernel's own file."""

from __future__ import annotations

import os

import numba.core.caching

from fxsnn import _jit, emulator
from fxsnn._jit import _PackageCacheLocator


def test_fxsnn_kernels_use_the_package_locator():
    assert numba.core.caching.CacheImpl._locator_classes[0] is _PackageCacheLocator
    locator = emulator._batch_kernel._cache._impl.locator
    assert isinstance(locator, _PackageCacheLocator)
    # A function outside the package is left to numba's own locators.
    assert _PackageCacheLocator.from_function(test_fxsnn_kernels_use_the_package_locator,
                                              os.path.abspath(__file__)) is None


def test_editing_any_numba_source_changes_every_kernel_stamp(tmp_path, monkeypatch):
    """A helper that kernels inline (it uses numba) is part of every kernel's stamp; a module without numba
    (a command, a report) is not, so editing it recompiles nothing."""
    kernel_file = tmp_path / "kernels.py"
    helper_file = tmp_path / "helpers.py"
    command_file = tmp_path / "sub" / "command.py"
    kernel_file.write_text("import numba\n\ndef kernel():\n    return 1\n")
    helper_file.write_text("import numba\nX = 1\n")
    command_file.parent.mkdir()
    command_file.write_text("Y = 1\n")
    monkeypatch.setattr(_PackageCacheLocator, "_package_dir", str(tmp_path))
    monkeypatch.setattr(_PackageCacheLocator, "_package_stamp", None)
    namespace = {}
    exec(compile(kernel_file.read_text(), str(kernel_file), "exec"), namespace)
    locator = _PackageCacheLocator.from_function(namespace["kernel"], str(kernel_file))
    before = locator.get_source_stamp()
    command_file.write_text("Y = 22\n")
    monkeypatch.setattr(_PackageCacheLocator, "_package_stamp", None)  # a new process
    assert locator.get_source_stamp() == before
    helper_file.write_text("import numba\nX = 22\n")  # the kernel's own file is untouched
    monkeypatch.setattr(_PackageCacheLocator, "_package_stamp", None)
    after = locator.get_source_stamp()
    assert before[0] == after[0] and before[1] != after[1]
    assert _jit.JIT["cache"] is True
