"""Running a sweep: what is left to do, the Dask tasks, the progress bar, failures, the summary.

Resume is by run id: a run whose folder exists is done and never submitted again, so running the same
command again continues where it stopped, and a changed sweep file adds the runs whose settings are new.
A failed run keeps its failure record and is skipped (and the sweep's exit status stays non-zero) until
``retry_failed`` reruns it. The client is the only writer of the sweep folder (it holds the folder's
lock), and writes a run's folder in one rename once the worker has returned it: killing the client or a
worker loses at most the runs in flight.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import time
from pathlib import Path

from distributed import as_completed
from tqdm import tqdm

from .activity import DEFAULT_SAMPLES
from .cluster import open_client
from .identity import run_identity
from .plan import SweepPlan
from .records import SweepFolder
from .results import write_results
from .worker import RunTask, execute_run

__all__ = ["run_sweep"]

_POLL_S = 0.5
_RUNNING_REFRESH_S = 2.0


def run_sweep(
    plan: SweepPlan,
    out_dir,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retry_failed: bool = False,
    data_dir: str | None = None,
    samples: int = DEFAULT_SAMPLES,
    metric: str = "discrete",
    progress: bool | None = None,
) -> dict:
    """Run the runs of ``plan`` that ``out_dir`` does not hold yet; returns the summary (``--json``).

    Parameters
    ----------
    plan : SweepPlan
    out_dir : path-like
        The sweep folder (:mod:`fxsnn.study.records`).
    workers, scheduler
        A local cluster of ``workers`` processes (default: the cores), or the scheduler at ``scheduler``.
    retry_failed : bool
        Also rerun the runs that failed before.
    data_dir : str or None
        Where the workers find the data sets (put into every run's settings; not part of its id).
    samples, metric
        Activity analysis of every run (:func:`fxsnn.study.run_analysis.analyse_run`).
    progress : bool or None
        Progress bar on stderr (None: when stderr is a terminal; otherwise one line per finished run).
    """
    folder = SweepFolder(out_dir)
    folder.create()
    started = time.perf_counter()
    with folder.lock(), _sigterm_as_interrupt():
        removed = folder.remove_incomplete()
        folder.write_plan(plan.to_dict())
        finished = folder.finished_ids()
        failed_before = folder.failed_ids()
        todo = [
            run
            for run in plan.runs
            if run.id not in finished and (retry_failed or run.id not in failed_before)
        ]
        planned = {run.id for run in plan.runs}
        counts = {"ran": 0, "failed": 0, "cluster_start_seconds": 0.0}
        cluster_info = {"scheduler": None, "dashboard": None, "workers": 0, "local": scheduler is None}
        try:
            if todo:
                t0 = time.perf_counter()
                with open_client(workers, scheduler) as (client, cluster_info):
                    counts["cluster_start_seconds"] = time.perf_counter() - t0
                    before = (len(finished & planned), len(failed_before & planned))
                    _say(_header(plan, *before, todo, retry_failed, cluster_info))
                    tasks = [
                        RunTask(
                            run.id,
                            _worker_config(run.config, data_dir),
                            run.axes,
                            run.trial,
                            samples=samples,
                            metric=metric,
                        )
                        for run in todo
                    ]
                    _execute(client, tasks, folder, counts, progress)
        finally:
            write_results(folder)
        done = folder.finished_ids() & planned
        failed = folder.failed_ids() & planned
    wall = time.perf_counter() - started
    return {
        "out": str(Path(out_dir)),
        "sweep": plan.source,
        "scale": plan.scale,
        "planned": len(plan.runs),
        "done": len(done),
        "failed": len(failed),
        "remaining": len(planned - done - failed),
        "finished_before": len(finished & planned),
        "ran": counts["ran"],
        "failed_now": counts["failed"],
        "wall_seconds": round(wall, 2),
        "cluster_start_seconds": round(counts["cluster_start_seconds"], 2),
        "runs_per_hour": round(counts["ran"] * 3600.0 / wall, 1) if counts["ran"] else 0.0,
        "workers": cluster_info["workers"],
        "scheduler": cluster_info["scheduler"],
        "dashboard": cluster_info["dashboard"],
        "results": str(folder.results_path),
        "removed_incomplete": removed,
    }


def _worker_config(config, data_dir: str | None):
    """The run's settings as a worker trains them: one numba thread, the data location of the sweep."""
    return dataclasses.replace(config, data_dir=data_dir or config.data_dir, threads=1)


def _execute(client, tasks: list, folder: SweepFolder, counts: dict, progress: bool | None) -> None:
    futures = {}
    for task in tasks:  # submission order = plan order (trial by trial): the scheduler keeps it
        future = client.submit(execute_run, task, key=f"fxsnn-run-{task.run_id}", retries=0)
        futures[future.key] = (future, task)
    queue = as_completed([future for future, _ in futures.values()])
    bar = tqdm(
        total=len(tasks),
        desc="sweep",
        unit="run",
        file=sys.stderr,
        dynamic_ncols=True,
        disable=not progress if progress is not None else None,
    )
    plain = bar.disable
    running, last_refresh = 0, 0.0
    try:
        while not queue.is_empty():
            if not queue.has_ready():
                now = time.monotonic()
                if now - last_refresh >= _RUNNING_REFRESH_S:
                    running = _running(client, futures)
                    last_refresh = now
                    bar.set_postfix_str(_postfix(counts, running))
                time.sleep(_POLL_S)
                continue
            for future in queue.next_batch(block=False):
                _, task = futures.pop(future.key)
                status = _finish(future, task, folder)
                counts["ran" if status == "done" else "failed"] += 1
                future.release()
                running = max(0, running - 1)
                bar.update(1)
                bar.set_postfix_str(_postfix(counts, running))
                if plain:
                    finished = counts["ran"] + counts["failed"]
                    _say(f"sweep: [{finished}/{len(tasks)}] run {task.run_id} {status}")
    except BaseException:
        for future, _ in futures.values():
            future.cancel()
        raise
    finally:
        bar.close()


def _finish(future, task: RunTask, folder: SweepFolder) -> str:
    """Record one completed task: its run folder, or its failure. Returns ``"done"`` or ``"failed"``."""
    if future.status == "finished":
        outcome = future.result()
        if outcome.error is None:
            folder.commit_run(task.run_id, outcome.files)
            return "done"
        folder.record_failure(task.run_id, {**outcome.record, "error": outcome.error})
        return "failed"
    exc = future.exception() if future.status == "error" else None
    error = f"{type(exc).__name__}: {exc}" if exc is not None else f"task {future.status} by the cluster"
    record = {
        "id": task.run_id,
        "axes": task.axes,
        "trial": task.trial,
        "identity": run_identity(task.config),
        "worker": None,
        "seconds": None,
        "error": error,
    }
    folder.record_failure(task.run_id, record)
    return "failed"


def _running(client, futures: dict) -> int:
    try:
        processing = client.processing()
    except (OSError, TimeoutError):
        return 0
    return sum(1 for keys in processing.values() for key in keys if key in futures)


def _postfix(counts: dict, running: int) -> str:
    return f"done {counts['ran']}, failed {counts['failed']}, running {running}"


def _header(plan, finished: int, failed: int, todo: list, retry: bool, info: dict) -> str:
    scale = f", scale {plan.scale}" if plan.scale else ""
    text = f"sweep: {len(plan.runs)} runs planned ({plan.source}{scale}), {finished} done before, "
    if failed:
        text += f"{failed} failed before ({'rerun' if retry else 'skipped: --retry-failed reruns them'}), "
    where = "local workers" if info["local"] else f"workers at {info['scheduler']}"
    text += f"{len(todo)} to run on {info['workers']} {where}"
    if info["dashboard"]:
        text += f"\nsweep: Dask dashboard at {info['dashboard']}"
    return text


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM stops the sweep as Ctrl-C does (cancel, close the cluster, rebuild results.csv)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
