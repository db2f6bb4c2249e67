"""First-layer weights in iCE40UP5K SPRAM: the packing and block logic, simulated with the behavioural
SB_SPRAM256KA model, must give the emulator's trace once the host has loaded the weights."""

from __future__ import annotations

import numpy as np
import pytest

from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch
from fxsnn.errors import UsageError
from fxsnn.hdl import SpikingCore, generate
from fxsnn.hdl.testbench import expected_trace, first_mismatch, run_core
from fxsnn.network import Layer, LayerParams, Network, neuron_types


def network(weight_bits: int, n_in: int, first_weights=None, seed=0) -> Network:
    rng = np.random.default_rng(seed)
    params = LayerParams(weight_bits=weight_bits, state_bits=20, threshold=40)
    w0 = rng.integers(0, 1 << weight_bits, size=(n_in, 5)) if first_weights is None else first_weights
    hidden = Layer(params, w0, neuron_types(5, 0.6))
    readout = Layer(params, rng.integers(0, 1 << weight_bits, size=(5, 3)), np.zeros(3, np.int8))
    return Network((hidden, readout), num_steps=5)


def check(net: Network, events: EventBatch, lanes: int, writes):
    core = SpikingCore(net, lanes=lanes, writable_weights=True, weight_storage="ice40_spram_model")
    run = run_core(net, events, core=core, writable_weights=True, weight_writes={0: writes}, stall=0.2,
                   seed=1)
    reference = simulate(net, events, trace=True)
    assert not run.protocol_error
    for b in range(events.n_samples):
        problem = first_mismatch(expected_trace(reference.trace, b), run.trace[b])
        assert problem is None, f"sample {b}: {problem}"
    return core


@pytest.mark.parametrize("weight_bits, lanes, per_word",
                         [(8, 1, 2), (4, 2, 2), (4, 3, 1), (4, 1, 4), (16, 1, 1)])
def test_spram_weights_loaded_by_the_host_give_the_emulator_trace(weight_bits, lanes, per_word):
    net = network(weight_bits, 7, seed=weight_bits + lanes)
    rng = np.random.default_rng(lanes)
    events = EventBatch.from_dense((rng.random((2, 5, 7)) < 0.4).astype(np.uint8))
    writes = [(0, r, c, int(net.layers[0].weights[r, c])) for r in range(7) for c in range(5)]
    core = check(net, events, lanes, writes)
    assert core.memory_plan()[0]["per_word"] == per_word


def test_spram_rows_in_every_block():
    # 16-bit weights, P = 1: one core word per SPRAM word, 5 words per row, so rows 3277.. are in block 1
    # and rows 6554.. in block 2. Only a few rows are non-zero (SPRAM starts at 0), and only they spike.
    n_in = 7000
    rows = [0, 3276, 3277, 6553, 6554, 6999]
    weights = np.zeros((n_in, 5), np.int64)
    rng = np.random.default_rng(3)
    weights[rows] = rng.integers(0, 1 << 16, size=(len(rows), 5))
    net = network(16, n_in, weights)
    dense = np.zeros((1, 5, n_in), np.uint8)
    dense[0, 0, rows] = 1
    dense[0, 2, rows[1::2]] = 1
    writes = [(0, r, c, int(weights[r, c])) for r in rows for c in range(5)]
    core = check(net, EventBatch.from_dense(dense), 1, writes)
    assert core.memory_plan()[0]["blocks"] == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"weight_storage": "ice40_spram"}, "needs writable_weights=True"),
    ({"weight_storage": "bram", "writable_weights": True}, "weight_storage must be one of"),
    ({"weight_storage": "ice40_spram", "writable_weights": True, "lanes": 3}, r"lanes \* weight_bits <= 16"),
])
def test_spram_configuration_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        SpikingCore(network(8, 7), **kwargs)


def test_spram_needs_nibble_weights_and_room():
    with pytest.raises(UsageError, match="weight_bits a multiple of 4"):
        SpikingCore(network(6, 7), writable_weights=True, weight_storage="ice40_spram")
    with pytest.raises(UsageError, match="need 5 SPRAM blocks"):
        SpikingCore(network(16, 16384), writable_weights=True, weight_storage="ice40_spram")


def test_spram_primitive_variant_generates(tmp_path):
    manifest = generate(network(8, 7), tmp_path, writable_weights=True, weight_storage="ice40_spram")
    assert "SB_SPRAM256KA" in (tmp_path / "fxsnn_core.v").read_text()
    assert manifest["weight_storage"] == "ice40_spram"
    assert manifest["memories"][0]["storage"].startswith("SB_SPRAM256KA x 1")
