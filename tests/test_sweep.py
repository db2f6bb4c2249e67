"""fxsnn sweep on real Dask clusters: a local cluster of 2 workers, an external `dask scheduler` and
`dask worker` on loopback, failures, and resume after SIGKILL of the client and of a worker (nothing finished
lost, nothing duplicated, never half a run)."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from fxsnn.study.plan import load_sweep
from fxsnn.study.records import SweepFolder
from fxsnn.study.worker import RUN_FILES, RunTask, execute_run

FXSNN = str(Path(sys.executable).parent / "fxsnn")
#: Tiny digits runs: one epoch on 300 samples, a few seconds each with the kernels compiled.
SMOKE = """
trials = {trials}
[base]
dataset = "digits"
weight_range = [0.25, 2.0]
epochs = 1
batch_size = 32
train_samples = 300
test_samples = 100
[axes]
ratio = [0.5, 0.8]
s1 = {s1}
"""


@pytest.fixture(scope="module", autouse=True)
def compiled_kernels(tmp_path_factory):
    """Compile (or load) the numba kernels once in this process, so the workers load them from the cache."""
    path = tmp_path_factory.mktemp("warm") / "warm.toml"
    path.write_text(SMOKE.format(trials=1, s1="[0.05]"))
    run = load_sweep(path).runs[0]
    outcome = execute_run(
        RunTask(run.id, dataclasses.replace(run.config, threads=1), run.axes, 0, samples=20)
    )
    assert outcome.error is None, outcome.record.get("traceback")


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FXSNN_DATA_DIR"}
    env.update({"XDG_CACHE_HOME": str(tmp_path / "cache"), "FXSNN_OFFLINE": "1"})
    return env


def _sweep(tmp_path, *args, timeout=900):
    proc = subprocess.run(
        [FXSNN, "sweep", *map(str, args), "--samples", "50", "--json"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=timeout,
        check=False,
    )
    summary = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc, summary


def _write(tmp_path, name, text) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _check_folders(out: Path) -> dict:
    """Every run folder complete and readable; returns {id: run.json mtime}."""
    folders = {}
    for entry in (out / "runs").iterdir():
        if entry.name.startswith(".incoming-"):
            continue
        assert sorted(p.name for p in entry.iterdir()) == sorted(RUN_FILES), entry
        record = json.loads((entry / "run.json").read_text())
        assert record["id"] == entry.name
        json.loads((entry / "analysis.json").read_text())
        assert (entry / "model.fxsnn").stat().st_size > 1000
        folders[entry.name] = (entry / "run.json").stat().st_mtime_ns
    return folders


def _results(out: Path) -> list:
    with open(out / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_local_cluster_two_workers_resume_failures_and_changes(tmp_path):
    sweep = _write(
        tmp_path,
        "smoke.toml",
        SMOKE.format(trials=1, s1="[0.02, 0.1]") + '[[runs]]\nratio = 0.8\ndataset = "shd"\n',
    )  # SHD is never downloaded and not on this machine: this run fails
    out = tmp_path / "out"
    empty = tmp_path / "no-data"
    empty.mkdir()
    proc, summary = _sweep(tmp_path, sweep, "--out", out, "--workers", 2, "--data-dir", empty)
    assert proc.returncode == 1, proc.stderr  # one run failed
    assert summary["planned"] == 5 and summary["done"] == 4 and summary["failed"] == 1
    assert summary["workers"] == 2 and summary["ran"] == 4 and summary["failed_now"] == 1
    assert "dashboard" in summary
    folders = _check_folders(out)
    assert len(folders) == 4
    rows = _results(out)
    assert [row["status"] for row in rows].count("done") == 4
    failed = [row for row in rows if row["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["dataset"] == "shd" and "SHD (shd) not found" in failed[0]["error"]
    record = json.loads(next((out / "failed").glob("*.json")).read_text())
    assert "Traceback" in record["traceback"]
    plan = json.loads((out / "sweep.json").read_text())
    assert {run["id"] for run in plan["runs"]} == set(folders) | {failed[0]["id"]}
    for row in rows:
        if row["status"] == "done":
            analysis = json.loads((out / "runs" / row["id"] / "analysis.json").read_text())
            assert float(row["peak_accuracy"]) == analysis["accuracy"]["peak"]
            assert analysis["before"]["samples"] == 50
    workers = {json.loads((out / "runs" / i / "run.json").read_text())["worker"] for i in folders}
    assert workers <= {"0", "1"}

    # the same command again: nothing reruns, the failure stays (exit 1) until --retry-failed
    proc, summary = _sweep(tmp_path, sweep, "--out", out, "--workers", 2, "--data-dir", empty)
    assert proc.returncode == 1 and summary["ran"] == 0 and summary["finished_before"] == 4
    assert _check_folders(out) == folders
    proc, summary = _sweep(
        tmp_path, sweep, "--out", out, "--workers", 1, "--data-dir", empty, "--retry-failed"
    )
    assert proc.returncode == 1 and summary["ran"] == 0 and summary["failed_now"] == 1

    # a changed file: the new runs are added, the old ones kept by id
    changed = _write(tmp_path, "changed.toml", SMOKE.format(trials=1, s1="[0.02, 0.1, 0.3]"))
    proc, summary = _sweep(tmp_path, changed, "--out", out, "--workers", 2)
    assert proc.returncode == 0, proc.stderr
    assert summary["planned"] == 6 and summary["finished_before"] == 4 and summary["ran"] == 2
    now = _check_folders(out)
    assert len(now) == 6 and all(now[i] == mtime for i, mtime in folders.items())
    rows = _results(out)
    assert len(rows) == 7 and sum(row["in_plan"] == "False" for row in rows) == 1  # the SHD failure


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(*procs):
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_external_scheduler_and_worker(tmp_path):
    """The docs' hand-started cluster, on loopback: `dask scheduler` + `dask worker`, then --scheduler."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**_env(tmp_path), "NUMBA_NUM_THREADS": "1"}
    logs = [open(tmp_path / name, "w") for name in ("scheduler.log", "worker.log")]
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dask",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        env=env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dask",
            "worker",
            address,
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--no-dashboard",
        ],
        env=env,
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    try:
        sweep = _write(tmp_path, "smoke.toml", SMOKE.format(trials=1, s1="[0.02, 0.1]"))
        deadline = time.monotonic() + 120
        while True:  # wait for both workers (the sweep would also start with one)
            probe = subprocess.run(
                [sys.executable, "-c", _COUNT_WORKERS, address],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
            if probe.stdout.strip() == "2":
                break
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(1)
        out = tmp_path / "out"
        proc, summary = _sweep(tmp_path, sweep, "--out", out, "--scheduler", address)
        assert proc.returncode == 0, proc.stderr
        assert summary["done"] == 4 and summary["workers"] == 2 and summary["scheduler"] == address
        assert len(_check_folders(out)) == 4
        proc, _ = _sweep(tmp_path, sweep, "--out", out, "--scheduler", address, "--workers", 2)
        assert proc.returncode == 2 and "--workers starts a local cluster" in proc.stderr
    finally:
        _stop(worker, scheduler)
        for log in logs:
            log.close()
    proc, _ = _sweep(tmp_path, sweep, "--out", tmp_path / "out2", "--scheduler", address)
    assert proc.returncode == 1 and f"cannot reach the Dask scheduler at '{address}'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


_COUNT_WORKERS = """
import sys
from distributed import Client
with Client(sys.argv[1], timeout=30) as client:
    print(len(client.scheduler_info(n_workers=-1)["workers"]))
"""


def _start(tmp_path, sweep, out, workers=2):
    log = open(tmp_path / "client.log", "w")
    proc = subprocess.Popen(
        [FXSNN, "sweep", str(sweep), "--out", str(out), "--workers", str(workers), "--samples", "50"],
        env=_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, log


def _wait_for_runs(out: Path, n: int, proc, timeout=900):
    deadline = time.monotonic() + timeout
    while len(SweepFolder(out).finished_ids()) < n:
        assert proc.poll() is None, "the sweep ended before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.slow
def test_resume_after_sigkill_of_the_client(tmp_path):
    sweep = _write(tmp_path, "smoke.toml", SMOKE.format(trials=3, s1="[0.02, 0.1]"))  # 12 runs
    out = tmp_path / "out"
    proc, log = _start(tmp_path, sweep, out)
    try:
        _wait_for_runs(out, 3, proc)
        family = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(family, timeout=30)  # a local cluster's workers go with their client
        assert not alive, [p.cmdline() for p in alive]
    finally:
        with_group = proc.poll() is None
        if with_group:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    before = _check_folders(out)
    assert 3 <= len(before) < 12
    proc, summary = _sweep(tmp_path, sweep, "--out", out, "--workers", 2)
    assert proc.returncode == 0, proc.stderr
    assert summary["finished_before"] == len(before) and summary["ran"] == 12 - len(before)
    after = _check_folders(out)
    assert len(after) == 12 and all(after[i] == mtime for i, mtime in before.items())
    assert not list((out / "runs").glob(".incoming-*"))
    assert len(_results(out)) == 12


@pytest.mark.slow
def test_resume_after_a_killed_worker(tmp_path):
    sweep = _write(tmp_path, "smoke.toml", SMOKE.format(trials=2, s1="[0.02, 0.1]"))  # 8 runs
    out = tmp_path / "out"
    proc, log = _start(tmp_path, sweep, out)
    try:
        _wait_for_runs(out, 1, proc)
        workers = [
            p
            for p in psutil.Process(proc.pid).children(recursive=True)
            if "spawn_main" in " ".join(p.cmdline()) and "resource_tracker" not in " ".join(p.cmdline())
        ]
        assert len(workers) == 2
        workers[0].send_signal(signal.SIGKILL)  # mid-run: both workers are busy while runs are queued
        assert proc.wait(timeout=300) == 0, (tmp_path / "client.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    folders = _check_folders(out)
    assert len(folders) == 8 and not list((out / "failed").iterdir())
    rows = _results(out)
    assert len(rows) == 8 and {row["status"] for row in rows} == {"done"}
    assert len({row["id"] for row in rows}) == 8
