"""The numba emulator: docs/fixed-point.md for whole batches, fast, bit-exact with :mod:`fxsnn.reference`.

Event-driven: at each step a layer's input sum (section 4.1) is built by adding one signed weight row per
input event (network inputs for the first layer, the previous layer's spikes of the same step otherwise),
so the cost grows with the number of spikes, not with the input size. A layer whose state is all zero and
which receives no event is skipped (it would stay zero and silent), and once the inputs have ended and the
hidden layers are provably silent, only the readout runs on (:func:`_layer_silent`). The neuron arithmetic
is :mod:`fxsnn._arith`'s; nothing here re-derives a rule. Layers are padded to whole vectors (``_LANES``)
with zero-weight neurons that stay at zero; the results leave them out.

Samples are independent: the batch is split into chunks processed in parallel (``prange``), each sample
writes only its own output rows, so the results never depend on the number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ._arith import MODE_MULTIPLY, cast_like, layer_constants, lif_layer_update, readout_layer_update
from ._jit import JIT
from .encode import EventBatch
from .network import Network

__all__ = ["simulate", "SimResult", "Trace", "firing_rates_hz", "state_dtype"]

#: Every layer's neurons are padded to a multiple of this many lanes (zero weights: a padding neuron's state
#: stays 0, so it never spikes, and its score stays 0, which the results drop): each layer loop is then
#: whole 8-lane int32 vectors with no scalar remainder. The readout's 10 neurons gain most (10 -> 16 lanes);
#: measured side by side, padding to 8 was 2 % faster than to 16 for a 100-neuron layer on AVX-512.
_LANES = 8

#: Samples per parallel work item: large enough to amortise the per-chunk scratch arrays, small enough to
#: balance two threads on small batches.
_CHUNK = 64


@dataclass(frozen=True, eq=False)
class Trace:
    """Every neuron's state at every step (docs/fixed-point.md section 4.6).

    Attributes
    ----------
    spikes : tuple of ndarray
        Per hidden layer, uint8 ``(n_samples, T, H_l)``: ``s[t]``.
    current : tuple of ndarray
        Per layer (hidden layers, then the readout), int64 ``(n_samples, T, N_l)``: ``I[t+1]``
        (readout: ``F[t+1]``).
    membrane : tuple of ndarray
        Per layer (hidden layers, then the readout), int64 ``(n_samples, T, N_l)``: ``V[t+1]``
        (readout: ``U[t+1]``).
    """

    spikes: tuple
    current: tuple
    membrane: tuple


@dataclass(frozen=True, eq=False)
class SimResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    scores : ndarray of int64, shape (n_samples, K)
        Section 4.5: ``max(U_k[0..T])`` (so ``>= 0``).
    predictions : ndarray of int64, shape (n_samples,)
        Arg-max of the scores, ties to the lowest class index.
    spike_counts : tuple of ndarray
        One int32 ``(n_samples, H_l)`` array per hidden layer: spikes of each neuron in the sample.
    input_events : ndarray of int64, shape (n_samples,)
        Input spike events of each sample.
    trace : Trace or None
        Full per-step state, only when ``simulate(..., trace=True)``.
    """

    scores: np.ndarray
    predictions: np.ndarray
    spike_counts: tuple
    input_events: np.ndarray
    trace: Trace | None = None

    @property
    def n_samples(self) -> int:
        return self.scores.shape[0]

    def synaptic_events(self, net: Network) -> np.ndarray:
        """Weight rows added per sample (int64): input events times the first layer's width, plus every
        hidden spike times the next layer's width. This is the work an event-driven core does."""
        total = self.input_events * net.layers[0].n_out
        for k, counts in enumerate(self.spike_counts):
            total = total + counts.sum(axis=1, dtype=np.int64) * net.layers[k + 1].n_out
        return total


@numba.njit(inline="always", **JIT)
def _add_rows(sources, first, last, weights, w_base, n_out, acc, a_base):
    """Section 4.1: ``acc[a_base + j] += w[i][j]`` for each source ``i = sources[first:last]``, exactly, in
    ``acc``'s type (the emulator only uses int32 where no partial sum can leave it, :func:`state_dtype`).
    ``weights`` holds signed weight terms: int32, or for the first layer (whose inputs are excitatory, so
    its terms are never negative) the narrowest of uint8, uint16 and int32 that holds them: a quarter or
    half of the bytes to read per event, which is what this loop is bound by.

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
def _network_step(
    in_indices,
    first,
    last,
    weights,
    in_weights,
    w_off,
    widths,
    n_off,
    consts,
    current,
    membrane,
    acc,
    spikes,
    spike_list,
    n_listed,
    active,
    scores,
):
    """One step of the whole network for one sample (section 4.4), in place.

    This step's input events are ``in_indices[first:last]``. Layer ``l`` owns entries
    ``n_off[l] .. n_off[l+1] - 1`` of the flat ``current``/``membrane``/``acc`` arrays (and of ``spikes``
    and ``spike_list`` if hidden), ``widths[l+1]`` of them (its neurons, padded to whole vectors); its
    weights are row-major with ``widths[l+1]`` columns: the first layer's terms are ``in_weights`` (uint8 or
    uint16 when they fit, see :func:`_pack`), a later layer's are ``weights[w_off[l]:w_off[l+1]]``.
    ``spike_list`` receives the indices of each hidden layer's spiking neurons, ``n_listed[l]`` how many;
    ``active[l]`` says whether the layer's state is nonzero; ``scores`` is updated with the readout's new
    ``U`` (section 4.5).
    """
    n_layers = consts.shape[0]
    for layer in range(n_layers):
        lo = n_off[layer]
        n_out = widths[layer + 1]
        is_hidden = layer < n_layers - 1
        n_src = last - first if layer == 0 else n_listed[layer - 1]
        if n_src == 0 and active[layer] == 0:
            # All-zero state and no input: the step leaves the layer zero and silent.
            if is_hidden and n_listed[layer] != 0:
                for j in range(lo, lo + n_out):
                    spikes[j] = 0
                n_listed[layer] = 0
            continue
        if layer == 0:
            _add_rows(in_indices, first, last, in_weights, 0, n_out, acc, lo)
        elif n_src != 0:
            prev = n_off[layer - 1]
            _add_rows(spike_list, prev, prev + n_src, weights, w_off[layer], n_out, acc, lo)
        if is_hidden:
            n_spikes, nonzero = lif_layer_update(current, membrane, acc, spikes, lo, n_out, consts, layer)
            active[layer] = nonzero
            if n_spikes != 0:
                # Branch-free compaction of the spiking neurons' indices.
                n = numba.uint64(lo)
                for j in range(n_out):
                    spike_list[n] = j
                    n += numba.uint64(spikes[numba.uint64(lo + j)])
            n_listed[layer] = n_spikes
        else:
            active[layer] = readout_layer_update(current, membrane, acc, scores, lo, n_out, consts, layer)


@numba.njit(inline="always", **JIT)
def _layer_silent(current, membrane, start, count, consts, layer):
    """Whether the hidden layer's neurons (entries ``start .. start + count - 1``, holding ``I[t+1]`` and
    ``V[t+1]``) can never spike again if they get no more input. Sufficient, not necessary: ``False`` only
    means "not proven".

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
    mode, frac = consts[layer, 2], consts[layer, 3]
    threshold = consts[layer, 6]
    one = np.int64(1) << frac
    # den = 0 where positive currents cannot be bounded: then any I > 0 fails ``I * 2**F <= 0``.
    den = one - consts[layer, 4] if mode == MODE_MULTIPLY else np.int64(0)
    failed = np.int64(0)
    for k in range(numba.uint64(count)):
        j = numba.uint64(start) + k
        i, v = np.int64(current[j]), np.int64(membrane[j])
        bad = (max(i, 0) * one > (threshold - max(v, 0)) * den) | (v > threshold)
        failed += np.int64(bad)
    return failed == 0


@numba.njit(inline="always", **JIT)
def _argmax_lowest(scores, count):
    """Section 4.5: index of the largest of ``scores[:count]`` (the readout's neurons, not its padding),
    ties to the lowest index."""
    best = 0
    for k in range(1, count):
        if scores[k] > scores[best]:
            best = k
    return best


@numba.njit(inline="always", **JIT)
def _run_sample(
    b,
    steps,
    indices,
    offsets,
    num_steps,
    weights,
    in_weights,
    w_off,
    sizes,
    widths,
    n_off,
    consts,
    scratch,
    scores,
    counts,
    record,
    tr_spikes,
    tr_current,
    tr_membrane,
):
    """Run sample ``b`` from the zero state (section 4.2: all state starts at 0); return its prediction.

    ``scratch`` holds the per-thread work arrays; ``scores`` and ``counts`` are the sample's output rows.
    With ``record``, the step's spikes and new state go to row ``b`` of the trace arrays (section 4.6).
    """
    current, membrane, acc, spikes, spike_list, n_listed, active = scratch
    n_layers = consts.shape[0]
    n_hidden = n_off[n_layers - 1]
    current[:] = 0
    membrane[:] = 0
    spikes[:] = 0
    n_listed[:] = 0
    active[:] = 0
    scores[:] = 0
    counts[:] = 0
    e = offsets[b]
    end = offsets[b + 1]
    # Early stop (not when recording a trace): from the step of the last input event on, once every hidden
    # layer is provably silent (_layer_silent, layer by layer: a silent layer sends the next one no input),
    # no hidden state can change any output again, so only the readout runs on. Checked at growing
    # intervals so a network that never qualifies (shift mode) pays for a few checks only.
    last_event = steps[end - 1] if end > e else -1
    next_check = last_event
    gap = 1
    readout = n_layers - 1
    for t in range(num_steps):
        first = e
        while e < end and steps[e] == t:
            e += 1
        _network_step(
            indices,
            first,
            e,
            weights,
            in_weights,
            w_off,
            widths,
            n_off,
            consts,
            current,
            membrane,
            acc,
            spikes,
            spike_list,
            n_listed,
            active,
            scores,
        )
        for layer in range(n_layers - 1):
            base = n_off[layer]
            for q in range(n_listed[layer]):
                counts[base + spike_list[base + q]] += 1
        if record:
            tr_spikes[b, t, :] = spikes[:n_hidden]
            tr_current[b, t, :] = current
            tr_membrane[b, t, :] = membrane
        elif t >= next_check:
            silent = True
            for layer in range(n_layers - 1):
                if not _layer_silent(current, membrane, n_off[layer], widths[layer + 1], consts, layer):
                    silent = False
                    break
            if silent:
                # The readout's input sums are zero from here on (acc was consumed).
                for _ in range(t + 1, num_steps):
                    if active[readout] == 0:
                        break  # all zero and no input: stays zero, scores are final
                    active[readout] = readout_layer_update(
                        current, membrane, acc, scores, n_off[readout], widths[readout + 1], consts, readout
                    )
                break
            next_check = t + gap
            gap *= 2
    return _argmax_lowest(scores, sizes[n_layers])


@numba.njit(inline="always", **JIT)
def _scratch(n_total, n_layers, state):
    """Per-thread work arrays: current, membrane, input sums (kept zero between steps; all three of
    ``state``'s dtype, the arithmetic type), spikes, spike lists, spike-list lengths and layer activity
    flags."""
    return (
        np.empty(n_total, state.dtype),
        np.empty(n_total, state.dtype),
        np.zeros(n_total, state.dtype),
        np.empty(n_total, dtype=np.uint8),
        np.empty(n_total, dtype=np.int32),
        np.empty(n_layers, dtype=np.int64),
        np.empty(n_layers, dtype=np.int64),
    )


@numba.njit(parallel=True, **JIT)
def _batch_kernel(
    steps,
    indices,
    offsets,
    num_steps,
    weights,
    in_weights,
    w_off,
    sizes,
    widths,
    n_off,
    consts,
    out_scores,
    out_predictions,
    out_counts,
    state,
    record,
    out_spikes,
    out_current,
    out_membrane,
):
    """Run every sample: write scores, predictions and per-neuron spike counts (flat over hidden layers),
    and with ``record`` every step's spikes and new state (section 4.6; the trace arrays are unused, and may
    be empty, without it). One kernel for both uses: one compilation, and traced and untraced runs cannot
    drift apart. ``state`` (an empty array) only carries the arithmetic type, int32 or int64
    (:func:`state_dtype`): numba compiles the kernel once for each."""
    n_samples = offsets.shape[0] - 1
    n_layers = consts.shape[0]
    n_chunks = (n_samples + _CHUNK - 1) // _CHUNK
    for chunk in numba.prange(n_chunks):
        scratch = _scratch(n_off[n_layers], n_layers, state)
        for b in range(chunk * _CHUNK, min(n_samples, (chunk + 1) * _CHUNK)):
            out_predictions[b] = _run_sample(
                b,
                steps,
                indices,
                offsets,
                num_steps,
                weights,
                in_weights,
                w_off,
                sizes,
                widths,
                n_off,
                consts,
                scratch,
                out_scores[b],
                out_counts[b],
                record,
                out_spikes,
                out_current,
                out_membrane,
            )


def _pack(net: Network):
    """Flatten the network for the kernels: the first layer's weight terms in the narrowest of uint8,
    uint16 and int32 that holds its largest term ``weight_max << weight_shift`` (its inputs are excitatory,
    so no term is negative), the later layers' signed weight terms (int32), offsets, constants, and the
    arithmetic type (:func:`state_dtype`)."""
    n_layers = len(net.layers)
    sizes = np.array(net.sizes, dtype=np.int64)
    widths = sizes.copy()
    widths[1:] = -(-sizes[1:] // _LANES) * _LANES
    n_off = np.zeros(n_layers + 1, dtype=np.int64)
    np.cumsum(widths[1:], out=n_off[1:])
    signed = []
    for k in range(n_layers):
        padded = np.zeros((sizes[k], widths[k + 1]), dtype=np.int64)
        padded[:, : sizes[k + 1]] = net.signed_weights(k)
        signed.append(padded)
    # |term| <= state_max < 2**31 (the Network checks it), so int32 holds every signed weight term
    # (the first layer's block stays empty: the kernels read in_weights instead)
    blocks = [np.zeros(0, np.int32)] + [w.astype(np.int32).ravel() for w in signed[1:]]
    w_off = np.zeros(n_layers + 1, dtype=np.int64)
    np.cumsum([b.size for b in blocks], out=w_off[1:])
    weights = np.ascontiguousarray(np.concatenate(blocks), dtype=np.int32)
    consts = np.ascontiguousarray(
        np.stack([layer_constants(layer.params) for layer in net.layers]), dtype=np.int64
    )
    first = net.layers[0].params
    largest = first.weight_max << first.weight_shift
    in_type = next(t for t in (np.uint8, np.uint16, np.int32) if largest <= np.iinfo(t).max)
    in_weights = np.ascontiguousarray(signed[0], dtype=in_type).ravel()
    return in_weights, weights, w_off, sizes, widths, n_off, consts, _state_dtype(net, signed)


#: int32 arithmetic is exact if every value the step computes lies in int32 (docs/fixed-point.md section 4.2:
#: ``|decay(I) + acc| <= 2**(B-1) + max|acc|`` and ``|decay(V) + I - s * theta| <= 2**B``).
_INT32_MAX = (1 << 31) - 1


def state_dtype(net: Network) -> type:
    """The integer type the emulator computes ``net`` in: ``np.int32`` when no intermediate value of any
    layer can leave int32, else ``np.int64``. The results are identical either way; int32 runs about
    twice as many neurons per SIMD instruction.

    Bounds per layer with ``B = state_bits``: the state is within ``2**(B-1)``; a step's input sum is within
    the larger of the positive and the negative weight terms' column sums (every partial sum too); the
    current update then stays within ``2**(B-1) + max|acc|`` and the membrane update within ``2**B``.
    """
    if not isinstance(net, Network):
        raise TypeError(f"state_dtype() needs a fxsnn.network.Network, not {type(net).__name__}")
    return _state_dtype(net, [net.signed_weights(k) for k in range(len(net.layers))])


def _state_dtype(net: Network, signed: list) -> type:
    """:func:`state_dtype` given each layer's signed weight terms (``_pack`` has them already)."""
    for layer, w in zip(net.layers, signed, strict=True):
        state_bound = 1 << (layer.params.state_bits - 1)
        acc_bound = max(
            int(np.where(w > 0, w, 0).sum(axis=0, dtype=np.int64).max()),
            int(np.where(w < 0, -w, 0).sum(axis=0, dtype=np.int64).max()),
        )
        if 2 * state_bound > _INT32_MAX or state_bound + acc_bound > _INT32_MAX:
            return np.int64
    return np.int32


@numba.njit(**JIT)
def _events_in_range(steps, indices, num_steps, num_inputs):
    """``(all steps in [0, num_steps), all indices in [0, num_inputs))``, in one vectorised pass over both
    arrays (four numpy reductions took ~4 % of a 2-thread run of the Fashion-MNIST test set)."""
    lo_s, hi_s, lo_i, hi_i = steps[0], steps[0], indices[0], indices[0]
    for e in range(steps.shape[0]):
        lo_s = min(lo_s, steps[e])
        hi_s = max(hi_s, steps[e])
        lo_i = min(lo_i, indices[e])
        hi_i = max(hi_i, indices[e])
    return lo_s >= 0 and hi_s < num_steps, lo_i >= 0 and hi_i < num_inputs


def _check(net: Network, events: EventBatch) -> None:
    if not isinstance(net, Network):
        raise TypeError(f"simulate() needs a fxsnn.network.Network, not {type(net).__name__}")
    if not isinstance(events, EventBatch):
        raise TypeError(f"simulate() needs a fxsnn.encode.EventBatch, not {type(events).__name__}")
    if events.num_inputs != net.n_inputs:
        raise ValueError(
            f"the events are for {events.num_inputs} inputs but the network has {net.n_inputs}; "
            f"encode the data for this network's input size"
        )
    if events.num_steps != net.num_steps:
        raise ValueError(
            f"the events span {events.num_steps} steps but the network runs {net.num_steps} steps a sample; "
            f"encode with num_steps={net.num_steps} (or build the network with num_steps={events.num_steps})"
        )
    # EventBatch validates ranges and order on construction; re-check the arrays the kernels index, so a
    # hand-built object cannot make them read out of bounds.
    for name in ("steps", "indices"):
        arr = getattr(events, name)
        if arr.dtype != np.int32 or arr.ndim != 1 or not arr.flags.c_contiguous:
            raise ValueError(
                f"events.{name} must be a contiguous 1-D int32 array, got {arr.dtype} {arr.shape}"
            )
    offsets = events.offsets
    if offsets.dtype != np.int64 or offsets.ndim != 1 or offsets.size < 1:
        raise ValueError("events.offsets must be a non-empty 1-D int64 array")
    if offsets[0] != 0 or offsets[-1] != events.steps.size or (np.diff(offsets) < 0).any():
        raise ValueError("events.offsets must rise from 0 to the number of events")
    if events.steps.size:
        step_ok, index_ok = _events_in_range(events.steps, events.indices, net.num_steps, net.n_inputs)
        if not step_ok:
            raise ValueError(f"event steps must be in [0, {net.num_steps - 1}]")
        if not index_ok:
            raise ValueError(f"event indices must be in [0, {net.n_inputs - 1}]")


def _split(flat: np.ndarray, n_off: np.ndarray, sizes: np.ndarray, n_layers: int) -> tuple:
    """Per layer, its neurons' columns of ``flat`` (the padding lanes dropped)."""
    return tuple(
        np.ascontiguousarray(flat[..., n_off[k] : n_off[k] + sizes[k + 1]]) for k in range(n_layers)
    )


def simulate(
    net: Network,
    events: EventBatch,
    *,
    trace: bool = False,
    threads: int | None = None,
    progress: bool = False,
) -> SimResult:
    """Run a batch of samples through ``net`` with the integer arithmetic of docs/fixed-point.md.

    Parameters
    ----------
    net : Network
        The integer network.
    events : EventBatch
        Input spike events; ``events.num_inputs`` must equal ``net.n_inputs`` and ``events.num_steps``
        must equal ``net.num_steps``.
    trace : bool
        Also record every neuron's spike and state at every step (:class:`Trace`); memory grows as
        ``n_samples * T * neurons * 17`` bytes.
    threads : int or None
        numba threads to use (``None``: numba's current setting). Results never depend on it.
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    SimResult

    Raises
    ------
    ValueError
        If the events do not fit the network (input count, number of steps, bad arrays) or ``threads`` is
        out of range.
    """
    _check(net, events)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
            raise ValueError(f"threads must be an integer or None, not {threads!r}")
        if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(
                f"threads must be in [1, {numba.config.NUMBA_NUM_THREADS}] (numba's thread pool size), "
                f"not {threads!r}"
            )
    in_weights, weights, w_off, sizes, widths, n_off, consts, dtype = _pack(net)
    state = np.empty(0, dtype=dtype)  # carries the arithmetic type into the kernel
    n_layers = len(net.layers)
    n_samples = events.n_samples
    n_total = int(n_off[-1])
    n_hidden = int(n_off[-2])
    num_steps = net.num_steps

    scores = np.zeros((n_samples, widths[-1]), dtype=np.int64)
    predictions = np.zeros(n_samples, dtype=np.int64)
    counts = np.zeros((n_samples, n_hidden), dtype=np.int32)
    trace_shape = (n_samples, num_steps) if trace else (0, 0)  # the kernel ignores empty trace arrays
    tr_spikes = np.zeros((*trace_shape, n_hidden if trace else 0), dtype=np.uint8)
    tr_current = np.zeros((*trace_shape, n_total if trace else 0), dtype=np.int64)
    tr_membrane = np.zeros((*trace_shape, n_total if trace else 0), dtype=np.int64)

    # Progress: run the batch in slices (each still parallel inside); without a bar, one slice.
    slice_size = max(_CHUNK * 64, 1) if progress else max(n_samples, 1)
    bounds = list(range(0, n_samples, slice_size)) + [n_samples]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_samples, unit="sample", desc="simulate", disable=None)
    previous_threads = numba.get_num_threads()
    try:
        if threads is not None:
            numba.set_num_threads(int(threads))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            offsets = events.offsets[lo : hi + 1]
            first, last = offsets[0], offsets[-1]
            ev_steps = events.steps[first:last]
            ev_indices = events.indices[first:last]
            local_offsets = offsets - first
            trace_rows = slice(lo, hi) if trace else slice(0, 0)
            _batch_kernel(
                ev_steps,
                ev_indices,
                local_offsets,
                num_steps,
                weights,
                in_weights,
                w_off,
                sizes,
                widths,
                n_off,
                consts,
                scores[lo:hi],
                predictions[lo:hi],
                counts[lo:hi],
                state,
                trace,
                tr_spikes[trace_rows],
                tr_current[trace_rows],
                tr_membrane[trace_rows],
            )
            if bar is not None:
                bar.update(hi - lo)
    finally:
        if threads is not None:
            numba.set_num_threads(previous_threads)
        if bar is not None:
            bar.close()

    spike_counts = _split(counts, n_off, sizes, n_layers - 1)
    input_events = np.diff(events.offsets).astype(np.int64)
    result_trace = None
    if trace:
        result_trace = Trace(
            spikes=_split(tr_spikes, n_off, sizes, n_layers - 1),
            current=_split(tr_current, n_off, sizes, n_layers),
            membrane=_split(tr_membrane, n_off, sizes, n_layers),
        )
    scores = np.ascontiguousarray(scores[:, : net.n_outputs])
    return SimResult(scores, predictions, spike_counts, input_events, result_trace)


def firing_rates_hz(spike_counts_layer: np.ndarray, num_steps: int, dt_ms: float = 1.0) -> np.ndarray:
    """Mean firing rate of each neuron in Hz: spikes per sample / (T * dt).

    Parameters
    ----------
    spike_counts_layer : ndarray, shape (n_samples, H)
        One hidden layer's spike counts (``SimResult.spike_counts[l]``).
    num_steps : int
        Steps per sample, T.
    dt_ms : float
        Step length in milliseconds (the paper's dt = 1 ms).

    Returns
    -------
    ndarray of float64, shape (H,)
        Per-neuron rate averaged over samples. Its mean over neurons is the paper's firing rate
        (hidden spikes per sample / hidden neurons / (T * dt)).
    """
    counts = np.asarray(spike_counts_layer)
    if counts.ndim != 2:
        raise ValueError(f"spike counts must be (samples, neurons), got shape {counts.shape}")
    if counts.shape[0] == 0:
        raise ValueError("no samples: firing rates need at least one sample")
    if not num_steps >= 1 or not dt_ms > 0:
        raise ValueError(f"num_steps must be >= 1 and dt_ms > 0, got {num_steps!r} and {dt_ms!r}")
    seconds = num_steps * dt_ms / 1000.0
    return counts.mean(axis=0, dtype=np.float64) / seconds
