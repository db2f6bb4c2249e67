"""``fxsnn sweep FILE --out DIR``: a study of many training runs on Dask (docs/sweeps.md).

The sweep file (:mod:`fxsnn.study.plan`) is validated completely before anything starts. Runs go to a local
cluster of worker processes (``--workers``, default the cores) or to an existing Dask scheduler
(``--scheduler``); each finished run appears as ``DIR/runs/<id>/`` and ``DIR/results.csv`` is rebuilt from
them. Running the same command again resumes (:mod:`fxsnn.study.runner`). The exit status is 1 when any
planned run has failed.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..analysis import VAN_ROSSUM_METRICS
from ..errors import UsageError
from ..study.activity import DEFAULT_SAMPLES
from ..study.plan import load_sweep
from ..study.runner import run_sweep

__all__ = ["register", "run", "render", "exit_status"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a study (a sweep file of many trainings) on Dask, resumable",
        description="Run every training of a sweep file on a Dask cluster, analyse each run (accuracy, E/I "
        "rates, Van Rossum distances before and after training) and collect DIR/results.csv. Running the "
        "same command again resumes.",
    )
    parser.add_argument(
        "file", metavar="FILE", help="sweep file (TOML), e.g. configs/paper/fmnist_noise.toml"
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="sweep folder (created; reused to resume)"
    )
    parser.add_argument("--scale", metavar="NAME", help="a [scale.NAME] of the file (e.g. small, smoke)")
    parser.add_argument(
        "--workers", type=int, metavar="N", help="local worker processes (default: the cores)"
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, tcp://HOST:PORT")
    parser.add_argument("--retry-failed", action="store_true", help="rerun the runs that failed before")
    parser.add_argument(
        "--data-dir", metavar="DIR", help="where the workers find the data sets (default: $FXSNN_DATA_DIR)"
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"training samples of each run's activity analysis (default {DEFAULT_SAMPLES})",
    )
    parser.add_argument(
        "--metric", choices=VAN_ROSSUM_METRICS, default="discrete", help="Van Rossum distance (discrete)"
    )
    parser.add_argument("--progress", action="store_true", default=None, help="force the progress bar on")
    parser.set_defaults(run=run, render=render, exit_status=exit_status)


def run(args) -> dict:
    if args.samples < 1:
        raise UsageError(f"--samples must be at least 1, not {args.samples}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, not {args.workers}")
    if args.workers is not None and args.scheduler is not None:
        raise UsageError("--workers starts a local cluster; with --scheduler the cluster's workers are used")
    data_dir = args.data_dir or os.environ.get("FXSNN_DATA_DIR") or None
    if data_dir is not None:
        if not Path(data_dir).is_dir():
            source = "--data-dir" if args.data_dir else "FXSNN_DATA_DIR"
            raise UsageError(f"{source} {data_dir!r} is not a folder")
        data_dir = str(Path(data_dir).resolve())
    plan = load_sweep(args.file, args.scale)
    return run_sweep(
        plan,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        retry_failed=args.retry_failed,
        data_dir=data_dir,
        samples=args.samples,
        metric=args.metric,
        progress=args.progress,
    )


def exit_status(result: dict) -> int:
    """1 when any planned run has failed (the summary is printed all the same)."""
    return 1 if result["failed"] else 0


def render(result: dict) -> str:
    lines = [
        f"sweep {result['sweep']}"
        + (f" (scale {result['scale']})" if result["scale"] else "")
        + f": {result['done']} of {result['planned']} runs done, {result['failed']} failed, "
        f"{result['remaining']} remaining",
        f"this time: {result['ran']} runs in {result['wall_seconds']:.1f} s "
        f"({result['runs_per_hour']:.1f} runs/hour on {result['workers']} workers), "
        f"{result['finished_before']} done before",
        f"results: {result['results']}",
    ]
    if result["failed"]:
        lines.append(f"failed runs: {result['out']}/failed/ (rerun them with --retry-failed)")
    return "\n".join(lines)
