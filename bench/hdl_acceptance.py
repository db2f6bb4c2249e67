"""Issue 4 acceptance: the generated core against the emulator on Fashion-MNIST, in Amaranth's simulator.

For a model file (``--model``) or, by default, a random network with the paper's initialisation
(``--hidden 100`` is the paper's 784-100-10; ``--hidden 100,50`` a 2-hidden-layer network),
this script

1. encodes ``--samples`` Fashion-MNIST test images with the model's encoder,
2. runs the emulator with the full trace,
3. simulates the deployed core (``--lanes P``, no trace stream) cycle by cycle in Amaranth's Python
   simulator on every sample and compares every score and prediction exactly,
4. simulates the core with the trace stream on the first ``--trace-samples`` and compares every trace beat
   (every neuron's spike, current and membrane at every step),
5. checks every simulated cycle count against :func:`fxsnn.hdl.cycle_model` and reports the cycle model for
   P = 1, 4, 10 on these samples,
6. generates the Verilog and lints it with Verilator (-Wall plus the generated waivers).

Example::

    python bench/hdl_acceptance.py --hidden 100 --lanes 10 --samples 20 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fxsnn.datasets import encode_dataset, load_dataset
from fxsnn.emulator import simulate
from fxsnn.hdl import cycle_model, generate
from fxsnn.hdl.generate import lint
from fxsnn.hdl.testbench import expected_trace, first_mismatch, run_core

TRAINED = Path(__file__).resolve().parent.parent / "runs" / "fmnist8" / "model.fxsnn"  # configs/fmnist.toml
LATENCY = {"kind": "latency", "tau": 20.0, "threshold": 0.2}


def random_paper_network(hidden: tuple, events, seed: int, target_hz: float = 20.0):
    """The paper's initialisation (fxsnn.init.paper_init), quantised to 8-bit weights, with s1 bisected so
    the first hidden layer fires at about ``target_hz`` on ``events`` (so spikes reach every layer)."""
    from fxsnn.init import LayerSpec, paper_init, quantize_network

    def build(s1):
        rng = np.random.default_rng(seed)
        float_net = paper_init(784, hidden, 10, ratio=0.8, s1=s1, rng=rng)
        specs = [LayerSpec(weight_range=float(np.abs(w).max()), weight_bits=8) for w in float_net.weights]
        network, _ = quantize_network(float_net, specs, events.num_steps)
        return network

    lo, hi = math.log(1e-4), math.log(1.0)
    network = build(1e-2)
    for _ in range(14):
        s1 = math.exp(0.5 * (lo + hi))
        network = build(s1)
        counts = simulate(network, events).spike_counts[0]
        rate = counts.mean() * 1000.0 / events.num_steps
        if abs(rate - target_hz) < 0.1 * target_hz:
            break
        if rate < target_hz:
            lo = math.log(s1)
        else:
            hi = math.log(s1)
    return network, {"kind": "random paper init", "s1": s1, "seed": seed, "first_layer_rate_hz": rate}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help=f"model file, e.g. {TRAINED} (default: random network, seed --seed)")
    parser.add_argument("--hidden", default="100",
                        help="hidden sizes of the random network, e.g. 100 or 100,50")
    parser.add_argument("--lanes", type=int, default=10)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--trace-samples", type=int, default=3,
                        help="samples also run with the trace stream and compared neuron by neuron")
    parser.add_argument("--first", type=int, default=0, help="first test sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE")
    args = parser.parse_args(argv)

    dataset = load_dataset("fmnist", "test")
    model_path = Path(args.model) if args.model else None
    if model_path is not None:
        from fxsnn.model import load_model

        model = load_model(model_path)
        network, encoder = model.network, model.encoder
        source = {"kind": "model file", "path": str(model_path)}
        events = encode_dataset(dataset, encoder, network.num_steps)
    else:
        hidden = tuple(int(h) for h in args.hidden.split(","))
        events = encode_dataset(dataset, LATENCY, 100)
        calibration = events.select(slice(0, 64))
        network, source = random_paper_network(hidden, calibration, args.seed)
    events = events.select(slice(args.first, args.first + args.samples))

    started = time.time()
    reference = simulate(network, events, trace=True)
    counts = [[int(c[b].sum()) for c in reference.spike_counts] for b in range(events.n_samples)]

    # 1. The deployed core (no trace stream) on every sample: scores, predictions, cycles.
    deployed = run_core(network, events, lanes=args.lanes, trace=False)
    deployed_model = [cycle_model(network, args.lanes, int(reference.input_events[b]), counts[b])
                      for b in range(events.n_samples)]
    scores_equal = bool((deployed.scores == reference.scores).all())
    predictions_equal = bool((deployed.predictions == reference.predictions).all())
    cycles_equal = deployed_model == list(deployed.cycles)

    # 2. The core with the trace stream on the first --trace-samples: every neuron at every step.
    traced_events = events.select(slice(0, args.trace_samples))
    traced = run_core(network, traced_events, lanes=args.lanes, trace=True)
    mismatches = []
    for b in range(traced_events.n_samples):
        problem = first_mismatch(expected_trace(reference.trace, b), traced.trace[b],
                                 sum(layer.n_out for layer in network.layers))
        if problem:
            mismatches.append(f"sample {args.first + b}: {problem}")
    traced_scores_equal = bool((traced.scores == reference.scores[:args.trace_samples]).all())
    traced_model = [cycle_model(network, args.lanes, int(reference.input_events[b]), counts[b], trace=True)
                    for b in range(traced_events.n_samples)]
    cycles_equal &= traced_model == list(traced.cycles)
    seconds = time.time() - started

    no_trace = {}
    for lanes in sorted({1, 4, 10, args.lanes}):
        if lanes > max(layer.n_out for layer in network.layers):
            continue
        per_sample = [cycle_model(network, lanes, int(reference.input_events[b]), counts[b])
                      for b in range(events.n_samples)]
        no_trace[lanes] = {"mean": float(np.mean(per_sample)), "min": min(per_sample), "max": max(per_sample)}

    with tempfile.TemporaryDirectory() as out:
        generate(network, out, lanes=args.lanes)
        linted = lint(out)

    report = {
        "network": {"sizes": list(network.sizes), "num_steps": network.num_steps, **source},
        "samples": f"Fashion-MNIST test {args.first}..{args.first + events.n_samples - 1}",
        "lanes": args.lanes,
        "deployed_core_samples": events.n_samples,
        "scores_equal": scores_equal,
        "predictions_equal": predictions_equal,
        "simulated_cycles": list(deployed.cycles),
        "cycle_model": deployed_model,
        "traced_samples": traced_events.n_samples,
        "trace_beats_compared": sum(len(t) for t in traced.trace),
        "trace_equal": not mismatches,
        "traced_scores_equal": traced_scores_equal,
        "first_mismatches": mismatches[:5],
        "simulated_cycles_with_trace": list(traced.cycles),
        "cycle_model_with_trace": traced_model,
        "cycle_model_matches_simulation": cycles_equal,
        "protocol_error": deployed.protocol_error or traced.protocol_error,
        "input_events_mean": float(reference.input_events.mean()),
        "hidden_spikes_mean": [float(c.sum(axis=1).mean()) for c in reference.spike_counts],
        "predictions": [int(p) for p in reference.predictions],
        "cycles_per_sample_without_trace_by_lanes": no_trace,
        "verilator_lint_clean": linted.returncode == 0,
        "verilator_output": (linted.stdout + linted.stderr)[-2000:] if linted.returncode else "",
        "simulation_seconds": round(seconds, 1),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    ok = (not mismatches and scores_equal and predictions_equal and traced_scores_equal and cycles_equal
          and not report["protocol_error"] and linted.returncode == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
