"""ref vs rtl for the whole core: SpikingCore in Amaranth's simulator against the emulator's full trace.

Every case compares every trace beat (spike, current, membrane of every neuron at every step, section 4.6
order), every score and every prediction exactly, and, without back-pressure, the cycle count with
:func:`fxsnn.hdl.cycle_model`.
"""

from __future__ import annotations

import numpy as np
import pytest

from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch
from fxsnn.errors import UsageError
from fxsnn.hdl import SpikingCore, cycle_model
from fxsnn.hdl.testbench import expected_trace, first_mismatch, run_core
from fxsnn.network import Layer, LayerParams, Network, neuron_types


def random_network(seed: int, sizes, num_steps: int, *, decay_mode="multiply", reset="zero", state_bits=16,
                   weight_bits=6, weight_shift=0, threshold=None, weight_scale=1.0, ratio=0.7) -> Network:
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(sizes) - 1):
        if decay_mode == "multiply":
            decay = {"frac_bits": 8, "syn_decay": int(rng.integers(150, 257)),
                     "mem_decay": int(rng.integers(150, 257))}
        else:
            decay = {"syn_decay": int(rng.integers(0, 5)), "mem_decay": int(rng.integers(0, 5))}
        theta = int(rng.integers(0, 400)) if threshold is None else threshold
        params = LayerParams(weight_bits=weight_bits, weight_shift=weight_shift, state_bits=state_bits,
                             decay_mode=decay_mode, threshold=theta, reset=reset, **decay)
        top = max(0, min(params.weight_max, int(round(params.weight_max * weight_scale))))
        weights = rng.integers(0, top, size=(sizes[k], sizes[k + 1]), endpoint=True)
        hidden = k < len(sizes) - 2
        types = neuron_types(sizes[k + 1], ratio) if hidden else np.zeros(sizes[k + 1], np.int8)
        layers.append(Layer(params, weights, types))
    return Network(tuple(layers), num_steps=num_steps)


def random_events(seed: int, n_samples: int, num_steps: int, n_inputs: int, density: float) -> EventBatch:
    rng = np.random.default_rng(seed + 1000)
    return EventBatch.from_dense((rng.random((n_samples, num_steps, n_inputs)) < density).astype(np.uint8))


def check_core(net: Network, events: EventBatch, *, lanes: int, stall: float = 0.0, trace: bool = True,
               seed: int = 0):
    reference = simulate(net, events, trace=True)
    run = run_core(net, events, lanes=lanes, trace=trace, stall=stall, seed=seed)
    assert not run.protocol_error
    np.testing.assert_array_equal(run.scores, reference.scores)
    np.testing.assert_array_equal(run.predictions, reference.predictions)
    neurons = sum(layer.n_out for layer in net.layers)
    for b in range(events.n_samples):
        if trace:
            problem = first_mismatch(expected_trace(reference.trace, b), run.trace[b], neurons)
            assert problem is None, f"sample {b}: {problem}"
        if stall == 0.0:
            predicted = cycle_model(net, lanes, int(reference.input_events[b]),
                                    [c[b].sum() for c in reference.spike_counts], trace=trace)
            assert run.cycles[b] == predicted, f"sample {b}: {run.cycles[b]} cycles, cycle model {predicted}"
    return reference, run


CASES = {
    # name: (network kwargs, sizes, lanes, stall, density)
    "p1-one-hidden": (dict(), (7, 5, 3), 1, 0.0, 0.3),
    "p2-uneven-groups": (dict(reset="subtract"), (7, 5, 3), 2, 0.0, 0.3),
    "p4-backpressure": (dict(decay_mode="shift"), (9, 6, 3), 4, 0.4, 0.3),
    "pH-all-lanes": (dict(reset="subtract", decay_mode="shift"), (6, 5, 2), 5, 0.3, 0.4),
    "two-hidden-p2": (dict(threshold=30), (8, 6, 4, 3), 2, 0.0, 0.3),
    "three-hidden-p3-backpressure": (dict(threshold=20, reset="subtract"), (6, 5, 4, 4, 3), 3, 0.35, 0.4),
    "empty-inputs": (dict(), (5, 4, 2), 2, 0.0, 0.0),
    "all-firing": (dict(threshold=0, reset="subtract", ratio=1.0), (6, 4, 3), 1, 0.0, 0.6),
    "saturating": (dict(state_bits=8, weight_bits=4, weight_shift=3, threshold=5, ratio=1.0),
                   (8, 4, 3), 4, 0.2, 0.7),
}


@pytest.mark.parametrize("name", CASES)
def test_core_matches_emulator_trace(name):
    kwargs, sizes, lanes, stall, density = CASES[name]
    seed = sorted(CASES).index(name)
    net = random_network(seed, sizes, 6, **kwargs)
    events = random_events(seed, 2, 6, sizes[0], density)
    reference, _ = check_core(net, events, lanes=lanes, stall=stall, seed=seed)
    if name == "all-firing":
        assert reference.trace.spikes[0][:, 2:, :].all(), "every neuron must fire at every step from t = 2"
    if name == "saturating":
        peak = max(int(np.abs(c).max()) for c in reference.trace.current)
        assert peak == 127 or peak == 128, "the case must drive some current into saturation"
    if name == "empty-inputs":
        assert int(reference.input_events.sum()) == 0


def test_core_without_trace_matches_scores_and_cycle_model():
    net = random_network(11, (10, 8, 4), 8, threshold=25)
    events = random_events(11, 3, 8, 10, 0.3)
    reference, _ = check_core(net, events, lanes=3, trace=False)
    assert sum(int(c.sum()) for c in reference.spike_counts) > 0, "the case must have hidden spikes"


def test_core_without_trace_under_backpressure():
    net = random_network(12, (6, 6, 3), 5, threshold=10)
    check_core(net, random_events(12, 2, 5, 6, 0.4), lanes=2, trace=False, stall=0.5, seed=4)


def test_writable_weights_change_the_next_sample():
    net = random_network(13, (6, 5, 3), 5, threshold=15)
    events = random_events(13, 2, 5, 6, 0.5)
    writes = [(0, 1, 4, 0), (0, 5, 0, net.layers[0].params.weight_max), (1, 2, 2, 17), (1, 0, 0, 63)]
    run = run_core(net, events, lanes=2, writable_weights=True, weight_writes={1: writes}, stall=0.3, seed=2)
    assert not run.protocol_error
    changed = [layer.weights.copy() for layer in net.layers]
    for layer, row, column, magnitude in writes:
        changed[layer][row, column] = magnitude
    new_layers = tuple(Layer(layer.params, w, layer.types)
                       for layer, w in zip(net.layers, changed, strict=True))
    new_net = Network(new_layers, num_steps=net.num_steps)
    before = simulate(net, events.select([0]), trace=True)
    after = simulate(new_net, events.select([1]), trace=True)
    assert first_mismatch(expected_trace(before.trace, 0), run.trace[0]) is None
    assert first_mismatch(expected_trace(after.trace, 0), run.trace[1]) is None
    unchanged = simulate(net, events.select([1]), trace=True)
    unchanged_trace = expected_trace(unchanged.trace, 0)
    assert first_mismatch(unchanged_trace, run.trace[1]) is not None, "the writes had no effect"


def test_out_of_range_weight_write_is_dropped_and_flagged():
    net = random_network(14, (4, 3, 2), 3)
    events = random_events(14, 1, 3, 4, 0.5)
    run = run_core(net, events, lanes=1, writable_weights=True, weight_writes={0: [(1, 3, 0, 5)]})
    assert run.protocol_error
    np.testing.assert_array_equal(run.scores, simulate(net, events).scores)


def test_wrong_end_of_sample_sets_protocol_error():
    from amaranth.sim import Simulator

    net = random_network(15, (4, 3, 2), 3)
    core = SpikingCore(net, lanes=1, trace=False)
    seen = {}

    async def testbench(ctx):
        ctx.set(core.results.ready, 1)
        for beat in ({"index": 0, "end_of_step": 1, "end_of_sample": 1},):  # end_of_sample on step 0 of 3
            ctx.set(core.events.payload, beat)
            ctx.set(core.events.valid, 1)
            await ctx.tick().until(core.events.ready)
            ctx.set(core.events.valid, 0)
        for _ in range(30):
            await ctx.tick()
        seen["error"] = ctx.get(core.protocol_error)

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert seen["error"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"lanes": 0}, r"lanes must be in \[1, 5\] \(the largest layer has 5 neurons\), not 0"),
    ({"lanes": 6}, r"lanes must be in \[1, 5\].*not 6"),
    ({"lanes": "2"}, r"lanes must be an integer, not '2'"),
    ({"lanes": True}, r"lanes must be an integer, not True"),
    ({"trace": "yes"}, r"trace must be True or False, not 'yes'"),
    ({"writable_weights": 1}, r"writable_weights must be True or False, not 1"),
])
def test_bad_parameters_are_rejected(kwargs, message):
    net = random_network(16, (4, 5, 2), 3)
    with pytest.raises(UsageError, match=message):
        SpikingCore(net, **kwargs)


def test_non_network_is_rejected():
    with pytest.raises(UsageError, match=r"must be an fxsnn.network.Network, not \{'layers': \(\)\}"):
        SpikingCore({"layers": ()})


def test_cycle_model_rejects_bad_counts():
    net = random_network(17, (4, 3, 2), 3)
    with pytest.raises(ValueError, match="one entry per hidden layer"):
        cycle_model(net, 1, 3, [1, 2])
    with pytest.raises(ValueError, match="lanes must be a positive integer, not 0"):
        cycle_model(net, 0, 3, [1])
    with pytest.raises(ValueError, match="input_events_per_step must be integer counts"):
        cycle_model(net, 1, [1.5], [1])
