"""Sweep throughput: runs per hour with 1 and 2 workers, Dask's overhead per run, memory per worker, and the
estimated wall time of the full Fashion-MNIST studies here and on 32 workers (docs/sweeps.md).

Runs a sample of the paper's Fashion-MNIST runs, shortened (``--epochs``, ``--train-samples``,
``--test-samples``), on a local cluster of 1 and then 2 workers. Per worker count it reports:

- runs per hour (finished runs over the wall time of the sweep, cluster start excluded);
- Dask's overhead per run: ``(wall * workers - sum of the runs' own seconds) / runs``, as a share of the
  mean run (the goal is at most 2 %); it counts scheduling, moving the finished files to the client and
  writing them, and with several workers the idle tail when fewer runs are left than workers (so use many
  more runs than workers). Starting the cluster and importing fxsnn on the workers are not counted;
- the peak memory (max RSS) of each worker process.

Then, from the per-sample training and test times inside the measured runs (``history.jsonl``), the time of
one full-size run (60,000 training samples x 30 epochs, 10,000 test samples each epoch) and the wall time
of the full ``fmnist_init_rate`` and ``fmnist_noise`` studies on this machine (its 2-worker throughput) and
on 32 workers (each as fast as one worker here, plus the measured overhead per run).

    FXSNN_DATA_DIR=/path/to/data python bench/sweep_throughput.py --json

The first runs of each worker load the numba cache (compiled once beforehand by a warm-up run in this
process) and encode the data set once; both are counted, as in a real sweep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ROOT / "configs" / "paper"
FULL_STUDIES = ("fmnist_init_rate.toml", "fmnist_noise.toml")


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def _import_worker_code() -> None:
    import fxsnn.study.worker  # noqa: F401


def _sample_plan(args):
    """Runs spread evenly over the cells (ratio x s1) of the init-rate study's first trial, shortened."""
    from fxsnn.study.plan import load_sweep, parse_sweep

    full = load_sweep(PRESETS / "fmnist_init_rate.toml")
    cells = [run for run in full.runs if run.trial == 0]
    step = max(1, len(cells) // args.runs)
    picked = cells[::step][: args.runs]
    runs = [{"ratio": run.config.ratio, "s1": run.config.s1, "seed": run.config.seed} for run in picked]
    base = {
        key: value
        for key, value in full.runs[0].config.to_dict().items()
        if key
        in ("dataset", "hidden", "steps", "weight_bits", "weight_range", "optimizer", "lr", "batch_size")
    }
    base.update(epochs=args.epochs, train_samples=args.train_samples, test_samples=args.test_samples)
    return parse_sweep({"base": base, "runs": runs}, source="bench/sweep_throughput.py")


def _measure(plan, n_workers: int, data_dir, samples: int) -> dict:
    from fxsnn.study.cluster import open_client
    from fxsnn.study.records import SweepFolder
    from fxsnn.study.runner import run_sweep

    with tempfile.TemporaryDirectory(prefix="fxsnn-bench-sweep-") as tmp:
        t0 = time.perf_counter()
        with open_client(n_workers) as (client, info):
            client.run(_import_worker_code)  # worker start-up is not Dask's per-run overhead
            start = time.perf_counter() - t0
            summary = run_sweep(
                plan, tmp, scheduler=info["scheduler"], data_dir=data_dir, samples=samples, progress=False
            )
            memory = client.run(_max_rss_mb)
        records = [record for _, record, _ in SweepFolder(tmp).run_records()]
        histories = {
            record["id"]: [
                json.loads(line) for line in (Path(tmp) / "runs" / record["id"] / "history.jsonl").open()
            ]
            for record in records
        }
    if summary["failed"]:
        raise SystemExit(f"{summary['failed']} bench runs failed; see the sweep's failed/ records")
    run_seconds = [record["seconds"] for record in records]
    wall = summary["wall_seconds"]
    overhead = (wall * n_workers - sum(run_seconds)) / len(records)
    return {
        "workers": n_workers,
        "runs": len(records),
        "cluster_start_seconds": round(start, 2),
        "wall_seconds": wall,
        "runs_per_hour": round(len(records) * 3600.0 / wall, 1),
        "mean_run_seconds": round(statistics.fmean(run_seconds), 3),
        "overhead_seconds_per_run": round(overhead, 3),
        "overhead_share": round(overhead / statistics.fmean(run_seconds), 4),
        "worker_max_rss_mb": sorted(round(v, 1) for v in memory.values()),
        "per_sample": _per_sample(records, histories),
    }


def _per_sample(records, histories) -> dict:
    """Seconds per training sample (one update's share) and per test sample (evaluation), and the rest."""
    train, test, analysis = [], [], []
    for record in records:
        summary = record["summary"]
        history = histories[record["id"]]
        for entry in history[1:]:
            train.append(entry["train_seconds"] / summary["train_samples"])
            test.append((entry["seconds"] - entry["train_seconds"]) / summary["test_samples"])
        test.append(history[0]["seconds"] / summary["test_samples"])
        analysis.append(record["analysis_seconds"])
    return {
        "train_s": statistics.fmean(train),
        "test_s": statistics.fmean(test),
        "analysis_s": statistics.fmean(analysis),
    }


def _full_run_seconds(per_sample: dict, epochs: int = 30, train: int = 60_000, test: int = 10_000) -> float:
    return (
        epochs * (train * per_sample["train_s"] + test * per_sample["test_s"])
        + test * per_sample["test_s"]
        + per_sample["analysis_s"]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="runs per worker count (default 8)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-samples", type=int, default=4000)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000, help="analysis samples per run (default 1000)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $FXSNN_DATA_DIR)")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = parser.parse_args(argv)

    from fxsnn.study.plan import load_sweep
    from fxsnn.study.worker import RunTask, execute_run

    data_dir = args.data_dir or os.environ.get("FXSNN_DATA_DIR")
    plan = _sample_plan(args)
    warm = plan.runs[0]
    t0 = time.perf_counter()
    warm_config = dataclasses.replace(warm.config, data_dir=data_dir, epochs=1)
    outcome = execute_run(RunTask(warm.id, warm_config, warm.axes, warm.trial, samples=10))
    if outcome.error:
        raise SystemExit(f"warm-up run failed: {outcome.error}")
    warmup = time.perf_counter() - t0
    results = [_measure(plan, n, data_dir, args.samples) for n in (1, 2)]
    one, two = results
    full_run = {r["workers"]: _full_run_seconds(r["per_sample"]) for r in results}
    studies = {}
    for name in FULL_STUDIES:
        n_runs = len(load_sweep(PRESETS / name).runs)
        # here: 2 workers, each run as slow as the runs measured with 2 workers, plus Dask's overhead
        here = n_runs * (full_run[2] + max(two["overhead_seconds_per_run"], 0.0)) / 2
        # 32 workers, each as fast as a lone worker here (its own core and memory bandwidth)
        cluster = n_runs * (full_run[1] + max(one["overhead_seconds_per_run"], 0.0)) / 32
        studies[name] = {
            "runs": n_runs,
            "here_hours": round(here / 3600, 2),
            "on_32_workers_hours": round(cluster / 3600, 2),
        }
    summary = {
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "warmup_seconds": round(warmup, 1),
        "bench_runs": {
            "epochs": args.epochs,
            "train_samples": args.train_samples,
            "test_samples": args.test_samples,
            "analysis_samples": args.samples,
        },
        "results": results,
        "speedup_2_over_1": round(two["runs_per_hour"] / one["runs_per_hour"], 3),
        "full_run_seconds_estimate": {f"{n}_workers": round(v, 1) for n, v in full_run.items()},
        "full_studies": studies,
    }
    if not args.json:
        for r in results:
            print(
                f"{r['workers']} worker(s): {r['runs_per_hour']} runs/hour, "
                f"mean run {r['mean_run_seconds']} s, Dask overhead {r['overhead_seconds_per_run']} s/run "
                f"({100 * r['overhead_share']:.1f} %), "
                f"worker max RSS {r['worker_max_rss_mb']} MB",
                file=sys.stderr,
            )
        print(
            f"full-size run (60,000 x 30 epochs): about {full_run[1]:.0f} s alone, {full_run[2]:.0f} s "
            "beside a second worker",
            file=sys.stderr,
        )
        for name, s in studies.items():
            print(
                f"{name}: {s['runs']} runs, about {s['here_hours']} h here, {s['on_32_workers_hours']} h "
                "on 32 workers",
                file=sys.stderr,
            )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
