"""Training speed: seconds per epoch of the paper's network on Fashion-MNIST (issue 3, acceptance 4).

784-100-10, 80:20, T = 100, batch 256, SGD lr 0.01, 8-bit weights, the integer forward pass (``--float``: the
float64 mode). Times full epochs of the 60,000 training samples after a warm-up batch (numba compilation is
not counted), with ``--threads`` numba threads (default 2). The data set is loaded and encoded before timing.

    FXSNN_DATA_DIR=/work/shared/data python bench/training_speed.py --threads 2

Prints one line per epoch and a JSON summary (``--json`` prints only the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs (default 1)")
    parser.add_argument("--float", dest="float_mode", action="store_true", help="time the float64 mode")
    parser.add_argument("--weight-bits", type=int, default=8)
    parser.add_argument("--train-samples", type=int, default=0, help="limit the epoch (0: all 60,000)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import numba
    import numpy as np

    from fxsnn.training import Trainer, load_training_data
    from fxsnn.training.config import TrainConfig

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    cfg = TrainConfig(dataset="fmnist", hidden=[100], ratio=0.8, s1=0.001, lr=0.01, batch_size=256,
                      optimizer="sgd", weight_bits=args.weight_bits, float_mode=args.float_mode, seed=0,
                      epochs=args.epochs, train_samples=args.train_samples, test_samples=256)
    t0 = time.perf_counter()
    data = load_training_data(cfg)
    load_seconds = time.perf_counter() - t0
    trainer = Trainer(cfg, data, None, progress=False)
    trainer.initialise()
    t0 = time.perf_counter()
    trainer.step(np.arange(256, dtype=np.int64))  # compile (or load from numba's cache)
    warmup = time.perf_counter() - t0
    n = data.train_events.n_samples
    epochs = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        stats = trainer.train_epoch()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        epochs.append({"epoch": epoch + 1, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                       "loss": round(stats["loss"], 4), "train_accuracy": round(stats["train_accuracy"], 4)})
        if not args.json:
            print(f"epoch {epoch + 1}: {wall:.2f} s wall ({cpu:.2f} s CPU) for {n} samples, "
                  f"{n / wall:,.0f} samples/s, loss {stats['loss']:.4f}", file=sys.stderr)
    per_epoch = float(np.mean([e["seconds"] for e in epochs])) * (60000 / n)
    summary = {
        "command": "python "
        + " ".join([os.path.relpath(__file__), *(argv if argv is not None else sys.argv[1:])]),
        "network": "784-100-10, 80:20, T=100, batch 256, SGD",
        "mode": "float64" if args.float_mode else f"integer, {args.weight_bits}-bit weights",
        "threads": numba.get_num_threads(),
        "samples_per_epoch": n,
        "seconds_per_60000_samples": round(per_epoch, 2),
        "epochs": epochs,
        "warmup_seconds": round(warmup, 2),
        "data_seconds": round(load_seconds, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
