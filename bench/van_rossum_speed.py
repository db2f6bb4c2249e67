"""Van Rossum distance speed: 100 neurons x 1,000 samples x 100 steps (issue budget: <= 10 s).

    python bench/van_rossum_speed.py [--neurons 100] [--samples 1000] [--rate 0.03] [--json]

Times :func:`fxsnn.analysis.van_rossum_matrix` with the paper's discrete metric and the continuous one on
random spike trains (each neuron spikes with probability ``--rate`` per step), after a first call that
compiles the kernel (or loads it from numba's cache). Prints the seconds of each metric.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numba
import numpy as np

from fxsnn.analysis import VAN_ROSSUM_METRICS, van_rossum_matrix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.03, help="spike probability per neuron and step")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    spikes = (rng.random((args.samples, args.steps, args.neurons)) < args.rate).astype(np.uint8)
    van_rossum_matrix(spikes[:2])
    seconds = {}
    for metric in VAN_ROSSUM_METRICS:
        t0 = time.perf_counter()
        van_rossum_matrix(spikes, metric=metric)
        seconds[metric] = time.perf_counter() - t0
    result = {
        "neurons": args.neurons,
        "samples": args.samples,
        "steps": args.steps,
        "rate": args.rate,
        "seconds": seconds,
        "threads": numba.get_num_threads(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}",
    }
    if args.json:
        print(json.dumps(result))
    else:
        for metric, s in seconds.items():
            print(f"{metric:<10} {s:6.2f} s for {args.neurons} neurons x {args.samples} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
