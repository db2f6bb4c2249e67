"""The plain-Python reference: docs/fixed-point.md as executable code, one line per rule.

This is slow on purpose. It uses Python integers only (no numpy arithmetic, so no silent wrap-around or
float promotion), and mirrors the document section by section. The numba emulator (:mod:`fxsnn.emulator`)
and the generated hardware are held equal to it, bit for bit, by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from .network import LayerParams, Network

__all__ = [
    "saturate",
    "decay",
    "LayerState",
    "layer_step",
    "readout_step",
    "NetworkState",
    "initial_state",
    "network_step",
    "StepTrace",
    "ReferenceResult",
    "run_sample",
    "predict",
]


def saturate(x: int, bits: int) -> int:
    """Clamp ``x`` to the signed range of ``bits`` bits (section 2: never wrap)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return lo if x < lo else hi if x > hi else x


def decay(x: int, constant: int, params: LayerParams) -> int:
    """One step of leak (section 3). An odd function: ``decay(-x) == -decay(x)``.

    multiply: ``trunc(x * d / 2**F)``, i.e. the magnitude is shifted, rounding toward zero.
    shift:    ``x - trunc(x / 2**k)``.
    """
    magnitude = -x if x < 0 else x
    if params.decay_mode == "multiply":
        magnitude = (magnitude * constant) >> params.frac_bits
    else:
        magnitude = magnitude - (magnitude >> constant)
    return -magnitude if x < 0 else magnitude


def _input_sum(in_spikes, signs, layer) -> list[int]:
    """Section 4.1: the exact sum of this step's weights, one entry per neuron of ``layer``."""
    acc = [0] * layer.n_out
    shift = layer.params.weight_shift
    for i in in_spikes:
        sign = signs[i]
        row = layer.weights[i]
        for j in range(layer.n_out):
            acc[j] += sign * (int(row[j]) << shift)
    return acc


@dataclass(frozen=True)
class LayerState:
    """State of one layer at the start of a step: synaptic current I and membrane V (ints)."""

    current: tuple
    membrane: tuple


def layer_step(in_spikes, state: LayerState, layer, signs) -> tuple[tuple, LayerState]:
    """One step of a hidden LIF layer (section 4.2). Returns ``(spikes, new_state)``.

    ``in_spikes`` lists the indices of the inputs that spiked this step (each at most once);
    ``signs[i]`` is +1 or -1, the type of input ``i``.

    For every neuron j, with I, V the state at the start of the step::

        s    = 1 if V > threshold else 0                         (strict, old membrane)
        I'   = sat(decay(I, syn) + acc)                          (this step's input)
        V'   = 0                               if s and reset == "zero"
             = sat(decay(V, mem) + I - s * threshold)   otherwise (previous current I)
    """
    p = layer.params
    acc = _input_sum(in_spikes, signs, layer)
    spikes, current, membrane = [], [], []
    for j in range(layer.n_out):
        i_old, v_old = state.current[j], state.membrane[j]
        s = 1 if v_old > p.threshold else 0
        i_new = saturate(decay(i_old, p.syn_decay, p) + acc[j], p.state_bits)
        if s and p.reset == "zero":
            v_new = 0
        else:
            v_new = saturate(decay(v_old, p.mem_decay, p) + i_old - s * p.threshold, p.state_bits)
        spikes.append(s)
        current.append(i_new)
        membrane.append(v_new)
    return tuple(spikes), LayerState(tuple(current), tuple(membrane))


def readout_step(in_spikes, state: LayerState, layer, signs) -> LayerState:
    """One step of the leaky-integrator readout (section 4.3): F is ``current``, U is ``membrane``.

    ::

        F' = sat(decay(F, syn) + acc)
        U' = sat(decay(U, mem) + F)        (previous F)
    """
    p = layer.params
    acc = _input_sum(in_spikes, signs, layer)
    current, membrane = [], []
    for k in range(layer.n_out):
        f_old, u_old = state.current[k], state.membrane[k]
        current.append(saturate(decay(f_old, p.syn_decay, p) + acc[k], p.state_bits))
        membrane.append(saturate(decay(u_old, p.mem_decay, p) + f_old, p.state_bits))
    return LayerState(tuple(current), tuple(membrane))


@dataclass(frozen=True)
class NetworkState:
    """Every layer's state (hidden layers then readout) and the running scores."""

    layers: tuple
    scores: tuple


def initial_state(net: Network) -> NetworkState:
    """All currents and membranes 0; scores 0 (the readout's U[0] = 0 counts toward the max)."""
    layers = tuple(LayerState((0,) * layer.n_out, (0,) * layer.n_out) for layer in net.layers)
    return NetworkState(layers, (0,) * net.n_outputs)


def _signs(net: Network, k: int) -> list[int]:
    """Section 1.1: the sign of each input row of ``layers[k]`` (the presynaptic neuron's type)."""
    return [int(sign) for sign in net.input_signs(k)]


@dataclass(frozen=True)
class StepTrace:
    """What one step produced: per hidden layer its spikes s[t] and new state; the readout's new state."""

    spikes: tuple  # per hidden layer, tuple of 0/1
    layers: tuple  # per layer (hidden then readout), LayerState after the step


def network_step(in_spikes, state: NetworkState, net: Network) -> tuple[StepTrace, NetworkState]:
    """One step of the whole network (section 4.4): layers in order, spikes passed on within the step."""
    spikes_per_layer, new_layers = [], []
    spikes = sorted(in_spikes)
    for k, layer in enumerate(net.hidden):
        s, new = layer_step(spikes, state.layers[k], layer, _signs(net, k))
        spikes_per_layer.append(s)
        new_layers.append(new)
        spikes = [j for j, bit in enumerate(s) if bit]
    k = len(net.layers) - 1
    readout = readout_step(spikes, state.layers[k], net.readout, _signs(net, k))
    new_layers.append(readout)
    scores = tuple(max(a, b) for a, b in zip(state.scores, readout.membrane, strict=True))
    trace = StepTrace(tuple(spikes_per_layer), tuple(new_layers))
    return trace, NetworkState(tuple(new_layers), scores)


def predict(scores) -> int:
    """Section 4.5: argmax of the scores; a tie goes to the lowest class index."""
    best = 0
    for k, value in enumerate(scores):
        if value > scores[best]:
            best = k
    return best


@dataclass(frozen=True)
class ReferenceResult:
    scores: tuple
    prediction: int
    spike_counts: tuple  # per hidden layer, per neuron
    trace: tuple  # StepTrace per step


def run_sample(net: Network, steps, indices) -> ReferenceResult:
    """Run one sample given its input events: ``steps[e]`` and ``indices[e]`` for event e.

    Events may come in any order; each (step, index) pair may appear at most once, with
    ``0 <= step < net.num_steps`` and ``0 <= index < net.n_inputs``.
    """
    by_step = [[] for _ in range(net.num_steps)]
    seen = set()
    for t, i in zip(steps, indices, strict=True):
        t, i = int(t), int(i)
        if not (0 <= t < net.num_steps and 0 <= i < net.n_inputs):
            raise ValueError(
                f"input event (step={t}, index={i}) is outside {net.num_steps} steps x {net.n_inputs} inputs"
            )
        if (t, i) in seen:
            raise ValueError(f"input event (step={t}, index={i}) appears twice: inputs are binary per step")
        seen.add((t, i))
        by_step[t].append(i)
    state = initial_state(net)
    counts = [[0] * layer.n_out for layer in net.hidden]
    trace = []
    for t in range(net.num_steps):
        step_trace, state = network_step(by_step[t], state, net)
        for k, s in enumerate(step_trace.spikes):
            for j, bit in enumerate(s):
                counts[k][j] += bit
        trace.append(step_trace)
    return ReferenceResult(state.scores, predict(state.scores), tuple(map(tuple, counts)), tuple(trace))
