"""Emulator inference throughput on the paper's 784-100-10, T = 100 network with Fashion-MNIST test inputs.

Measures samples/s and synaptic events/s (weight rows added: input events x 100 + hidden spikes x 10) of
``fxsnn.emulator.simulate`` on 1 and 2 threads, and beside it, in the same run, the same network computed
densely in float: PyTorch if importable, else float32 numpy (BLAS matrix products over dense 0/1 inputs,
every step, as a dense simulator does), at each batch size of ``--batch`` (the dense code's speed depends on
it: 256 is the paper's batch size, larger batches make its matrix products more efficient). Prints a table
and the ratios.

The network: 784 -> 100 (80:20 E:I) -> 10, 8-bit weight magnitudes, 24-bit state, the paper's decays in
multiply mode (3354, 3706 at F = 12), reset to zero. Unless ``--model`` gives a trained model file, the
weights are drawn at random (|N(0, 1)| scaled to the 8-bit range, seeded) and the hidden threshold is
bisected on 1,000 training images until the mean hidden rate is ``--rate`` Hz, so the hidden layer spikes
as much as a trained network does (cost grows with spikes).

    python bench/emulator_throughput.py                      # full test set, target 20 Hz
    python bench/emulator_throughput.py --rate 50 --repeat 5
    python bench/emulator_throughput.py --model model.fxsnn  # a trained model
    python bench/emulator_throughput.py --batch 64,256,1024,2048

PyTorch is not a dependency of fxsnn (its PyPI wheel brings about 5 GB of CUDA libraries); to measure the
PyTorch baseline, run the bench from an environment that has it, e.g.
``python -m venv .venv-torch && .venv-torch/bin/pip install torch -e .``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np

from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch, latency_encode
from fxsnn.network import Layer, LayerParams, Network, neuron_types

DEFAULT_DATA = Path("/work/shared/data/fashion-mnist")
NUM_STEPS = 100


def load_fmnist(split: str, data_dir: Path | None) -> tuple[np.ndarray, str]:
    """Images in [0, 1] (n, 784): via fxsnn.datasets if it finds them, else the idx files read directly."""
    try:
        from fxsnn.datasets import load_dataset

        ds = load_dataset("fmnist", split, data_dir=data_dir, download=False)
        return ds.images, "fxsnn.datasets.load_dataset('fmnist')"
    except Exception as exc:  # the data module is optional here; fall back to reading the idx file
        prefix = "t10k" if split == "test" else "train"
        path = (data_dir or DEFAULT_DATA) / f"{prefix}-images-idx3-ubyte.gz"
        if not path.exists():
            raise SystemExit(f"Fashion-MNIST not found ({exc}); pass --data-dir with {path.name}") from exc
        with gzip.open(path) as f:
            raw = np.frombuffer(f.read(), np.uint8, offset=16)
        return raw.reshape(-1, 784) / 255.0, str(path)


def build_network(threshold: int, seed: int) -> Network:
    rng = np.random.default_rng(seed)
    hidden = LayerParams(weight_bits=8, state_bits=24, threshold=threshold, reset="zero")
    readout = LayerParams(weight_bits=8, state_bits=24, threshold=0)
    w1 = np.clip(np.rint(np.abs(rng.standard_normal((784, 100))) * 85), 0, 255).astype(np.int32)
    w2 = np.clip(np.rint(np.abs(rng.standard_normal((100, 10))) * 85), 0, 255).astype(np.int32)
    return Network(
        (Layer(hidden, w1, neuron_types(100, 0.8)), Layer(readout, w2, np.zeros(10, np.int8))),
        num_steps=NUM_STEPS,
    )


def hidden_rate_hz(net: Network, events: EventBatch) -> float:
    return float(simulate(net, events).spike_counts[0].mean() / (NUM_STEPS * 1e-3))


def calibrate(target_hz: float, events: EventBatch, seed: int) -> Network:
    """Bisect the hidden threshold (rate falls as it rises) until the mean rate is closest to the target."""
    lo, hi = 1, (1 << 23) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if hidden_rate_hz(build_network(mid, seed), events) > target_hz:
            lo = mid
        else:
            hi = mid
    return min(
        (build_network(t, seed) for t in (lo, hi)), key=lambda n: abs(hidden_rate_hz(n, events) - target_hz)
    )


def time_emulator(net: Network, events: EventBatch, threads: int, repeat: int) -> tuple[float, float, object]:
    """Best wall time and best process CPU time (all threads) of ``repeat`` runs, and the result."""
    simulate(net, events.select(slice(0, min(64, events.n_samples))), threads=threads)  # warm (jit cache)
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = simulate(net, events, threads=threads)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best, best_cpu, result


def dense_batches(events: EventBatch, batch: int):
    """Dense float32 inputs (T, batch, 784) built from the events, batch by batch."""
    for lo in range(0, events.n_samples, batch):
        hi = min(events.n_samples, lo + batch)
        a, b = events.offsets[lo], events.offsets[hi]
        sample = np.repeat(np.arange(hi - lo), np.diff(events.offsets[lo : hi + 1]))
        x = np.zeros((events.num_steps, hi - lo, events.num_inputs), dtype=np.float32)
        x[events.steps[a:b], sample, events.indices[a:b]] = 1.0
        yield x


def float_params(net: Network):
    """The integer network in float32: signed weights, unscaled state units, float decay factors."""
    p0, p1 = net.layers[0].params, net.layers[1].params
    w1 = net.signed_weights(0).astype(np.float32)
    w2 = net.signed_weights(1).astype(np.float32)
    alpha = np.float32(p0.syn_decay / (1 << p0.frac_bits))
    beta = np.float32(p0.mem_decay / (1 << p0.frac_bits))
    alpha2 = np.float32(p1.syn_decay / (1 << p1.frac_bits))
    beta2 = np.float32(p1.mem_decay / (1 << p1.frac_bits))
    return w1, w2, alpha, beta, alpha2, beta2, np.float32(p0.threshold)


def dense_numpy_forward(x, params):
    """PAPER.md's equations, dense, float32: every step multiplies the full 0/1 input by W1."""
    w1, w2, alpha, beta, alpha2, beta2, theta = params
    n = x.shape[1]
    current = np.zeros((n, w1.shape[1]), np.float32)
    membrane = np.zeros_like(current)
    f = np.zeros((n, w2.shape[1]), np.float32)
    u = np.zeros_like(f)
    score = np.zeros_like(f)
    for t in range(x.shape[0]):
        spikes = (membrane > theta).astype(np.float32)
        new_current = alpha * current + x[t] @ w1
        membrane = (beta * membrane + current) * (1.0 - spikes)
        current = new_current
        new_f = alpha2 * f + spikes @ w2
        u = beta2 * u + f
        f = new_f
        np.maximum(score, u, out=score)
    return score.argmax(axis=1)


def dense_torch_forward(x, params, torch):
    w1, w2, alpha, beta, alpha2, beta2, theta = (torch.as_tensor(p) for p in params)
    x = torch.as_tensor(x)
    n = x.shape[1]
    current = torch.zeros((n, w1.shape[1]))
    membrane = torch.zeros_like(current)
    f = torch.zeros((n, w2.shape[1]))
    u = torch.zeros_like(f)
    score = torch.zeros_like(f)
    with torch.no_grad():
        for t in range(x.shape[0]):
            spikes = (membrane > theta).float()
            new_current = alpha * current + x[t] @ w1
            membrane = (beta * membrane + current) * (1.0 - spikes)
            current = new_current
            new_f = alpha2 * f + spikes @ w2
            u = beta2 * u + f
            f = new_f
            score = torch.maximum(score, u)
    return score.argmax(dim=1).numpy()


def time_dense(net: Network, events: EventBatch, threads: int, batch: int, repeat: int):
    """Best-of-``repeat`` compute time of the dense float baseline (building the dense inputs not counted)."""
    params = float_params(net)
    try:
        import torch

        torch.set_num_threads(threads)
        kind = f"PyTorch {torch.__version__} float32, dense"
        forward = lambda x: dense_torch_forward(x, params, torch)  # noqa: E731
        limiter = None
    except ImportError:
        from threadpoolctl import threadpool_limits

        kind = f"numpy {np.__version__} float32 + BLAS, dense (PyTorch not installed)"
        forward = lambda x: dense_numpy_forward(x, params)  # noqa: E731
        limiter = threadpool_limits
    inputs = list(dense_batches(events, batch))
    best, predictions = float("inf"), None
    for _ in range(repeat):
        ctx = limiter(limits=threads) if limiter else _Null()
        with ctx:
            start = time.perf_counter()
            predictions = np.concatenate([forward(x) for x in inputs])
            best = min(best, time.perf_counter() - start)
    return best, predictions, kind


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (
        f"{os.cpu_count()} CPUs, {cpu}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def _batch_list(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch sizes, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be >= 1, got {text!r}")
    return sizes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, help="a trained .fxsnn model (default: random, rate-calibrated)"
    )
    parser.add_argument(
        "--rate", type=float, default=20.0, help="target hidden rate in Hz for the random net"
    )
    parser.add_argument(
        "--samples", type=int, default=10_000, help="test samples to run (default all 10,000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions; the best is reported")
    parser.add_argument(
        "--dense-samples", type=int, default=4_096, help="samples for the dense float baseline"
    )
    parser.add_argument(
        "--batch",
        type=_batch_list,
        default=[256, 1024],
        help="batch sizes of the dense baseline, comma-separated (default 256,1024)",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)

    images, source = load_fmnist("test", args.data_dir)
    events = latency_encode(images[: args.samples], NUM_STEPS)
    if args.model:
        from fxsnn.model import load_model

        net = load_model(args.model).network
        origin = f"model {args.model}"
    else:
        train_images, _ = load_fmnist("train", args.data_dir)
        net = calibrate(args.rate, latency_encode(train_images[:1000], NUM_STEPS), args.seed)
        theta = net.layers[0].params.threshold
        origin = f"random weights (seed {args.seed}), threshold {theta} for ~{args.rate} Hz"
    if net.sizes != (784, 100, 10) or net.num_steps != NUM_STEPS:
        raise SystemExit(
            f"the bench is for 784-100-10, T = 100; the model is {net.sizes}, T = {net.num_steps}"
        )

    thread_counts = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})
    rows = []
    reference = None
    for threads in thread_counts:
        seconds, cpu_seconds, result = time_emulator(net, events, threads, args.repeat)
        if reference is None:
            reference = result
        assert np.array_equal(result.scores, reference.scores), "results differ between thread counts"
        syn = int(result.synaptic_events(net).sum())
        rows.append(
            {
                "threads": threads,
                "samples_per_s": events.n_samples / seconds,
                "synaptic_events_per_s": syn / seconds,
                "seconds": seconds,
                "samples_per_cpu_s": events.n_samples / cpu_seconds,
            }
        )
    dense_events = events.select(slice(0, min(args.dense_samples, events.n_samples)))
    dense_rows = []
    for threads in thread_counts:
        for batch in args.batch:
            seconds, predictions, kind = time_dense(net, dense_events, threads, batch, args.repeat)
            agree = float(np.mean(predictions == reference.predictions[: dense_events.n_samples]))
            dense_rows.append(
                {
                    "threads": threads,
                    "batch": batch,
                    "samples_per_s": dense_events.n_samples / seconds,
                    "seconds": seconds,
                    "prediction_agreement": agree,
                }
            )
    emulator_rate = {r["threads"]: r["samples_per_s"] for r in rows}

    rate = float(reference.spike_counts[0].mean() / (NUM_STEPS * 1e-3))
    summary = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if argv is None else " ".join(argv),
        "machine": machine(),
        "data": source,
        "network": origin,
        "samples": events.n_samples,
        "input_events_per_sample": float(reference.input_events.mean()),
        "hidden_rate_hz": rate,
        "hidden_spikes_per_sample": float(reference.spike_counts[0].sum(axis=1).mean()),
        "emulator": rows,
        "dense_baseline": {"kind": kind, "samples": dense_events.n_samples, "rows": dense_rows},
        "ratio": {
            f"{d['threads']} threads, batch {d['batch']}": emulator_rate[d["threads"]] / d["samples_per_s"]
            for d in dense_rows
        },
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"machine : {summary['machine']}")
    print(
        f"data    : {source}, {events.n_samples} test samples, latency-coded, "
        f"{summary['input_events_per_sample']:.1f} input events/sample"
    )
    print(
        f"network : 784-100-10, T=100, {origin}; hidden rate {rate:.1f} Hz "
        f"({summary['hidden_spikes_per_sample']:.1f} hidden spikes/sample)"
    )
    print(f"baseline: {kind}, {dense_events.n_samples} samples, dense inputs built untimed")
    print()
    print(f"{'threads':>7} | {'emulator samples/s':>18} | {'per CPU-second':>14} | {'synaptic events/s':>17}")
    print("-" * 66)
    for r in rows:
        print(
            f"{r['threads']:>7} | {r['samples_per_s']:>18,.0f} | {r['samples_per_cpu_s']:>14,.0f} | "
            f"{r['synaptic_events_per_s']:>17.3e}"
        )
    print()
    print(f"{'threads':>7} | {'dense batch':>11} | {'dense float samples/s':>21} | {'emulator / dense':>16}")
    print("-" * 66)
    for d in dense_rows:
        print(
            f"{d['threads']:>7} | {d['batch']:>11} | {d['samples_per_s']:>21,.0f} | "
            f"{emulator_rate[d['threads']] / d['samples_per_s']:>15.1f}x"
        )
    print()
    print("per CPU-second: samples / process CPU time summed over threads (less sensitive to other load)")
    agreement = {d["prediction_agreement"] for d in dense_rows}
    print(
        "dense float vs integer emulator prediction agreement: "
        + ", ".join(f"{a:.1%}" for a in sorted(agreement))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
