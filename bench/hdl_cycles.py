"""Cycles per sample of the deployed core (no trace stream), measured in Amaranth simulation.

For the paper's 784-100-10 network (``--model`` file, else the random paper initialisation of
``bench/hdl_acceptance.py``) and each ``--lanes`` P, simulates ``--samples`` Fashion-MNIST test samples
without back-pressure, checks scores and predictions against the emulator, and compares every measured
cycle count with :func:`fxsnn.hdl.cycle_model`; then reports the cycle model's mean over ``--model-samples``
samples (the emulator gives the input events and spikes it needs).

Example::

    python bench/hdl_cycles.py --lanes 1 4 10 --samples 2 --json bench/results/hdl_cycles.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fxsnn.datasets import encode_dataset, load_dataset
from fxsnn.emulator import simulate
from fxsnn.hdl import cycle_model
from fxsnn.hdl.testbench import run_core

sys.path.insert(0, str(Path(__file__).parent))
from hdl_acceptance import LATENCY, random_paper_network  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 4, 10])
    parser.add_argument("--samples", type=int, default=2, help="samples simulated per lane count")
    parser.add_argument("--model-samples", type=int, default=1000, help="samples for the cycle-model mean")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    dataset = load_dataset("fmnist", "test")
    model_path = Path(args.model) if args.model else None
    if model_path is not None:
        from fxsnn.model import load_model

        model = load_model(model_path)
        network = model.network
        events = encode_dataset(dataset, model.encoder, network.num_steps)
        source = {"kind": "model file", "path": str(model_path)}
    else:
        events = encode_dataset(dataset, LATENCY, 100)
        network, source = random_paper_network((100,), events.select(slice(0, 64)), 0)
    many = simulate(network, events.select(slice(0, args.model_samples)))
    report = {"network": {"sizes": list(network.sizes), **source}, "by_lanes": {}}
    ok = True
    for lanes in args.lanes:
        subset = events.select(slice(0, args.samples))
        reference = simulate(network, subset)
        started = time.time()
        run = run_core(network, subset, lanes=lanes, trace=False)
        seconds = time.time() - started
        predicted = [cycle_model(network, lanes, int(reference.input_events[b]),
                                 [int(c[b].sum()) for c in reference.spike_counts])
                     for b in range(subset.n_samples)]
        modelled = [cycle_model(network, lanes, int(many.input_events[b]),
                                [int(c[b].sum()) for c in many.spike_counts])
                    for b in range(many.n_samples)]
        entry = {
            "simulated_cycles": list(run.cycles),
            "cycle_model": predicted,
            "model_matches_simulation": predicted == list(run.cycles),
            "scores_equal": bool((run.scores == reference.scores).all()),
            "predictions_equal": bool((run.predictions == reference.predictions).all()),
            "cycle_model_mean_over_samples": float(np.mean(modelled)),
            "cycle_model_min": int(np.min(modelled)),
            "cycle_model_max": int(np.max(modelled)),
            "model_samples": many.n_samples,
            "simulation_seconds": round(seconds, 1),
        }
        ok &= entry["model_matches_simulation"] and entry["scores_equal"] and entry["predictions_equal"]
        report["by_lanes"][lanes] = entry
        print(json.dumps({"lanes": lanes, **entry}), flush=True)
    report["input_events_mean"] = float(many.input_events.mean())
    report["hidden_spikes_mean"] = [float(c.sum(axis=1).mean()) for c in many.spike_counts]
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
