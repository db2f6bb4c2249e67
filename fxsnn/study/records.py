"""The sweep folder: finished run folders that appear only when complete, failure records, the plan.

Layout of ``DIR``::

    sweep.json            the resolved plan of the last invocation (fxsnn.study.plan.SweepPlan.to_dict)
    runs/<id>/            a finished run: model.fxsnn, history.jsonl, analysis.json, config.toml, run.json
    failed/<id>.json      a failed run: its record with the error and traceback
    results.csv           one row per run folder and failure (fxsnn.study.results)
    .lock                 held (flock) by the one client writing the folder

A run folder is written as ``runs/.incoming-<id>-<pid>/`` (every file flushed to disk) and renamed to
``runs/<id>/`` in one step, so a folder named by an id is always complete: a client killed mid-write leaves
only an ``.incoming-*`` folder, which the next client removes. A run is never renamed over an existing
folder, so a run id has at most one folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
from pathlib import Path

from fxsnn._files import atomic_write
from fxsnn.errors import FxsnnError, UsageError

from .identity import RUN_ID_LENGTH

__all__ = ["SweepFolder", "SweepLockedError"]

_ID = re.compile(rf"^[0-9a-f]{{{RUN_ID_LENGTH}}}$")
_INCOMING = ".incoming-"


class SweepLockedError(FxsnnError):
    """Another client is writing the same sweep folder."""


class SweepFolder:
    """The sweep folder ``DIR`` (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)
        self.runs = self.path / "runs"
        self.failed = self.path / "failed"
        self.plan_path = self.path / "sweep.json"
        self.results_path = self.path / "results.csv"

    # ------------------------------------------------------------------ setup
    def create(self) -> None:
        """Create the folders (``UsageError`` when ``DIR`` cannot be a sweep folder)."""
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"--out {str(self.path)!r} is a file, not a folder")
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            self.failed.mkdir(exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the sweep folder {str(self.path)!r}: {exc.strerror}") from None

    @contextlib.contextmanager
    def lock(self):
        """Hold the folder's lock for the ``with`` block (released by the kernel if the process dies)."""
        handle = open(self.path / ".lock", "a")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise SweepLockedError(
                        f"another fxsnn sweep is writing {str(self.path)!r}; wait for it or stop it first"
                    ) from None
                raise
            yield self
        finally:
            handle.close()

    def remove_incomplete(self) -> int:
        """Remove run folders left half-written by a killed client; returns how many."""
        removed = 0
        for entry in self.runs.glob(_INCOMING + "*"):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        return removed

    # ------------------------------------------------------------------ the plan
    def write_plan(self, plan_dict: dict) -> None:
        with atomic_write(self.plan_path, "w") as handle:
            json.dump(plan_dict, handle, indent=1)
            handle.write("\n")

    def read_plan(self) -> dict | None:
        try:
            return json.loads(self.plan_path.read_text())
        except FileNotFoundError:
            return None

    # ------------------------------------------------------------------ runs
    def finished_ids(self) -> set:
        """Ids of the complete run folders."""
        if not self.runs.is_dir():
            return set()
        return {entry.name for entry in self.runs.iterdir() if _ID.match(entry.name) and entry.is_dir()}

    def failed_ids(self) -> set:
        """Ids with a failure record and no finished folder."""
        if not self.failed.is_dir():
            return set()
        failed = {entry.stem for entry in self.failed.glob("*.json") if _ID.match(entry.stem)}
        return failed - self.finished_ids()

    def commit_run(self, run_id: str, files: dict) -> bool:
        """Put a finished run's files in place as ``runs/<id>/``, all at once.

        Returns False (and writes nothing) when the run already has a folder. A failure record of the run,
        from an earlier attempt, is removed once the folder is in place.
        """
        final = self.runs / run_id
        if final.exists():
            return False
        incoming = self.runs / f"{_INCOMING}{run_id}-{os.getpid()}"
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir()
        try:
            for name, content in files.items():
                with open(incoming / name, "wb") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
            os.chmod(incoming, 0o755)
            os.rename(incoming, final)  # atomic; fails if another folder took the name meanwhile
        except OSError as exc:
            shutil.rmtree(incoming, ignore_errors=True)
            if final.exists():
                return False
            raise FxsnnError(f"cannot write the run folder {str(final)!r}: {exc.strerror}") from None
        _fsync_dir(self.runs)
        with contextlib.suppress(FileNotFoundError):
            (self.failed / f"{run_id}.json").unlink()
        return True

    def record_failure(self, run_id: str, record: dict) -> None:
        with atomic_write(self.failed / f"{run_id}.json", "w") as handle:
            json.dump(record, handle, indent=1)
            handle.write("\n")

    def run_records(self):
        """Yield ``(run_id, record, analysis)`` for every finished run folder (sorted by id)."""
        for run_id in sorted(self.finished_ids()):
            folder = self.runs / run_id
            record = json.loads((folder / "run.json").read_text())
            analysis = json.loads((folder / "analysis.json").read_text())
            yield run_id, record, analysis

    def failure_records(self):
        """Yield ``(run_id, record)`` for every failed run without a finished folder (sorted by id)."""
        for run_id in sorted(self.failed_ids()):
            yield run_id, json.loads((self.failed / f"{run_id}.json").read_text())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
