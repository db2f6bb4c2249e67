"""Emulator and training speed of this working tree against another git revision, side by side in one run.

The machines fxsnn is measured on are noisy (shared VMs whose CPU changes between sessions), so a speed claim
compares two versions measured alternately, round after round, in the same run: each round times the base
revision and then this tree (each in a fresh process whose numba kernels are already compiled and cached),
and the result is the ratio of the medians. Both versions run the same network on the same events:

- emulator: a random 784-100-10 network (80:20 E:I, 8-bit weights, the paper's decays, seeded), the hidden
  threshold chosen so the hidden layer fires at about ``--rate`` Hz, on the Fashion-MNIST test set's latency
  events, at 1 and 2 threads;
- training: one epoch of integer-mode training (SGD, batch 256) on the first ``--train-samples`` training
  images, 2 threads.

    python bench/compare_revisions.py --base db4020f                 # the restructure's base commit
    python bench/compare_revisions.py --base HEAD~3 --rounds 7 --json

Needs the Fashion-MNIST idx files (``--data-dir``, default ``$FXSNN_DATA_DIR/fashion-mnist``). The base
revision is checked out into a temporary git worktree, removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: Runs in a child process with one tree's fxsnn first on sys.path; prints one JSON object.
CHILD = r"""
import gzip, json, sys, time
import numpy as np, numba
from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch, latency_encode
from fxsnn.network import Layer, LayerParams, Network, neuron_types

opts = json.loads(sys.argv[1])

def images(name):
    with gzip.open(f"{opts['data_dir']}/{name}-images-idx3-ubyte.gz") as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784) / 255.0

def network(threshold):
    rng = np.random.default_rng(0)
    hidden = LayerParams(threshold=int(threshold))
    w1 = np.minimum(np.abs(rng.standard_normal((784, 100))) * 40, 255).astype(np.int32)
    w2 = np.minimum(np.abs(rng.standard_normal((100, 10))) * 80, 255).astype(np.int32)
    readout = Layer(LayerParams(), w2, np.zeros(10, np.int8))
    return Network((Layer(hidden, w1, neuron_types(100, 0.8)), readout), 100)

def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return min(times)

out = {}
if opts["what"] == "threshold":
    events = latency_encode(images("train")[:1000], 100)
    lo, hi = 1, 1 << 22
    while hi - lo > 1:
        mid = (lo + hi) // 2
        rate = simulate(network(mid), events).spike_counts[0].mean() * 10
        lo, hi = (mid, hi) if rate > opts["rate"] else (lo, mid)
    out = {"threshold": hi, "rate_hz": float(simulate(network(hi), events).spike_counts[0].mean() * 10)}
elif opts["what"] == "emulator":
    events = latency_encode(images("t10k"), 100)
    net = network(opts["threshold"])
    simulate(net, events.select(slice(0, 64)), threads=opts["threads"])  # load the cached kernels
    seconds = best_of(lambda: simulate(net, events, threads=opts["threads"]), opts["repeat"])
    out = {"samples_per_s": events.n_samples / seconds}
else:
    try:
        from fxsnn.training.config import TrainConfig
    except ImportError:  # revisions before the training package
        from fxsnn.config import TrainConfig
    from fxsnn.training import Trainer, TrainingData
    numba.set_num_threads(opts["threads"])
    n = opts["train_samples"]
    labels = np.zeros(n, np.int64)
    with gzip.open(f"{opts['data_dir']}/train-labels-idx1-ubyte.gz") as f:
        labels[:] = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    events = latency_encode(images("train")[:n], 100)
    data = TrainingData("fmnist", {"kind": "latency", "tau": 20.0, "threshold": 0.2}, events, labels,
                        events.select(slice(0, 16)), labels[:16], 10)
    cfg = TrainConfig(dataset="fmnist", epochs=1, target_rate=None, s1=0.001, seed=0)
    trainer = Trainer(cfg, data)
    trainer.initialise()
    trainer.step(np.arange(256, dtype=np.int64))  # load the cached kernels
    t0 = time.perf_counter(); trainer.train_epoch(); seconds = time.perf_counter() - t0
    out = {"seconds_per_epoch": seconds, "samples_per_s": n / seconds}
print(json.dumps(out))
"""


def child(tree: Path, **opts) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_NUM_THREADS="2")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(opts)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child in {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="emulator timings per round, best kept")
    parser.add_argument("--rate", type=float, default=20.0, help="target hidden rate of the network (Hz)")
    parser.add_argument("--train-samples", type=int, default=8192)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("FXSNN_DATA_DIR", "data").split(os.pathsep)[0]) / "fashion-mnist",
    )
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.data_dir / "t10k-images-idx3-ubyte.gz").is_file():
        raise SystemExit(f"Fashion-MNIST idx files not found in {args.data_dir}; pass --data-dir")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", args.base], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="fxsnn-base-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), commit], cwd=REPO, check=True)
        try:
            common = {"data_dir": str(args.data_dir), "repeat": args.repeat}
            tuned = child(REPO, what="threshold", rate=args.rate, **common)
            cases = [
                ("emulator", {"what": "emulator", "threads": t, "threshold": tuned["threshold"]})
                for t in (1, 2)
            ]
            if not args.skip_training:
                cases.append(
                    ("training", {"what": "training", "threads": 2, "train_samples": args.train_samples})
                )
            for tree in (base, REPO):  # compile and cache every kernel once before timing
                for _, opts in cases:
                    child(tree, **common, **{**opts, "repeat": 1})
            rows = []
            for name, opts in cases:
                samples = {"base": [], "this": []}
                for _ in range(args.rounds):
                    samples["base"].append(child(base, **common, **opts)["samples_per_s"])
                    samples["this"].append(child(REPO, **common, **opts)["samples_per_s"])
                med = {k: statistics.median(v) for k, v in samples.items()}
                rows.append(
                    {
                        "case": name,
                        "threads": opts["threads"],
                        "base_samples_per_s": med["base"],
                        "this_samples_per_s": med["this"],
                        "ratio": med["this"] / med["base"],
                        "rounds": samples,
                    }
                )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False)
    result = {
        "base": commit,
        "this": head + ("+changes" if _dirty() else ""),
        "network_rate_hz": tuned["rate_hz"],
        "cpu": _cpu(),
        "python": platform.python_version(),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"base {commit} vs this tree ({result['this']}), {_cpu()}, hidden rate {tuned['rate_hz']:.1f} Hz"
        )
        for row in rows:
            print(
                f"{row['case']:<9} {row['threads']} thread(s): base {row['base_samples_per_s']:10,.0f}  "
                f"this {row['this_samples_per_s']:10,.0f} samples/s  ratio {row['ratio']:.3f}"
            )
    return 0


def _dirty() -> bool:
    return bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
