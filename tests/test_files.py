"""atomic_write: the one way fxsnn writes an output file, all or nothing."""

from __future__ import annotations

import stat

import pytest

from fxsnn._files import atomic_write


def test_complete_block_replaces_the_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with atomic_write(path, "wb", sync=True) as handle:
        handle.write(b"new contents")
    assert path.read_bytes() == b"new contents"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failed_block_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(type(error)):
        with atomic_write(path, "w") as handle:
            handle.write("half")
            raise error
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_missing_folder_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "no" / "such" / "file", "w") as handle:
            handle.write("x")
