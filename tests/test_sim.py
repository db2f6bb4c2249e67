"""The generated core on Icarus Verilog and Verilator, compared with the emulator at every step (cocotb).

Each configuration fixes the axes it covers (hidden layers, decay and reset modes per layer, E:I ratio,
lanes, width class) and draws the rest (sizes, widths, thresholds, decays, weights, inputs) from a seed shown
in the test id, so a failure reproduces with ``FXSNN_SIM_SEED=<seed> pytest -k <id>``. Every case runs
twice in one simulation: steady input with no stalls (the cycle model is then checked sample by sample) and
random idle gaps with random back-pressure on both output streams.

Axis coverage (both simulators): hidden layers 1 and 3 (Icarus also 2); decay multiply and shift; reset zero
and subtract; E:I ratios 0.8, 0.5 (Icarus also 1.0 and 0.0); lanes 1, 3 and all neurons; state widths from 8
to 32 bits, weight widths from 2 to 16; saturation of currents and membranes (asserted to occur).
Verilator builds cost a minute or more each on a 2-core machine, so Verilator runs the two configurations that
between them touch every axis, Icarus all of them.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch
from fxsnn.network import Layer, LayerParams, Network, neuron_types
from fxsnn.sim.runner import RANDOM_PRESSURE, STEADY, verify
from fxsnn.sim.simulators import SimulatorUnavailable, find_simulator

pytestmark = pytest.mark.sim

BASE_SEED = int(os.environ.get("FXSNN_SIM_SEED", "20261128"))


def _layer(rng, n_in, n_out, ratio, *, mode, reset, state_bits, weight_bits, saturate, readout=False):
    shift_room = state_bits - 1 - weight_bits  # (2^Bw - 1) << S must fit the state range
    weight_shift = int(rng.integers(0, max(0, min(shift_room, 4)) + 1))
    state_max = (1 << (state_bits - 1)) - 1
    if mode == "multiply":
        frac_bits = int(rng.integers(4, 17))
        decay = dict(
            frac_bits=frac_bits,
            syn_decay=int(rng.integers((1 << frac_bits) // 2, (1 << frac_bits) + 1)),
            mem_decay=int(rng.integers((1 << frac_bits) // 2, (1 << frac_bits) + 1)),
        )
    else:
        decay = dict(
            syn_decay=int(rng.integers(1, min(8, state_bits - 1) + 1)),
            mem_decay=int(rng.integers(0, min(8, state_bits - 1) + 1)),
        )
    w_max = (1 << weight_bits) - 1
    term = w_max << weight_shift
    # Saturating layers: thresholds near the top so membranes climb into the rails before firing.
    threshold = (
        state_max if saturate else int(rng.integers(term // 2, max(term // 2 + 1, min(state_max, 4 * term))))
    )
    params = LayerParams(
        weight_bits=weight_bits,
        weight_shift=weight_shift,
        state_bits=state_bits,
        decay_mode=mode,
        threshold=min(threshold, state_max),
        reset=reset,
        **decay,
    )
    if saturate:
        weights = rng.integers(w_max // 2, w_max + 1, (n_in, n_out))
    else:
        weights = rng.integers(0, w_max + 1, (n_in, n_out)) * (rng.random((n_in, n_out)) < 0.6)
    types = np.zeros(n_out, np.int8) if readout else neuron_types(n_out, ratio)
    return Layer(params, weights, types)


#: name: (hidden layers, per-layer (decay, reset), E:I ratio, lanes ("all" = widest layer), widths, saturate)
CONFIGS = {
    "h1-mult-zero-p1-narrow": dict(
        hidden=1,
        modes=[("multiply", "zero")],
        ratio=0.8,
        lanes=1,
        state=(8, 12),
        weight=(2, 4),
        saturate=True,
    ),
    "h3-mixed-p3-wide": dict(
        hidden=3,
        modes=[("shift", "subtract"), ("multiply", "zero"), ("shift", "zero"), ("multiply", "subtract")],
        ratio=0.5,
        lanes=3,
        state=(24, 32),
        weight=(8, 16),
        saturate=False,
    ),
    "h2-shift-subtract-pall": dict(
        hidden=2,
        modes=[("shift", "subtract"), ("shift", "subtract"), ("shift", "zero")],
        ratio=1.0,
        lanes="all",
        state=(12, 20),
        weight=(4, 8),
        saturate=True,
    ),
    "h1-mult-subtract-p2-inhibitory": dict(
        hidden=1,
        modes=[("multiply", "subtract"), ("shift", "zero")],
        ratio=0.0,
        lanes=2,
        state=(16, 24),
        weight=(6, 10),
        saturate=False,
    ),
}
VERILATOR_CONFIGS = ("h1-mult-zero-p1-narrow", "h3-mixed-p3-wide")


def make_case(name: str, seed: int):
    """The network, input events and lanes of configuration ``name`` drawn from ``seed``."""
    spec = CONFIGS[name]
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(6, 20))
    sizes = [int(rng.integers(3, 9)) for _ in range(spec["hidden"])]
    k = int(rng.integers(2, 5))
    steps = int(rng.integers(6, 16))
    layers, fan_in = [], n_in
    for index, n_out in enumerate([*sizes, k]):
        mode, reset = spec["modes"][min(index, len(spec["modes"]) - 1)]
        state_bits = int(rng.integers(spec["state"][0], spec["state"][1] + 1))
        weight_bits = int(rng.integers(spec["weight"][0], min(spec["weight"][1], state_bits - 2) + 1))
        readout = index == len(sizes)
        layers.append(
            _layer(
                rng,
                fan_in,
                n_out,
                spec["ratio"],
                mode=mode,
                reset=reset,
                state_bits=state_bits,
                weight_bits=weight_bits,
                saturate=spec["saturate"],
                readout=readout,
            )
        )
        fan_in = n_out
    net = Network(tuple(layers), num_steps=steps)
    n_samples = 6
    density = 0.6 if spec["saturate"] else 0.25
    dense = (rng.random((n_samples, steps, n_in)) < density).astype(np.uint8)
    dense[0] = 0  # a silent sample: only leak and neuron updates
    events = EventBatch.from_dense(dense)
    lanes = max(sizes + [k]) if spec["lanes"] == "all" else spec["lanes"]
    return net, events, lanes


def _reaches_saturation(net: Network, events: EventBatch) -> bool:
    trace = simulate(net, events, trace=True).trace
    for layer, current, membrane in zip(net.layers, trace.current, trace.membrane, strict=True):
        rails = (layer.params.state_min, layer.params.state_max)
        if np.isin(current, rails).any() or np.isin(membrane, rails).any():
            return True
    return False


def _simulator(name: str):
    try:
        return find_simulator(name)
    except SimulatorUnavailable as exc:
        pytest.skip(str(exc))


CASES = [("icarus", name) for name in CONFIGS] + [("verilator", name) for name in VERILATOR_CONFIGS]


@pytest.mark.parametrize(
    ("sim", "config", "seed"),
    [(s, c, BASE_SEED) for s, c in CASES],
    ids=[f"{s}-{c}-seed{BASE_SEED}" for s, c in CASES],
)
def test_core_matches_emulator(sim, config, seed, tmp_path_factory):
    _simulator(sim)
    net, events, lanes = make_case(config, seed)
    if CONFIGS[config]["saturate"]:
        assert _reaches_saturation(net, events), f"{config} (seed {seed}) was meant to saturate some state"
    build_root = tmp_path_factory.getbasetemp() / "sim_build" / sim
    summary = verify(
        net,
        events,
        sim=sim,
        build_root=build_root,
        lanes=lanes,
        seed=seed,
        runs=(STEADY, RANDOM_PRESSURE),
        run_dir=tmp_path_factory.mktemp(f"{sim}-{config}"),
        chunk_samples=4,  # two chunks: the harness must restart cleanly between them
    )
    for run, result in summary["runs"].items():
        where = f"{sim} {config} seed {seed} run {run}"
        assert result["samples"] == events.n_samples, where
        assert result["steps"] == events.n_samples * net.num_steps, where
        assert result["trace_beats"] == events.n_samples * net.num_steps * sum(net.sizes[1:]), where
        assert result["mismatches"] == 0, f"{where}: first mismatch {result['first_mismatch']}"
        assert result["simulated_cycles"] > 0, where
    steady = summary["runs"]["steady"]
    assert steady["cycle_model_checked"]
    assert steady["cycle_model_mismatches"] == 0, steady["cycle_model_first_mismatch"]
    # Stalls and idle gaps must actually slow the run down, or back-pressure was not exercised.
    assert summary["runs"]["pressure"]["simulated_cycles"] > steady["simulated_cycles"]


def test_checker_catches_a_wrong_model(tmp_path_factory):
    """End to end: a core generated from one network, checked against a model with one weight changed."""
    _simulator("icarus")
    net, events, lanes = make_case("h1-mult-subtract-p2-inhibitory", BASE_SEED)
    layer0 = net.layers[0]
    weights = layer0.weights.copy()
    first_event = int(np.flatnonzero(np.diff(events.offsets))[0])  # first sample with input events
    steps, indices = events.sample(first_event)
    i, t = int(indices[0]), int(steps[0])
    weights[i, 0] = (weights[i, 0] + 1) % (layer0.params.weight_max + 1)
    wrong = Network((Layer(layer0.params, weights, layer0.types), *net.layers[1:]), num_steps=net.num_steps)
    summary = verify(
        net,
        events,
        sim="icarus",
        build_root=tmp_path_factory.getbasetemp() / "sim_build" / "icarus",
        lanes=lanes,
        runs=(STEADY,),
        run_dir=tmp_path_factory.mktemp("icarus-wrong-model"),
        model_network=wrong,
    )
    result = summary["runs"]["steady"]
    assert result["mismatches"] > 0
    first = result["first_mismatch"]
    # The changed weight first shows in neuron 0's current of layer 0, in the step of that input event.
    assert (first["sample"], first["step"], first["layer"], first["neuron"], first["field"]) == (
        first_event,
        t,
        0,
        0,
        "current",
    ), first
    assert first["expected"] != first["actual"]


def test_cli_verify_digits_model(tmp_path, capsys):
    """``fxsnn hdl verify`` end to end on a digits model: one JSON object, exit status 0, exact match."""
    import json

    from fxsnn.cli import main

    _simulator("icarus")
    model = tmp_path / "digits.fxsnn"
    assert main(["init", "--dataset", "digits", "--hidden", "8", "--target-rate", "20", "--out", str(model),
                 "--json"]) == 0
    capsys.readouterr()
    status = main(["hdl", "verify", str(model), "--sim", "icarus", "--samples", "3", "--lanes", "3",
                   "--build-dir", str(tmp_path / "build"), "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 0 and len(out) == 1
    result = json.loads(out[0])
    assert result["samples"] == 3 and result["mismatches"] == 0 and result["simulated_cycles"] > 0
    from fxsnn.model import load_model

    assert result["steps"] == 3 * load_model(model).network.num_steps
    assert result["cycle_model_mismatches"] == 0
