"""The one network step of docs/fixed-point.md section 4, shared by the emulator and training's forward pass.

Event-driven: at each step a layer's input sum (section 4.1) is built by adding one signed weight row per
input event (network inputs for the first layer, the previous layer's spikes of the same step otherwise),
so the cost grows with the number of spikes, not with the input size. A layer whose state is all zero and
which receives no event is skipped (it would stay zero and silent). The neuron arithmetic is
:mod:`fxsnn._arith`'s; nothing here re-derives a rule.

Three bundles (numba named tuples) carry the arrays:

- :class:`Layout`: the packed network. Layer ``l`` owns entries ``n_off[l] .. n_off[l+1] - 1`` of every
  flat per-neuron array, ``widths[l+1]`` of them (its neurons, possibly padded with zero-weight neurons that
  stay at zero); its weights are row-major with ``widths[l+1]`` columns: the first layer's are
  ``in_weights`` (any integer or float type that holds them), a later layer's are
  ``weights[w_off[l] : w_off[l+1]]``. ``consts`` holds one :data:`fxsnn._arith.LAYER_CONSTANTS` record per
  layer; ``n_outputs`` is the readout's neuron count without padding. The state type (int32, int64 or
  float64) is the scratch arrays' type.
- :class:`Scratch`: one sample's working state (one per thread), from :func:`make_scratch`.
- :class:`Recorder`: what a run records besides scores and spike counts (``None``: nothing, and hidden
  layers may stop early, :func:`run_sample`). The emulator's trace records the step's spikes and new state
  (section 4.6); training records every hidden neuron's old membrane and spikes, and the step of each
  score's maximum, for its backward pass. Fields a recorder does not use are empty arrays.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from ._arith import MODE_MULTIPLY, cast_like, lif_layer_update, readout_layer_update
from ._jit import JIT

__all__ = [
    "Layout",
    "Scratch",
    "Recorder",
    "padded_widths",
    "make_scratch",
    "network_step",
    "run_sample",
    "argmax_lowest",
    "layer_silent",
]

Layout = namedtuple("Layout", ["in_weights", "weights", "w_off", "widths", "n_off", "consts", "n_outputs"])
Scratch = namedtuple("Scratch", ["current", "membrane", "acc", "spikes", "spike_list", "n_listed", "active"])
Recorder = namedtuple("Recorder", ["old_membrane", "spikes", "new_current", "new_membrane", "best_step"])


def padded_widths(sizes, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(widths, n_off)`` for a network of ``sizes = (n_in, n_1, ..., n_L)``: every layer's neurons rounded
    up to a multiple of ``lanes`` (``widths[0] = n_in``), and the layers' offsets into flat neuron arrays."""
    sizes = np.asarray(sizes, dtype=np.int64)
    widths = sizes.copy()
    widths[1:] = -(-sizes[1:] // lanes) * lanes
    n_off = np.zeros(sizes.size, dtype=np.int64)
    np.cumsum(widths[1:], out=n_off[1:])
    return widths, n_off


@numba.njit(inline="always", **JIT)
def make_scratch(n_total, n_layers, state):
    """Working arrays for one thread: current, membrane and input sums (kept zero between steps), all three
    of ``state``'s dtype (the arithmetic type), spikes, spike lists, spike-list lengths and activity flags."""
    return Scratch(
        np.empty(n_total, state.dtype),
        np.empty(n_total, state.dtype),
        np.zeros(n_total, state.dtype),
        np.empty(n_total, dtype=np.uint8),
        np.empty(n_total, dtype=np.int32),
        np.empty(n_layers, dtype=np.int64),
        np.empty(n_layers, dtype=np.int64),
    )


@numba.njit(inline="always", **JIT)
def _add_rows(sources, first, last, weights, w_base, n_out, acc, a_base):
    """Section 4.1: ``acc[a_base + j] += w[i][j]`` for each source ``i = sources[first:last]``, exactly, in
    ``acc``'s type (int32 is only used where no partial sum can leave it, :func:`fxsnn.emulator.state_dtype`).
    The first layer's weight terms may be narrower (uint8, uint16: the emulator stores them so when they fit,
    a quarter or half of the bytes to read per event, which is what this loop is bound by).

    Four rows per pass over ``acc``: one load and one store of the sums per four rows, not per row. Indices,
    not slices: a view per event would cost two atomic reference-count updates."""
    # Unsigned indices: numba adds no negative-index wrap-around, so the row additions vectorise.
    n = numba.uint64(n_out)
    base = numba.uint64(a_base)
    e = first
    while e + 4 <= last:
        r0 = numba.uint64(w_base + np.int64(sources[e]) * n_out)
        r1 = numba.uint64(w_base + np.int64(sources[e + 1]) * n_out)
        r2 = numba.uint64(w_base + np.int64(sources[e + 2]) * n_out)
        r3 = numba.uint64(w_base + np.int64(sources[e + 3]) * n_out)
        for j in range(n):
            acc[base + j] += cast_like(
                (cast_like(weights[r0 + j], acc) + cast_like(weights[r1 + j], acc))
                + (cast_like(weights[r2 + j], acc) + cast_like(weights[r3 + j], acc)),
                acc,
            )
        e += 4
    while e < last:
        row = numba.uint64(w_base + np.int64(sources[e]) * n_out)
        for j in range(n):
            acc[base + j] += cast_like(weights[row + j], acc)
        e += 1


@numba.njit(inline="always", **JIT)
def network_step(layout, scratch, in_indices, first, last, scores, rec, step):
    """Step ``step`` of the whole network for one sample (section 4.4), in place.

    This step's input events are ``in_indices[first:last]``. ``scratch.spike_list`` receives the indices of
    each hidden layer's spiking neurons, ``scratch.n_listed[l]`` how many; ``scratch.active[l]`` says whether
    the layer's state is nonzero; ``scores`` is updated with the readout's new ``U`` (section 4.5). With a
    recorder, each hidden layer's membrane before the update goes to ``rec.old_membrane[step]`` (when that
    field is not empty) and the readout records the step of each score's maximum in ``rec.best_step``.
    """
    current, membrane, acc = scratch.current, scratch.membrane, scratch.acc
    spikes, spike_list, n_listed, active = (
        scratch.spikes,
        scratch.spike_list,
        scratch.n_listed,
        scratch.active,
    )
    n_off, widths, consts = layout.n_off, layout.widths, layout.consts
    n_layers = consts.shape[0]
    for layer in range(n_layers):
        lo = n_off[layer]
        n_out = widths[layer + 1]
        is_hidden = layer < n_layers - 1
        if rec is not None and is_hidden and rec.old_membrane.shape[0] != 0:
            for j in range(lo, lo + n_out):
                rec.old_membrane[step, j] = membrane[j]
        n_src = last - first if layer == 0 else n_listed[layer - 1]
        if n_src == 0 and active[layer] == 0:
            # All-zero state and no input: the step leaves the layer zero and silent.
            if is_hidden and n_listed[layer] != 0:
                for j in range(lo, lo + n_out):
                    spikes[j] = 0
                n_listed[layer] = 0
            continue
        if layer == 0:
            _add_rows(in_indices, first, last, layout.in_weights, 0, n_out, acc, lo)
        elif n_src != 0:
            prev = n_off[layer - 1]
            _add_rows(spike_list, prev, prev + n_src, layout.weights, layout.w_off[layer], n_out, acc, lo)
        if is_hidden:
            n_spikes, nonzero = lif_layer_update(current, membrane, acc, spikes, lo, n_out, consts[layer])
            active[layer] = nonzero
            if n_spikes != 0:
                # Branch-free compaction of the spiking neurons' indices.
                n = numba.uint64(lo)
                for j in range(n_out):
                    spike_list[n] = j
                    n += numba.uint64(spikes[numba.uint64(lo + j)])
            n_listed[layer] = n_spikes
        elif rec is None or rec.best_step.shape[0] == 0:
            active[layer] = readout_layer_update(
                current, membrane, acc, scores, lo, n_out, consts[layer], None, step
            )
        else:
            active[layer] = readout_layer_update(
                current, membrane, acc, scores, lo, n_out, consts[layer], rec.best_step, step
            )


@numba.njit(inline="always", **JIT)
def layer_silent(current, membrane, start, count, c):
    """Whether the hidden layer's neurons (entries ``start .. start + count - 1``, holding ``I[t+1]`` and
    ``V[t+1]``; ``c`` its constants record) can never spike again if they get no more input. Sufficient,
    not necessary: ``False`` only means "not proven".

    With no input the current only decays (``|decay(I)| <= |I|``, toward zero, no saturation), so a neuron
    with ``I <= 0`` and ``V <= theta`` stays at or below ``theta``: a negative ``V`` decays toward zero, a
    positive one does not grow (``d <= 2**F``), and ``I`` only pulls it down. With ``I > 0`` in multiply
    mode, ``decay(I) <= I * d / 2**F``, so the currents still to come sum to at most
    ``I * 2**F / (2**F - d)`` and every future membrane is at most ``max(V, 0)`` plus that sum: the neuron
    is silent if that bound is ``<= theta``, tested without division as
    ``I * 2**F <= (theta - max(V, 0)) * (2**F - d)`` in int64 (``I < 2**31``, ``F <= 16``: no overflow). In
    shift mode a small positive current never decays (``x - (x >> k) = x`` for ``x < 2**k``), so only the
    first test applies.
    """
    threshold = c.threshold
    one = np.int64(1) << c.frac_bits
    # den = 0 where positive currents cannot be bounded: then any I > 0 fails ``I * 2**F <= 0``.
    den = one - c.syn_decay if c.decay_mode == MODE_MULTIPLY else np.int64(0)
    failed = np.int64(0)
    for k in range(numba.uint64(count)):
        j = numba.uint64(start) + k
        i, v = np.int64(current[j]), np.int64(membrane[j])
        bad = (max(i, 0) * one > (threshold - max(v, 0)) * den) | (v > threshold)
        failed += np.int64(bad)
    return failed == 0


@numba.njit(inline="always", **JIT)
def argmax_lowest(scores, count):
    """Section 4.5: index of the largest of ``scores[:count]`` (the readout's neurons, not its padding),
    ties to the lowest index."""
    best = 0
    for k in range(1, count):
        if scores[k] > scores[best]:
            best = k
    return best


@numba.njit(**JIT)
def run_sample(layout, scratch, steps, indices, first_event, end_event, num_steps, scores, counts, rec):
    """Run one sample from the zero state (section 4.2: all state starts at 0); return its prediction.

    The sample's events are ``steps[first_event:end_event]`` / ``indices[...]`` (sorted by step). ``scores``
    (the readout's width) is set to the sample's scores; ``counts`` (flat over the hidden layers) gets each
    hidden neuron's spikes added. With a recorder, every step is recorded (:class:`Recorder`).

    Early stop, unless the recorder records state (membranes, currents, the steps of the maxima: a
    recorder of spikes only allows it): from the step of the last input event on, once every hidden layer is
    provably silent (:func:`layer_silent`, layer by layer: a silent layer sends the next one no input), no
    hidden state can change any output again, so only the readout runs on (the recorded spikes of the steps
    skipped are 0). Checked at growing intervals so a network that never qualifies (shift mode) pays for a
    few checks only.
    """
    current, membrane = scratch.current, scratch.membrane
    spikes, spike_list, n_listed, active = (
        scratch.spikes,
        scratch.spike_list,
        scratch.n_listed,
        scratch.active,
    )
    n_off, widths, consts = layout.n_off, layout.widths, layout.consts
    n_layers = consts.shape[0]
    current[:] = 0
    membrane[:] = 0
    spikes[:] = 0
    n_listed[:] = 0
    active[:] = 0
    scores[:] = 0
    stop_allowed = True
    if rec is not None:
        if rec.best_step.shape[0] != 0:
            rec.best_step[:] = 0
        stop_allowed = (
            rec.old_membrane.shape[0] == 0 and rec.new_current.shape[0] == 0 and rec.best_step.shape[0] == 0
        )
    e = first_event
    last_event = steps[end_event - 1] if end_event > first_event else -1
    next_check = last_event
    gap = 1
    readout = n_layers - 1
    for t in range(num_steps):
        first = e
        while e < end_event and steps[e] == t:
            e += 1
        network_step(layout, scratch, indices, first, e, scores, rec, t)
        for layer in range(n_layers - 1):
            base = n_off[layer]
            for q in range(n_listed[layer]):
                counts[base + spike_list[base + q]] += 1
        if rec is not None:
            if rec.spikes.shape[0] != 0:
                rec.spikes[t, :] = spikes[: rec.spikes.shape[1]]
            if rec.new_current.shape[0] != 0:
                rec.new_current[t, :] = current
                rec.new_membrane[t, :] = membrane
        if stop_allowed and t >= next_check:
            silent = True
            for layer in range(n_layers - 1):
                if not layer_silent(current, membrane, n_off[layer], widths[layer + 1], consts[layer]):
                    silent = False
                    break
            if silent:
                if rec is not None and rec.spikes.shape[0] != 0:
                    rec.spikes[t + 1 :, :] = 0
                # The readout's input sums are zero from here on (acc was consumed).
                for t_rest in range(t + 1, num_steps):
                    if active[readout] == 0:
                        break  # all zero and no input: stays zero, scores are final
                    active[readout] = readout_layer_update(
                        current,
                        membrane,
                        scratch.acc,
                        scores,
                        n_off[readout],
                        widths[readout + 1],
                        consts[readout],
                        None,
                        t_rest,
                    )
                break
            next_check = t + gap
            gap *= 2
    return argmax_lowest(scores, layout.n_outputs)
