"""``fxsnn hdl generate MODEL --out DIR``: write the core's Verilog, waivers and manifest."""

from __future__ import annotations

from .generate import MANIFEST_NAME, VERILOG_NAME, WAIVER_NAME

__all__ = ["register", "run", "render"]


def register(subparsers) -> None:
    """Add ``generate`` to the ``fxsnn hdl`` command group's subparsers."""
    parser = subparsers.add_parser(
        "generate",
        help="generate the Verilog spiking core and its manifest for a model",
        description="Generate a bit-exact, event-driven spiking core for MODEL: fxsnn_core.v (top module "
        "fxsnn_core), fxsnn_core.vlt (Verilator waivers) and manifest.json (ports, payload fields, memories, "
        "parameters, cycle model) in DIR.",
    )
    parser.add_argument("model", metavar="MODEL", help="model file (.fxsnn)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output directory (created if missing)")
    parser.add_argument("--lanes", metavar="P", type=int, default=1,
                        help="neurons updated per cycle (area/speed trade-off; default 1)")
    parser.add_argument("--writable-weights", action="store_true",
                        help="add the weights stream that overwrites magnitudes between samples")
    parser.add_argument("--no-trace", action="store_true", help="leave out the per-neuron trace stream")
    parser.add_argument("--weight-storage", choices=("memory", "ice40_spram"), default="memory",
                        help="first-layer weights in initialised block RAM (default) or in iCE40UP5K SPRAM "
                        "(empty at power-up: needs --writable-weights and a host that loads the weights)")
    parser.set_defaults(run=run, render=render)


def run(args) -> dict:
    from pathlib import Path

    from .generate import generate

    result = generate(args.model, args.out, lanes=args.lanes, writable_weights=args.writable_weights,
                      trace=not args.no_trace, weight_storage=args.weight_storage)
    out = Path(args.out)
    return {
        "out": str(out),
        "files": [str(out / VERILOG_NAME), str(out / WAIVER_NAME), str(out / MANIFEST_NAME)],
        "lanes": result["lanes"],
        "trace": result["trace"],
        "writable_weights": result["writable_weights"],
        "weight_storage": result["weight_storage"],
        "sizes": result["network"]["sizes"],
        "memory_bits": result["memory_bits"],
        "fixed_cycles_per_sample": result["cycle_model"]["fixed_cycles_per_sample"],
        "cycles_per_input_event": result["cycle_model"]["cycles_per_input_event"],
        "cycles_per_spike": result["cycle_model"]["cycles_per_spike"],
        "manifest": result,
    }


def render(result: dict) -> str:
    lines = [f"wrote {path}" for path in result["files"]]
    lines.append(
        f"core {'-'.join(map(str, result['sizes']))}, {result['lanes']} lane(s), "
        f"trace {'on' if result['trace'] else 'off'}, "
        f"writable weights {'on' if result['writable_weights'] else 'off'}"
    )
    lines.append(f"memory: {result['memory_bits']} bits")
    lines.append(
        f"cycles per sample: {result['fixed_cycles_per_sample']} + "
        f"{result['cycles_per_input_event']} per input event + "
        f"{result['cycles_per_spike']} per hidden spike (layer by layer)"
    )
    return "\n".join(lines)
