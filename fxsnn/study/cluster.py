"""The Dask cluster a sweep runs on: a local cluster of worker processes, or an existing scheduler.

Local: ``N`` worker processes (default: the machine's cores), one thread each, ``NUMBA_NUM_THREADS=1`` in
every worker. A run is a long chain of small batches whose numba kernels would otherwise each start a thread
per core: ``N`` workers times ``N`` numba threads oversubscribe the cores, and one run per core with one
thread is the fastest way through many runs. Each worker gets an equal share of the memory.

The variable must be in a worker's environment before the process starts: a spawned worker imports the
parent's main module, and so ``fxsnn`` and numba, before Dask applies a Nanny's ``env``; numba would then
size its pool from the cores and refuse the later change ("Cannot set NUMBA_NUM_THREADS ... once the threads
have been launched"). So it goes through Dask's ``distributed.nanny.pre-spawn-environ``, which sets it in
this process just before each spawn; this process's own value is put back once the workers are up.

Existing (``--scheduler tcp://HOST:PORT``): ``dask scheduler`` with ``dask worker`` processes started by
hand, or dask-jobqueue's SLURMCluster (docs/sweeps.md). Those workers should be started with
``--nthreads 1`` and ``NUMBA_NUM_THREADS=1`` likewise; every run also caps numba to one thread itself.
"""

from __future__ import annotations

import contextlib
import logging
import os

import dask
from distributed import Client, LocalCluster

from fxsnn.errors import FxsnnError, UsageError

__all__ = ["open_client", "ClusterError", "WORKER_ENV"]

#: Environment of every local worker process (see the module docstring for why).
WORKER_ENV = {"NUMBA_NUM_THREADS": "1"}
_CONNECT_TIMEOUT_S = 15


class ClusterError(FxsnnError):
    """The Dask cluster cannot be started or reached."""


def default_workers() -> int:
    """The machine's cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def open_client(workers: int | None = None, scheduler: str | None = None):
    """Yield ``(client, description)``: a Dask client on a new local cluster, or on ``scheduler``.

    ``description`` is ``{"scheduler": address, "dashboard": URL or None, "workers": n, "local": bool}``.
    """
    if scheduler is not None and workers is not None:
        raise UsageError("--workers starts a local cluster; with --scheduler the cluster's workers are used")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    # the scheduler's and workers' own log lines would break the progress bar; errors still show
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler is None:
        n = workers or default_workers()
        try:
            with _worker_environment():
                cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port: several sweeps (or users) on one machine
                    scheduler_port=0,
                    silence_logs=logging.ERROR,
                )
        except (OSError, RuntimeError) as exc:
            raise ClusterError(f"cannot start a local Dask cluster of {n} workers: {exc}") from None
        with cluster, Client(cluster) as client:
            yield client, _describe(client, local=True)
        return
    try:
        client = Client(scheduler, timeout=_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {scheduler!r} ({type(exc).__name__}: {exc}); start it with "
            "`dask scheduler` (and workers with `dask worker ADDRESS`) or check the address"
        ) from None
    with client:
        yield client, _describe(client, local=False)


@contextlib.contextmanager
def _worker_environment():
    """:data:`WORKER_ENV` in the environment of the worker processes started inside the block."""
    previous = {name: os.environ.get(name) for name in WORKER_ENV}
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", default={}), **WORKER_ENV}
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _describe(client: Client, local: bool) -> dict:
    info = client.scheduler_info(n_workers=-1)
    try:
        dashboard = client.dashboard_link
    except (KeyError, AttributeError):
        dashboard = None
    if dashboard is not None and "services" in info and "dashboard" not in info["services"]:
        dashboard = None  # no dashboard running (bokeh missing on the scheduler)
    return {
        "scheduler": client.scheduler.address,
        "dashboard": dashboard,
        "workers": len(info.get("workers", {})),
        "local": local,
    }
