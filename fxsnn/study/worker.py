"""What a Dask worker does for one run: train, analyse, and hand the finished files back to the client.

The worker writes nothing into the sweep folder: it trains in a private temporary folder, reads the run's
files into memory and returns them (a few hundred kB), and the client, the one writer of the sweep folder,
puts them in place (:mod:`fxsnn.study.records`). Workers therefore need fxsnn and the data, not a shared
file system.

The encoded data set is prepared once per worker process and kept (:func:`training_data`): consecutive runs
with the same data settings (the plan submits trial by trial, so runs of one seed come together) reuse it.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import tempfile
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
from distributed import get_worker

from fxsnn._version import __version__
from fxsnn.training import TrainConfig, TrainingData, load_training_data, train

from .activity import DEFAULT_SAMPLES
from .identity import run_identity
from .run_analysis import analyse_run

__all__ = ["RunTask", "RunOutcome", "execute_run", "training_data", "RUN_FILES", "config_toml"]

#: The files of a finished run folder, in the order they are written.
RUN_FILES = ("model.fxsnn", "history.jsonl", "analysis.json", "config.toml", "run.json")
#: Data sets kept per worker process (each is a full encoded training and test set).
_DATA_CACHE_SIZE = 2
_DATA_CACHE: OrderedDict = OrderedDict()
#: The config keys :func:`fxsnn.training.load_training_data` reads.
_DATA_KEYS = ("dataset", "data_dir", "encoder", "steps", "train_samples", "test_samples", "seed")


@dataclass(frozen=True)
class RunTask:
    """One run as submitted to a worker."""

    run_id: str
    config: TrainConfig
    axes: dict
    trial: int
    samples: int = DEFAULT_SAMPLES
    metric: str = "discrete"
    tau: float = 1.0


@dataclass
class RunOutcome:
    """What a worker returns: the finished files, or the error."""

    run_id: str
    record: dict
    files: dict = field(default_factory=dict)
    error: str | None = None


def training_data(config: TrainConfig) -> tuple[TrainingData, bool]:
    """The encoded data of ``config``, from this process's cache when it is there: ``(data, cached)``."""
    key = json.dumps({k: getattr(config, k) for k in _DATA_KEYS}, sort_keys=True)
    if key in _DATA_CACHE:
        _DATA_CACHE.move_to_end(key)
        return _DATA_CACHE[key], True
    data = load_training_data(config)
    _DATA_CACHE[key] = data
    while len(_DATA_CACHE) > _DATA_CACHE_SIZE:
        _DATA_CACHE.popitem(last=False)
    return data, False


def config_toml(config: TrainConfig, run_id: str) -> str:
    """The run's settings as a ``fxsnn train --config`` file (no output folder, threads or data location)."""
    settings = {}
    for key, value in config.to_dict().items():
        if value is None or key in ("out", "threads", "data_dir"):
            continue
        settings["float" if key == "float_mode" else key] = value
    header = f"# run {run_id}: `fxsnn train --config config.toml --out DIR` repeats it\n"
    return header + tomli_w.dumps(settings)


def _worker_name() -> str:
    try:
        return str(get_worker().name)
    except ValueError:  # not inside a Dask worker (tests, a plain call)
        return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def execute_run(task: RunTask) -> RunOutcome:
    """Train and analyse one run; never raises for a failing run (the outcome carries the error)."""
    started = time.perf_counter()
    record = {
        "id": task.run_id,
        "axes": task.axes,
        "trial": task.trial,
        "identity": run_identity(task.config),
        "worker": _worker_name(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": _now(),
        "fxsnn_version": __version__,
    }
    scratch = Path(tempfile.mkdtemp(prefix=f"fxsnn-run-{task.run_id}-"))
    try:
        t0 = time.perf_counter()
        data, cached = training_data(task.config)
        record["data_seconds"] = round(time.perf_counter() - t0, 3)
        record["data_cached"] = cached
        t0 = time.perf_counter()
        summary = train(task.config, scratch, data=data, progress=False)
        record["train_seconds"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        analysis = analyse_run(
            task.config, data, scratch, samples=task.samples, metric=task.metric, tau=task.tau
        )
        record["analysis_seconds"] = round(time.perf_counter() - t0, 3)
        record["summary"] = {k: v for k, v in summary.items() if k not in ("model", "last_model", "history")}
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["finished"] = _now()
        files = {
            "model.fxsnn": (scratch / "model.fxsnn").read_bytes(),
            "history.jsonl": (scratch / "history.jsonl").read_bytes(),
            "analysis.json": (json.dumps(analysis, indent=1) + "\n").encode(),
            "config.toml": config_toml(task.config, task.run_id).encode(),
            "run.json": (json.dumps(record, indent=1) + "\n").encode(),
        }
        return RunOutcome(task.run_id, record, files)
    except Exception as exc:  # a failing run is recorded and the sweep goes on
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["finished"] = _now()
        record["traceback"] = traceback.format_exc()
        return RunOutcome(task.run_id, record, error=f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
