"""``fxsnn hdl verify MODEL --sim icarus|verilator``: generate, build and run the core against the emulator.

Prints a summary (samples, steps, mismatches, simulated cycles, wall time, simulated cycles/s); with
``--json`` exactly one JSON object on stdout. Any mismatch (or a core that hangs or raises protocol_error)
exits non-zero with the first mismatch, located by sample, step, layer, neuron and field, on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from fxsnn.errors import FxsnnError, UsageError

__all__ = ["register", "run", "render"]


def register(subparsers) -> None:
    """Add ``verify`` to the ``fxsnn hdl`` command group's subparsers."""
    parser = subparsers.add_parser(
        "verify",
        help="simulate the generated core (Icarus/Verilator, cocotb) and compare it with the emulator",
        description="Generate the core for MODEL, build it on Icarus Verilog or Verilator, stream encoded "
        "samples through it from a cocotb testbench and compare every step of every neuron, the scores and "
        "the prediction with the integer emulator, exactly.",
    )
    parser.add_argument("model", metavar="MODEL", help="model file (.fxsnn)")
    parser.add_argument("--sim", required=True, choices=("icarus", "verilator"), help="HDL simulator")
    parser.add_argument("--samples", type=int, default=20, metavar="N", help="first N samples (default 20)")
    parser.add_argument("--dataset", metavar="NAME",
                        help="digits, fmnist, mnist or shd (default: the data set recorded in the model)")
    parser.add_argument("--split", default="test", help="train or test (default: test)")
    parser.add_argument("--data-dir", metavar="DIR", help="folder searched first for the data set's files")
    parser.add_argument("--lanes", type=int, default=1, metavar="P", help="the core's lanes (default 1)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the back-pressure LFSRs and of a rate encoder (default 0)")
    parser.add_argument("--back-pressure", action="store_true",
                        help="also run every sample again with random input gaps and output stalls")
    parser.add_argument("--build-dir", default="sim_build", metavar="D",
                        help="generated Verilog, cached builds and run logs (default ./sim_build)")
    parser.add_argument("--chunk", type=int, default=250, metavar="N",
                        help="samples per stimulus/capture chunk (default 250)")
    parser.set_defaults(run=run, render=render)


def run(args) -> dict:
    from fxsnn.datasets import encode_dataset, load_dataset
    from fxsnn.model import load_model

    from .runner import RANDOM_PRESSURE, STEADY, verify

    if args.samples < 1:
        raise UsageError(f"--samples must be at least 1, not {args.samples!r}")
    if args.lanes < 1:
        raise UsageError(f"--lanes must be at least 1, not {args.lanes!r}")
    if args.chunk < 1:
        raise UsageError(f"--chunk must be at least 1, not {args.chunk!r}")
    quiet = args.json or not sys.stderr.isatty()

    def progress(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    model = load_model(args.model)
    dataset = args.dataset or model.dataset
    if dataset is None:
        raise UsageError(f"{args.model} records no data set; pass --dataset")
    ds = load_dataset(dataset, args.split, data_dir=args.data_dir)
    events = encode_dataset(ds, model.encoder, model.network.num_steps, seed=args.seed)
    n = min(args.samples, events.n_samples)
    events = events.select(slice(0, n))
    runs = (STEADY, RANDOM_PRESSURE) if args.back_pressure else (STEADY,)
    summary = verify(model.network, events, sim=args.sim, build_root=Path(args.build_dir), lanes=args.lanes,
                     seed=args.seed, runs=runs, chunk_samples=args.chunk, progress=progress)
    wall = time.perf_counter() - t0
    steady = summary["runs"]["steady"]
    cycles = sum(r["simulated_cycles"] for r in summary["runs"].values())
    sim_time = sum(r["simulation_time_s"] for r in summary["runs"].values())
    first = next((r["first_mismatch"] for r in summary["runs"].values() if r["first_mismatch"]), None)
    result = {
        "model": str(args.model),
        "dataset": dataset,
        "split": args.split,
        "simulator": summary["simulator"],
        "simulator_version": summary["simulator_version"],
        "lanes": args.lanes,
        "seed": args.seed,
        "runs": list(summary["runs"]),
        "samples": n,
        "steps": n * model.network.num_steps,
        "trace_beats": sum(r["trace_beats"] for r in summary["runs"].values()),
        "mismatches": summary["mismatches"],
        "first_mismatch": first,
        "cycle_model_mismatches": steady["cycle_model_mismatches"],
        "cycles_per_sample_mean": steady["cycles_per_sample_mean"],
        "simulated_cycles": cycles,
        "simulation_time_s": round(sim_time, 3),
        "simulated_cycles_per_s": round(cycles / sim_time, 1) if sim_time > 0 else 0.0,
        "samples_per_minute": round(60 * n * len(summary["runs"]) / sim_time, 1) if sim_time > 0 else 0.0,
        "build_time_s": summary["build_time_s"],
        "built": summary["built"],
        "wall_time_s": round(wall, 3),
        "build_dir": summary["build_dir"],
        "run_dir": summary["run_dir"],
    }
    problems = result["mismatches"] + result["cycle_model_mismatches"]
    if problems:
        # The summary still goes to stdout; the failure goes to stderr and the exit status.
        print(json.dumps(result) if args.json else render(result), flush=True)
        what = f"{result['mismatches']} mismatching value(s)"
        if first:
            what += f"; first: {first['description']}"
        if result["cycle_model_mismatches"]:
            what += f"; {result['cycle_model_mismatches']} sample(s) off the cycle model"
        raise FxsnnError(f"verification failed on {result['simulator']}: {what} (logs: {result['run_dir']})")
    return result


def render(result: dict) -> str:
    status = "PASS" if result["mismatches"] == 0 and result["cycle_model_mismatches"] == 0 else "FAIL"
    lines = [
        f"{status}: {result['model']} on {result['simulator']} {result['simulator_version']}, "
        f"{result['lanes']} lane(s), runs: {', '.join(result['runs'])}",
        f"samples: {result['samples']}  steps: {result['steps']}  trace beats: {result['trace_beats']}",
        f"mismatches: {result['mismatches']}  cycle model mismatches: {result['cycle_model_mismatches']}",
    ]
    if result["first_mismatch"]:
        lines.append(f"first mismatch: {result['first_mismatch']['description']}")
    lines += [
        f"simulated cycles: {result['simulated_cycles']}  (mean {result['cycles_per_sample_mean']:.1f} per "
        f"sample without stalls)",
        f"simulation: {result['simulation_time_s']:.1f} s, {result['simulated_cycles_per_s']:.0f} cycles/s, "
        f"{result['samples_per_minute']:.1f} samples/min",
        f"wall time: {result['wall_time_s']:.1f} s (build {result['build_time_s']:.1f} s"
        f"{'' if result['built'] else ', cached'})",
    ]
    return "\n".join(lines)
