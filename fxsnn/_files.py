"""Writing files all or nothing: every output fxsnn writes (models, traces, checkpoints, caches, Verilog)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", *, suffix: str = ".tmp", sync: bool = False):
    """Yield a file handle whose contents replace ``path`` only if the ``with`` block completes.

    The data goes to a temporary file beside ``path`` (same folder, so the final ``os.replace`` is atomic);
    on any exception, including KeyboardInterrupt, the temporary file is removed and ``path`` is untouched.
    ``sync=True`` also flushes the data to disk before the rename. The file gets mode 0644 (``mkstemp``
    alone would leave it 0600).
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
