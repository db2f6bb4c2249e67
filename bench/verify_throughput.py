"""Verification throughput: simulated samples per minute of a model's core on Icarus and Verilator.

Runs the cocotb bench (:func:`fxsnn.sim.runner.verify`, steady input, full trace compared at every step)
on the first N test samples of the model's data set on each simulator, and optionally the whole test split
on Verilator (``--full``), then prints one JSON object per measurement and a table. Build time is reported
separately from simulation time; a cached build is reused.

Example (the numbers in docs/verification.md)::

    python bench/verify_throughput.py runs/fmnist8/model.fxsnn --lanes 10 \\
        --icarus-samples 50 --verilator-samples 200 --full --out bench/results/verify_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from fxsnn.datasets import encode_dataset, load_dataset
from fxsnn.model import load_model
from fxsnn.sim.runner import STEADY, verify


def measure(model, events, sim: str, n: int, lanes: int, build_root: Path, chunk: int) -> dict:
    subset = events.select(slice(0, min(n, events.n_samples)))
    t0 = time.perf_counter()
    summary = verify(model.network, subset, sim=sim, build_root=build_root, lanes=lanes, runs=(STEADY,),
                     chunk_samples=chunk, progress=lambda m: print(m, file=sys.stderr, flush=True))
    wall = time.perf_counter() - t0
    run = summary["runs"]["steady"]
    return {
        "simulator": sim,
        "simulator_version": summary["simulator_version"],
        "lanes": lanes,
        "samples": run["samples"],
        "mismatches": run["mismatches"],
        "cycle_model_mismatches": run["cycle_model_mismatches"],
        "simulated_cycles": run["simulated_cycles"],
        "cycles_per_sample_mean": run["cycles_per_sample_mean"],
        "simulation_time_s": run["simulation_time_s"],
        "model_time_s": run["model_time_s"],
        "check_time_s": run["check_time_s"],
        "bench_wall_time_s": run["wall_time_s"],
        "simulated_cycles_per_s": run["cycles_per_s"],
        "samples_per_minute_simulated": round(60 * run["samples"] / run["simulation_time_s"], 1),
        "samples_per_minute_verified": round(60 * run["samples"] / run["wall_time_s"], 1),
        "build_time_s": summary["build_time_s"],
        "built": summary["built"],
        "total_wall_time_s": round(wall, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model")
    parser.add_argument("--lanes", type=int, default=10)
    parser.add_argument("--icarus-samples", type=int, default=50)
    parser.add_argument("--verilator-samples", type=int, default=200)
    parser.add_argument("--full", action="store_true", help="also verify the whole test split on Verilator")
    parser.add_argument("--build-dir", default="sim_build")
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--sims", default="verilator,icarus", help="comma list of simulators to measure")
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args(argv)

    model = load_model(args.model)
    ds = load_dataset(model.dataset, "test")
    events = encode_dataset(ds, model.encoder, model.network.num_steps)
    results = {
        "model": args.model,
        "machine": f"{os.cpu_count()}-core {platform.machine()}, {platform.system()}",
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "measurements": [],
    }
    build_root = Path(args.build_dir)
    plan = []
    sims = [s.strip() for s in args.sims.split(",") if s.strip()]
    if "verilator" in sims:
        plan.append(("verilator", args.verilator_samples))
    if "icarus" in sims:
        plan.append(("icarus", args.icarus_samples))
    if args.full:
        plan.append(("verilator", events.n_samples))
    for sim, n in plan:
        entry = measure(model, events, sim, n, args.lanes, build_root, args.chunk)
        results["measurements"].append(entry)
        print(json.dumps(entry), flush=True)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(f"{args.out}.tmp")
            tmp.write_text(json.dumps(results, indent=2) + "\n")
            os.replace(tmp, args.out)
    header = ("simulator", "samples", "mismatch", "cycles/s", "samples/min", "wall s")
    print("{:<10} {:>7} {:>8} {:>10} {:>11} {:>8}".format(*header))
    for m in results["measurements"]:
        print(
            f"{m['simulator']:<10} {m['samples']:>7} {m['mismatches']:>8} "
            f"{m['simulated_cycles_per_s']:>10.0f} {m['samples_per_minute_verified']:>11.1f} "
            f"{m['total_wall_time_s']:>8.1f}"
        )
    bad = sum(m["mismatches"] + m["cycle_model_mismatches"] for m in results["measurements"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
