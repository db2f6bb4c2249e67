"""The numba emulator equals the plain-Python reference exactly, in every mode, with 1 and 2 threads."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fxsnn._arith import layer_constants, lif_update
from fxsnn._step import layer_silent
from fxsnn.emulator import SimResult, _pack, simulate, state_dtype
from fxsnn.encode import EventBatch
from fxsnn.network import Layer, LayerParams, Network, neuron_types
from fxsnn.reference import run_sample

THREAD_COUNTS = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})


def first_mismatch(net: Network, events: EventBatch, result: SimResult) -> str | None:
    """Compare ``result`` with the reference sample by sample; describe the first difference, or None."""
    n_hidden = len(net.hidden)
    for b in range(events.n_samples):
        ref = run_sample(net, *events.sample(b))
        if tuple(int(x) for x in result.scores[b]) != ref.scores:
            return f"sample {b}: scores {result.scores[b].tolist()} != reference {list(ref.scores)}"
        if int(result.predictions[b]) != ref.prediction:
            return f"sample {b}: prediction {result.predictions[b]} != reference {ref.prediction}"
        if int(result.input_events[b]) != len(events.sample(b)[0]):
            return f"sample {b}: input_events {result.input_events[b]} != {len(events.sample(b)[0])}"
        for k in range(n_hidden):
            got = tuple(int(x) for x in result.spike_counts[k][b])
            if got != ref.spike_counts[k]:
                return f"sample {b}: layer {k} spike counts {got} != reference {ref.spike_counts[k]}"
        if result.trace is None:
            continue
        for t, step in enumerate(ref.trace):
            for k in range(n_hidden):
                got = tuple(int(x) for x in result.trace.spikes[k][b, t])
                if got != step.spikes[k]:
                    return f"sample {b} step {t} layer {k}: spikes {got} != reference {step.spikes[k]}"
            for k in range(len(net.layers)):
                for field, ours, theirs in (
                    ("current", result.trace.current[k][b, t], step.layers[k].current),
                    ("membrane", result.trace.membrane[k][b, t], step.layers[k].membrane),
                ):
                    for j, (x, y) in enumerate(zip(ours, theirs, strict=True)):
                        if int(x) != y:
                            return (
                                f"sample {b} step {t} layer {k} neuron {j}: {field} {int(x)} != reference {y}"
                            )
    return None


def check_result_types(net: Network, events: EventBatch, result: SimResult) -> None:
    n = events.n_samples
    assert result.scores.dtype == np.int64 and result.scores.shape == (n, net.n_outputs)
    assert result.predictions.dtype == np.int64 and result.predictions.shape == (n,)
    assert result.input_events.dtype == np.int64 and result.input_events.shape == (n,)
    assert len(result.spike_counts) == len(net.hidden)
    for counts, layer in zip(result.spike_counts, net.hidden, strict=True):
        assert counts.dtype == np.int32 and counts.shape == (n, layer.n_out)
    if result.trace is not None:
        T = net.num_steps
        assert len(result.trace.spikes) == len(net.hidden)
        assert len(result.trace.current) == len(result.trace.membrane) == len(net.layers)
        for spikes, layer in zip(result.trace.spikes, net.hidden, strict=True):
            assert spikes.dtype == np.uint8 and spikes.shape == (n, T, layer.n_out)
        for arrays in (result.trace.current, result.trace.membrane):
            for arr, layer in zip(arrays, net.layers, strict=True):
                assert arr.dtype == np.int64 and arr.shape == (n, T, layer.n_out)


def assert_emulator_matches_reference(net: Network, events: EventBatch) -> None:
    """Traced and untraced runs, on each thread count, all equal to the reference."""
    traced = [simulate(net, events, trace=True, threads=th) for th in THREAD_COUNTS]
    for result in traced:
        check_result_types(net, events, result)
    problem = first_mismatch(net, events, traced[0])
    assert problem is None, problem
    for result in [*traced[1:], *(simulate(net, events, threads=th) for th in THREAD_COUNTS)]:
        check_result_types(net, events, result)
        assert np.array_equal(result.scores, traced[0].scores)
        assert np.array_equal(result.predictions, traced[0].predictions)
        for a, b in zip(result.spike_counts, traced[0].spike_counts, strict=True):
            assert np.array_equal(a, b)
        if result.trace is not None:
            for name in ("spikes", "current", "membrane"):
                for a, b in zip(getattr(result.trace, name), getattr(traced[0].trace, name), strict=True):
                    assert np.array_equal(a, b)


# ---------------------------------------------------------------------------------------------------------
# Hypothesis strategies: tiny networks in every mode.


@st.composite
def layer_params(draw, *, hidden: bool, active: bool = False) -> LayerParams:
    """Any legal parameters; ``active``: thresholds within a few weight terms, so spikes reach deep layers."""
    state_bits = draw(st.sampled_from([8, 9, 12, 16, 24, 31, 32]) | st.integers(8, 32))
    weight_bits = draw(st.integers(2, min(16, state_bits - 1)))
    weight_shift = draw(st.integers(0, min(15, state_bits - 1 - weight_bits)))
    decay_mode = draw(st.sampled_from(["multiply", "shift"]))
    frac_bits = draw(st.integers(1, 16))
    if decay_mode == "multiply":
        full = 1 << frac_bits
        decay_value = st.sampled_from([0, 1, full // 2, full - 1, full]) | st.integers(0, full)
    else:
        decay_value = st.sampled_from([0, 1, 2, state_bits - 1]) | st.integers(0, state_bits - 1)
    state_max = (1 << (state_bits - 1)) - 1
    weight_term = ((1 << weight_bits) - 1) << weight_shift
    if active:
        threshold = draw(st.sampled_from([0, 1]) | st.integers(0, min(state_max, 2 * weight_term)))
    else:
        threshold = draw(
            st.sampled_from([0, 1, state_max, max(0, state_max - 1)])
            | st.integers(0, min(state_max, 4 * weight_term))
            | st.integers(0, state_max)
        )
    return LayerParams(
        weight_bits=weight_bits,
        weight_shift=weight_shift,
        state_bits=state_bits,
        decay_mode=decay_mode,
        frac_bits=frac_bits,
        syn_decay=draw(decay_value),
        mem_decay=draw(decay_value),
        threshold=threshold if hidden else 0,
        reset=draw(st.sampled_from(["zero", "subtract"])),
    )


@st.composite
def weight_matrix(draw, n_in: int, n_out: int, params: LayerParams, active: bool = False) -> np.ndarray:
    kind = draw(
        st.sampled_from(["random", "max", "sparse"] if active else ["random", "max", "zero", "sparse"])
    )
    wmax = params.weight_max
    if kind == "max":
        return np.full((n_in, n_out), wmax, dtype=np.int64)
    if kind == "zero":
        return np.zeros((n_in, n_out), dtype=np.int64)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, wmax + 1, size=(n_in, n_out), dtype=np.int64)
    if kind == "sparse":
        weights[rng.random((n_in, n_out)) < 0.7] = 0
    return weights


@st.composite
def networks(draw, active: bool = False) -> Network:
    """Tiny networks, 1-3 hidden layers; ``active``: 2-3 hidden layers made to carry spikes to the readout."""
    n_hidden = draw(st.integers(2, 3) if active else st.integers(1, 3))
    sizes = (
        [draw(st.integers(1, 6))]
        + [draw(st.integers(1, 5)) for _ in range(n_hidden)]
        + [draw(st.integers(1, 4))]
    )
    layers = []
    for k in range(n_hidden + 1):
        hidden = k < n_hidden
        params = draw(layer_params(hidden=hidden, active=active))
        weights = draw(weight_matrix(sizes[k], sizes[k + 1], params, active))
        if hidden:
            ratio = draw(st.sampled_from([0.0, 0.5, 0.8, 1.0]) | st.floats(0.0, 1.0))
            types = neuron_types(sizes[k + 1], ratio)
        else:
            types = np.zeros(sizes[k + 1], dtype=np.int8)
        layers.append(Layer(params, weights, types))
    return Network(tuple(layers), num_steps=draw(st.integers(8, 20) if active else st.integers(1, 12)))


@st.composite
def event_batches(draw, net: Network, active: bool = False) -> EventBatch:
    n_samples = draw(st.integers(1, 3))
    if active:
        density = draw(st.floats(0.2, 1.0))
    else:
        density = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]) | st.floats(0.0, 1.0))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_samples, net.num_steps, net.n_inputs)) < density).astype(np.uint8)
    return EventBatch.from_dense(dense)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_emulator_equals_reference_on_random_networks(data):
    net = data.draw(networks())
    events = data.draw(event_batches(net))
    assert_emulator_matches_reference(net, events)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_emulator_equals_reference_on_deep_active_networks(data):
    """Spikes cross 2-3 hidden layers, states decay between inputs: skipping quiet layers must be exact."""
    net = data.draw(networks(active=True))
    events = data.draw(event_batches(net, active=True))
    assert_emulator_matches_reference(net, events)


# ---------------------------------------------------------------------------------------------------------
# Hand-built nasty cases.


def _net(params_hidden, params_out, sizes, *, ratio=1.0, weights="max", num_steps=10, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(sizes) - 1):
        params = params_hidden if k < len(sizes) - 2 else params_out
        if weights == "max":
            w = np.full((sizes[k], sizes[k + 1]), params.weight_max)
        else:
            w = rng.integers(0, params.weight_max + 1, size=(sizes[k], sizes[k + 1]))
        hidden = k < len(sizes) - 2
        types = neuron_types(sizes[k + 1], ratio) if hidden else np.zeros(sizes[k + 1], dtype=np.int8)
        layers.append(Layer(params, w, types))
    return Network(tuple(layers), num_steps=num_steps)


def _all_inputs(n_samples, num_steps, n_inputs):
    return EventBatch.from_dense(np.ones((n_samples, num_steps, n_inputs), dtype=np.uint8))


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize(
    "decay_mode,syn,mem", [("multiply", 4096, 4096), ("multiply", 3354, 3706), ("shift", 7, 7)]
)
def test_saturation_positive_and_negative(reset, decay_mode, syn, mem):
    """Max weights into 8-bit state: currents and membranes pin at +127; the inhibitory half of the hidden
    layer drives the readout to -128; a threshold at the state maximum never fires, which keeps V pinned."""
    hidden = LayerParams(
        weight_bits=7,
        state_bits=8,
        decay_mode=decay_mode,
        syn_decay=syn,
        mem_decay=mem,
        threshold=127,
        reset=reset,
    )
    readout = LayerParams(
        weight_bits=7, state_bits=8, decay_mode=decay_mode, syn_decay=syn, mem_decay=mem, threshold=0
    )
    net = _net(hidden, readout, (4, 6, 3), ratio=0.0, num_steps=8)
    events = _all_inputs(2, 8, 4)
    assert_emulator_matches_reference(net, events)
    result = simulate(net, events, trace=True)
    assert result.trace.current[0].max() == 127 and result.trace.membrane[0].max() == 127
    # threshold = MAX and V <= MAX: never a spike, so the readout only sees zero input
    assert result.spike_counts[0].sum() == 0


def test_saturation_inhibitory_drives_readout_to_minimum():
    hidden = LayerParams(weight_bits=7, state_bits=8, threshold=0, reset="subtract")
    readout = LayerParams(weight_bits=7, state_bits=8, threshold=0)
    net = _net(hidden, readout, (3, 5, 2), ratio=0.0, num_steps=12)
    events = _all_inputs(1, 12, 3)
    assert_emulator_matches_reference(net, events)
    result = simulate(net, events, trace=True)
    assert result.trace.current[1].min() == -128 and result.trace.membrane[1].min() == -128
    assert (result.scores == 0).all()  # U[0] = 0 is the max


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_all_neurons_fire_with_threshold_zero(reset):
    params = LayerParams(weight_bits=4, state_bits=16, threshold=0, reset=reset)
    net = _net(params, params, (5, 7, 6, 3), ratio=1.0, num_steps=9)
    events = _all_inputs(3, 9, 5)
    assert_emulator_matches_reference(net, events)
    spikes = simulate(net, events, trace=True).trace.spikes
    # Layer 0's membrane is positive from step 2 on (section 4.4: two-step latency) and V > 0 = theta fires.
    if reset == "subtract":  # subtracting theta = 0 keeps V positive: every neuron fires at every step
        assert spikes[0][:, 2:, :].all() and spikes[1][:, 4:, :].all()
    else:  # reset to zero silences the next step: every neuron fires every other step
        assert spikes[0][:, 2::2, :].all() and not spikes[0][:, 3::2, :].any()
        assert spikes[1][:, 4::2, :].all()


def test_empty_inputs_give_silence_and_zero_scores():
    params = LayerParams(weight_bits=8, state_bits=24, threshold=0)
    net = _net(params, params, (4, 3, 2), weights="random", num_steps=6)
    empty = EventBatch(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(5, np.int64), 6, 4)
    assert_emulator_matches_reference(net, empty)
    result = simulate(net, empty, trace=True)
    assert (result.scores == 0).all() and (result.predictions == 0).all()
    assert all((c == 0).all() for c in result.spike_counts)
    assert all((a == 0).all() for a in result.trace.current + result.trace.membrane)


def test_zero_samples():
    params = LayerParams()
    net = _net(params, params, (4, 3, 2), weights="random", num_steps=5)
    empty = EventBatch(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(1, np.int64), 5, 4)
    result = simulate(net, empty, trace=True)
    check_result_types(net, empty, result)


def test_many_samples_are_independent_of_thread_count_and_chunking():
    """More samples than one parallel chunk, so both threads really run; every sample equals the reference."""
    hidden = LayerParams(
        weight_bits=5,
        state_bits=12,
        threshold=40,
        decay_mode="shift",
        syn_decay=2,
        mem_decay=3,
        reset="subtract",
    )
    readout = LayerParams(weight_bits=5, state_bits=16)
    net = _net(hidden, readout, (8, 6, 5, 3), ratio=0.6, weights="random", num_steps=15, seed=3)
    rng = np.random.default_rng(7)
    density = (
        rng.random((300, 1, 1)) * 0.4
    )  # samples differ in activity, so threads finish at different times
    events = EventBatch.from_dense((rng.random((300, 15, 8)) < density).astype(np.uint8))
    results = [simulate(net, events, threads=th) for th in THREAD_COUNTS]
    traced = simulate(net, events, trace=True, threads=THREAD_COUNTS[-1])
    for r in results:
        assert np.array_equal(r.scores, traced.scores)
        for a, b in zip(r.spike_counts, traced.spike_counts, strict=True):
            assert np.array_equal(a, b)
    assert traced.spike_counts[0].sum() > 0 and traced.spike_counts[1].sum() > 0
    subset = events.select(np.arange(0, 300, 7))
    sub = simulate(net, subset, trace=True)
    problem = first_mismatch(net, subset, sub)
    assert problem is None, problem
    assert np.array_equal(sub.scores, traced.scores[::7])
    assert np.array_equal(sub.trace.membrane[1], traced.trace.membrane[1][::7])


def test_progress_bar_run_equals_plain_run():
    params = LayerParams(weight_bits=6, state_bits=16, threshold=50)
    net = _net(params, params, (6, 4, 3), weights="random", num_steps=7)
    rng = np.random.default_rng(1)
    events = EventBatch.from_dense((rng.random((10, 7, 6)) < 0.3).astype(np.uint8))
    a = simulate(net, events)
    b = simulate(net, events, progress=True)
    assert np.array_equal(a.scores, b.scores) and np.array_equal(a.spike_counts[0], b.spike_counts[0])


def test_synaptic_events_counts_rows_added():
    params = LayerParams(weight_bits=6, state_bits=16, threshold=0)
    net = _net(params, params, (3, 4, 5, 2), num_steps=4)
    events = _all_inputs(2, 4, 3)
    result = simulate(net, events)
    expected = (
        result.input_events * 4
        + result.spike_counts[0].sum(axis=1) * 5
        + result.spike_counts[1].sum(axis=1) * 2
    )
    assert np.array_equal(result.synaptic_events(net), expected)
    assert result.input_events.tolist() == [12, 12]


# ---------------------------------------------------------------------------------------------------------
# The wrapper's checks.


@pytest.fixture
def small():
    params = LayerParams(weight_bits=4, state_bits=16, threshold=10)
    net = _net(params, params, (4, 3, 2), weights="random", num_steps=5)
    events = _all_inputs(2, 5, 4)
    return net, events


def test_rejects_wrong_number_of_inputs(small):
    net, _ = small
    events = _all_inputs(1, 5, 6)
    with pytest.raises(ValueError, match=r"events are for 6 inputs but the network has 4"):
        simulate(net, events)


def test_rejects_wrong_number_of_steps(small):
    net, _ = small
    events = _all_inputs(1, 7, 4)
    with pytest.raises(ValueError, match=r"span 7 steps but the network runs 5 steps.*num_steps=5"):
        simulate(net, events)


def test_rejects_wrong_argument_types(small):
    net, events = small
    with pytest.raises(TypeError, match="needs a fxsnn.network.Network"):
        simulate("model.fxsnn", events)
    with pytest.raises(TypeError, match="needs a fxsnn.encode.EventBatch"):
        simulate(net, np.zeros((1, 5, 4)))


@pytest.mark.parametrize("threads", [0, -1, 10_000, 1.5, True, "2"])
def test_rejects_bad_thread_counts(small, threads):
    net, events = small
    with pytest.raises(ValueError, match="threads must be"):
        simulate(net, events, threads=threads)


def test_thread_setting_is_restored(small):
    net, events = small
    before = numba.get_num_threads()
    simulate(net, events, threads=1)
    assert numba.get_num_threads() == before


def test_largest_weight_terms_survive_int32_storage():
    """The emulator stores weight terms as int32. The largest legal term, (2**16 - 1) << 15 = 2**31 - 2**15
    in a 32-bit state, and its negation (an inhibitory presynaptic neuron) must pass through unchanged."""
    params = LayerParams(weight_bits=16, weight_shift=15, state_bits=32, threshold=0, reset="subtract")
    net = _net(params, params, (3, 4, 2), ratio=0.5, num_steps=6)
    assert int(net.signed_weights(0).max()) == 2**31 - 2**15 and int(net.signed_weights(1).min()) == -(
        2**31 - 2**15
    )
    events = _all_inputs(1, 6, 3)
    assert_emulator_matches_reference(net, events)
    with pytest.raises(ValueError, match="more than the state maximum"):
        LayerParams(weight_bits=16, weight_shift=15, state_bits=31)


# ---------------------------------------------------------------------------------------------------------
# int32 arithmetic: chosen only where exact, and exact at its limits.


def test_state_dtype_is_int32_for_the_paper_network_and_int64_beyond_30_bits():
    paper = _net(LayerParams(), LayerParams(threshold=0), (784, 100, 10), ratio=0.8, weights="random")
    assert state_dtype(paper) is np.int32
    for bits in (31, 32):
        wide = _net(LayerParams(state_bits=bits), LayerParams(threshold=0), (4, 3, 2), weights="random")
        assert state_dtype(wide) is np.int64
    narrow = _net(LayerParams(state_bits=30), LayerParams(state_bits=30, threshold=0), (4, 3, 2))
    assert state_dtype(narrow) is np.int32


def _wide_input_net(n_in: int) -> Network:
    """30-bit state, max weight terms (2**29 - 2**14 each): the input sum bound grows with ``n_in``."""
    params = LayerParams(weight_bits=15, weight_shift=14, state_bits=30, threshold=0)
    readout = LayerParams(weight_bits=15, weight_shift=14, state_bits=30, threshold=0)
    return _net(params, readout, (n_in, 3, 2), ratio=0.5, num_steps=6)


def test_state_dtype_counts_the_input_sum_bound():
    """|decay(I) + acc| <= 2**29 + max|acc| must fit int32: three max terms do (2**31 - 1 - 3 * 2**14 at
    most), four do not."""
    assert state_dtype(_wide_input_net(3)) is np.int32
    assert state_dtype(_wide_input_net(4)) is np.int64


@pytest.mark.parametrize("n_in", [3, 4])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_int32_and_int64_arithmetic_at_their_limits_equal_the_reference(n_in, reset):
    """Inputs pin 30-bit states at MAX, the inhibitory neurons drive the readout to MIN: in int32 (three
    inputs, sums up to 2**31 - 1 - 3 * 2**14) and in int64 (four)."""
    net = _wide_input_net(n_in)
    net = Network(
        tuple(Layer(layer.params.replace(reset=reset), layer.weights, layer.types) for layer in net.layers),
        num_steps=net.num_steps,
    )
    events = _all_inputs(2, 6, n_in)
    assert_emulator_matches_reference(net, events)
    result = simulate(net, events, trace=True)
    assert result.trace.current[0].max() == (1 << 29) - 1
    assert result.trace.current[1].min() == -(1 << 29)


def test_state_dtype_rejects_non_networks():
    with pytest.raises(TypeError, match="needs a fxsnn.network.Network"):
        state_dtype("model.fxsnn")


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("indices", 4, "event indices must be in \\[0, 3\\]"),
        ("indices", -1, "event indices must be in \\[0, 3\\]"),
        ("steps", 5, "event steps must be in \\[0, 4\\]"),
        ("steps", -1, "event steps must be in \\[0, 4\\]"),
    ],
)
def test_rejects_events_changed_after_validation(small, field, value, message):
    """EventBatch checks its arrays when built, but they stay writable: simulate() re-checks the values
    it will index with, so an edited batch is refused instead of read out of bounds."""
    net, events = small
    arr = getattr(events, field).copy()
    arr[-1] = value
    object.__setattr__(events, field, arr)
    with pytest.raises(ValueError, match=message):
        simulate(net, events)


# ---------------------------------------------------------------------------------------------------------
# Early stop: after the last input event, once every hidden layer is provably silent, only the readout runs.


@numba.njit
def _silent_one(current, membrane, consts):
    return layer_silent(np.array([current]), np.array([membrane]), 0, 1, consts[0])


@numba.njit
def _spikes_without_input(current, membrane, consts, max_steps):
    """Steps at which a lone neuron with state ``(I, V)`` and no more input spikes, up to ``max_steps``
    (stops early at a fixed point). -1 if it never does."""
    c = consts
    for t in range(max_steps):
        spike, new_current, new_membrane = lif_update(current, membrane, 0, c)
        if spike:
            return t
        if new_current == current and new_membrane == membrane:
            return -1
        current, membrane = new_current, new_membrane
    return -1


@settings(max_examples=400, deadline=None)
@given(params=layer_params(hidden=True), data=st.data())
def test_layer_silent_is_sound(params, data):
    """Whenever layer_silent says a neuron is silent, it never spikes again without input."""
    lo, hi = params.state_min, params.state_max
    near = st.integers(max(lo, params.threshold - 64), min(hi, params.threshold + 64))
    current = data.draw(st.integers(-64, 64) | st.integers(lo, hi) | st.sampled_from([lo, hi, 0, 1]))
    membrane = data.draw(near | st.integers(lo, hi) | st.sampled_from([lo, hi, 0]))
    consts = layer_constants(params)
    if _silent_one(np.int64(current), np.int64(membrane), consts):
        assert _spikes_without_input(np.int64(current), np.int64(membrane), consts, 1 << 20) == -1


def test_layer_silent_at_its_bound():
    """Multiply mode, F = 12, d = 3354, theta = 1000, V = 100: the currents to come sum to at most
    I * 4096 / 742, silent iff I * 4096 <= 900 * 742, i.e. I <= 163. Shift mode proves only I <= 0."""
    params = LayerParams(state_bits=16, syn_decay=3354, mem_decay=3706, threshold=1000)
    consts = layer_constants(params)
    assert _silent_one(np.int64(163), np.int64(100), consts)
    assert not _silent_one(np.int64(164), np.int64(100), consts)
    assert _silent_one(np.int64(-5000), np.int64(1000), consts)
    assert not _silent_one(np.int64(-5000), np.int64(1001), consts)
    assert _silent_one(np.int64(0), np.int64(-32768), consts)
    shift = LayerParams(state_bits=16, decay_mode="shift", syn_decay=3, mem_decay=4, threshold=1000)
    consts = layer_constants(shift)
    assert _silent_one(np.int64(0), np.int64(1000), consts)
    assert not _silent_one(np.int64(1), np.int64(-32768), consts)
    # d = 2**F: the current never decays, so no positive current is ever proven harmless
    assert not _silent_one(np.int64(1), np.int64(0), layer_constants(LayerParams(syn_decay=4096)))


def test_spikes_after_the_last_input_are_counted():
    """One input spike at step 0; the hidden neuron's membrane crosses the threshold several steps later,
    spikes again after the reset, then falls silent while the readout still rises: the early stop must wait
    for all of that and give the reference's spike counts and scores."""
    hidden = LayerParams(weight_bits=8, state_bits=16, threshold=600)
    readout = LayerParams(weight_bits=8, state_bits=16, threshold=0)
    net = Network(
        (
            Layer(hidden, np.array([[255]]), neuron_types(1, 1.0)),
            Layer(readout, np.array([[255]]), np.zeros(1, np.int8)),
        ),
        num_steps=60,
    )
    events = EventBatch(np.zeros(1, np.int32), np.zeros(1, np.int32), np.array([0, 1]), 60, 1)
    ref = run_sample(net, *events.sample(0))
    spike_steps = [t for t, step in enumerate(ref.trace) if step.spikes[0][0]]
    assert spike_steps and spike_steps[0] > 1, spike_steps  # the test needs spikes after the input ends
    assert_emulator_matches_reference(net, events)  # untraced (early stop) == traced == reference


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_emulator_equals_reference_when_inputs_end_early(data):
    """Inputs only in the first steps of a longer run, thresholds within a few weight terms: the early stop
    is tried at every step after the last event and must never change a count or a score."""
    net = data.draw(networks(active=True))
    net = Network(net.layers, num_steps=data.draw(st.integers(20, 60)))
    n_samples = data.draw(st.integers(1, 3))
    end = data.draw(st.integers(1, 8))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    dense = np.zeros((n_samples, net.num_steps, net.n_inputs), dtype=np.uint8)
    dense[:, :end] = rng.random((n_samples, end, net.n_inputs)) < data.draw(st.floats(0.2, 1.0))
    assert_emulator_matches_reference(net, EventBatch.from_dense(dense))


@pytest.mark.parametrize(
    ("weight_bits", "weight_shift", "stored"),
    [(8, 0, np.uint8), (9, 0, np.uint16), (8, 1, np.uint16), (16, 0, np.uint16), (16, 1, np.int32)],
)
def test_first_layer_weights_are_stored_in_the_narrowest_type(weight_bits, weight_shift, stored):
    """The largest first-layer term (255, 511, 510, 65535, 131070) decides uint8, uint16 or int32 storage;
    at each boundary the emulator still equals the reference, with every input firing at maximal weights."""
    hidden = LayerParams(weight_bits=weight_bits, weight_shift=weight_shift, state_bits=28, threshold=1 << 20)
    readout = LayerParams(weight_bits=8, state_bits=28)
    net = _net(hidden, readout, (5, 3, 2), num_steps=12)
    in_weights = _pack(net)[0].in_weights
    assert in_weights.dtype == stored
    assert int(in_weights.max()) == (1 << weight_bits) - 1 << weight_shift
    assert_emulator_matches_reference(net, _all_inputs(2, 12, 5))


@pytest.mark.parametrize("sizes", [(9, 8, 16, 8), (3, 7, 9, 17), (5, 1, 1)])
def test_layers_on_and_off_the_padding_boundary(sizes):
    """The emulator pads each layer to whole 8-lane vectors; layers that fill them exactly, and ones that
    leave 1 or 7 padding lanes, give the reference's results, with unpadded shapes."""
    hidden = LayerParams(weight_bits=6, state_bits=16, threshold=90)
    readout = LayerParams(weight_bits=6, state_bits=16)
    net = _net(hidden, readout, sizes, ratio=0.75, weights="random", num_steps=16, seed=3)
    rng = np.random.default_rng(4)
    events = EventBatch.from_dense((rng.random((3, 16, sizes[0])) < 0.4).astype(np.uint8))
    assert_emulator_matches_reference(net, events)


@pytest.mark.parametrize("decay_mode", ["multiply", "shift"])
def test_spike_trace_equals_the_full_trace(decay_mode):
    """trace="spikes" records the full trace's spikes (hidden layers may stop early: their later spikes are
    then 0 in both), with the same scores, predictions and counts, and no state arrays."""
    rng = np.random.default_rng(5)
    hidden = LayerParams(
        weight_bits=6,
        state_bits=16,
        decay_mode=decay_mode,
        syn_decay=3 if decay_mode == "shift" else 3354,
        mem_decay=4 if decay_mode == "shift" else 3706,
        threshold=300,
    )
    net = Network(
        (
            Layer(hidden, rng.integers(0, 64, (12, 9)), neuron_types(9, 0.7)),
            Layer(
                LayerParams(weight_bits=6, state_bits=16), rng.integers(0, 64, (9, 4)), np.zeros(4, np.int8)
            ),
        ),
        40,
    )
    dense = (rng.random((70, 40, 12)) < 0.08).astype(np.uint8)
    dense[:, 20:, :] = 0  # inputs end early, so the untraced run can stop the hidden layer early
    events = EventBatch.from_dense(dense)
    full = simulate(net, events, trace=True)
    spikes = simulate(net, events, trace="spikes")
    np.testing.assert_array_equal(spikes.trace.spikes[0], full.trace.spikes[0])
    np.testing.assert_array_equal(spikes.scores, full.scores)
    np.testing.assert_array_equal(spikes.predictions, full.predictions)
    np.testing.assert_array_equal(spikes.spike_counts[0], full.spike_counts[0])
    assert spikes.trace.current is None and spikes.trace.membrane is None
    assert full.trace.spikes[0][:, 20:].any()  # spikes after the inputs ended are recorded
    with pytest.raises(ValueError, match="trace must be"):
        simulate(net, events, trace="all")
