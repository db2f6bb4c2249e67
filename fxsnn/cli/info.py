"""``fxsnn info MODEL``: what a model file holds, layer by layer."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np

from ..model import Model, load_model
from ..network import EXCITATORY, INHIBITORY, LayerParams, Network

__all__ = ["register", "run", "render", "describe_model"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show a model file's layers, widths, neuron parameters, encoder and provenance",
        description="Show what a .fxsnn model file holds: layers and sizes, E:I counts, widths, decay, "
        "reset, "
        "threshold, memory bits, encoder and provenance. The file is fully validated first.",
    )
    parser.add_argument("model", metavar="MODEL", help="model file (.fxsnn)")
    parser.set_defaults(run=run, render=render)


def _decay_factor(params: LayerParams, constant: int) -> float:
    """The float factor a decay constant stands for (docs/fixed-point.md section 3)."""
    if params.decay_mode == "multiply":
        return constant / (1 << params.frac_bits)
    return 1.0 - 2.0**-constant


def _time_constant(factor: float) -> float | None:
    """``tau`` in steps with ``factor = exp(-1 / tau)``; None when the state does not decay or is cleared."""
    if factor >= 1.0 or factor <= 0.0:
        return None
    return -1.0 / math.log(factor)


def describe_layer(net: Network, k: int) -> dict:
    """One layer's description as plain JSON values."""
    layer = net.layers[k]
    p = layer.params
    hidden = k < len(net.layers) - 1
    syn_factor = _decay_factor(p, p.syn_decay)
    mem_factor = _decay_factor(p, p.mem_decay)
    syn_tau, mem_tau = _time_constant(syn_factor), _time_constant(mem_factor)
    return {
        "index": k,
        "role": "hidden" if hidden else "readout",
        "n_in": layer.n_in,
        "n_out": layer.n_out,
        "n_excitatory": int(np.count_nonzero(layer.types == EXCITATORY)) if hidden else None,
        "n_inhibitory": int(np.count_nonzero(layer.types == INHIBITORY)) if hidden else None,
        **p.to_dict(),
        "threshold": p.threshold if hidden else None,
        "reset": p.reset if hidden else None,
        "syn_factor": syn_factor,
        "mem_factor": mem_factor,
        "syn_tau_steps": round(syn_tau, 4) if syn_tau is not None else None,
        "mem_tau_steps": round(mem_tau, 4) if mem_tau is not None else None,
        "accumulator_bits": net.accumulator_bits(k),
        "nonzero_weights": int(np.count_nonzero(layer.weights)),
        "weight_memory_bits": layer.n_in * layer.n_out * p.weight_bits,
        "state_memory_bits": 2 * layer.n_out * p.state_bits,
    }


def describe_model(model: Model) -> dict:
    """Everything ``fxsnn info`` reports, as a JSON-serialisable dict."""
    net = model.network
    layers = [describe_layer(net, k) for k in range(len(net.layers))]
    weight_bits = sum(layer["weight_memory_bits"] for layer in layers)
    state_bits = sum(layer["state_memory_bits"] for layer in layers)
    # types are known from the layer position for inputs and the readout; only hidden types are stored bits
    type_bits = sum(layer.n_out for layer in net.hidden)
    return {
        "dataset": model.dataset,
        "num_steps": net.num_steps,
        "n_inputs": net.n_inputs,
        "n_outputs": net.n_outputs,
        "sizes": list(net.sizes),
        "layers": layers,
        "memory_bits": {
            "weights": weight_bits,
            "state": state_bits,
            "types": type_bits,
            "total": weight_bits + state_bits + type_bits,
        },
        "encoder": model.encoder,
        "scales": list(model.scales) if model.scales is not None else None,
        "metadata": net.metadata,
        "provenance": model.provenance,
    }


def run(args) -> dict:
    model = load_model(args.model)
    return {"model": str(args.model), **describe_model(model)}


def _kbits(bits: int) -> str:
    return f"{bits} bits ({bits / 8192:.1f} KiB)"


def render(result: dict) -> str:
    sizes = " -> ".join(str(n) for n in result["sizes"])
    lines = [
        f"model     {result['model']}",
        f"network   {sizes}   ({len(result['layers']) - 1} hidden layer(s) + readout), "
        f"T = {result['num_steps']} steps",
        f"dataset   {result['dataset'] or '-'}",
        "encoder   " + ", ".join(f"{key}={value}" for key, value in result["encoder"].items()),
    ]
    header = (
        f"{'layer':<10}{'in->out':>11}{'E:I':>9}{'w bits':>8}{'shift':>6}{'state':>6}{'acc':>5}"
        f"  {'decay (syn, mem)':<30}{'threshold':>10}  {'reset':<9}{'weight mem':>12}"
    )
    lines += ["", header, "-" * len(header)]
    for layer in result["layers"]:
        name = f"{layer['role']} {layer['index']}" if layer["role"] == "hidden" else "readout"
        ei = f"{layer['n_excitatory']}:{layer['n_inhibitory']}" if layer["role"] == "hidden" else "-"
        if layer["decay_mode"] == "multiply":
            frac = layer["frac_bits"]
            decay = f"x{layer['syn_decay']}/2^{frac}, x{layer['mem_decay']}/2^{frac}"
        else:
            decay = f"shift {layer['syn_decay']}, shift {layer['mem_decay']}"
        taus = "/".join(
            "-" if tau is None else f"{tau:.3g}" for tau in (layer["syn_tau_steps"], layer["mem_tau_steps"])
        )
        decay = f"{decay} (tau {taus})"
        threshold = "-" if layer["threshold"] is None else str(layer["threshold"])
        lines.append(
            f"{name:<10}{layer['n_in']:>5}->{layer['n_out']:<5}{ei:>9}{layer['weight_bits']:>8}"
            f"{layer['weight_shift']:>6}{layer['state_bits']:>6}{layer['accumulator_bits']:>5}"
            f"  {decay:<30}{threshold:>10}  {layer['reset'] or '-':<9}{layer['weight_memory_bits']:>12}"
        )
    memory = result["memory_bits"]
    lines += [
        "",
        f"memory    weights {_kbits(memory['weights'])}, state {_kbits(memory['state'])}, "
        f"neuron types {memory['types']} bits; total {_kbits(memory['total'])}",
    ]
    if result["scales"] is not None:
        scales = ", ".join(f"{s:g}" for s in result["scales"])
        lines.append(f"scales    {scales}  (integer units per float unit)")
    provenance = result["provenance"]
    if provenance:
        lines.append("provenance")
        for key, value in provenance.items():
            if value in (None, {}, []):
                continue
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            wrapped = textwrap.wrap(text, width=110 - 16, break_on_hyphens=False) or [""]
            lines.append(f"  {key:<14}{wrapped[0]}")
            lines.extend(" " * 16 + part for part in wrapped[1:])
    return "\n".join(lines)
