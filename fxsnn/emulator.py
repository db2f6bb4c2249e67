"""The numba emulator: docs/fixed-point.md for whole batches, fast, bit-exact with :mod:`fxsnn.reference`.

:func:`simulate` packs the network (:func:`_pack`) and runs :func:`fxsnn._step.run_sample`, the one network
step the training forward pass shares, on every sample. Layers are padded to whole vectors (``_LANES``) with
zero-weight neurons that stay at zero; the results leave them out. Untraced runs stop a sample's hidden
layers early once they are provably silent after its last input event (:func:`fxsnn._step.layer_silent`).

Samples are independent: the batch is split into chunks processed in parallel (``prange``), each sample
writes only its own output rows, so the results never depend on the number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ._arith import layer_constants
from ._jit import JIT
from ._step import Layout, Recorder, make_scratch, padded_widths, run_sample
from .encode import EventBatch
from .network import Network

__all__ = ["simulate", "SimResult", "Trace", "state_dtype"]

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
    current : tuple of ndarray, or None
        Per layer (hidden layers, then the readout), int64 ``(n_samples, T, N_l)``: ``I[t+1]`` (readout:
        ``F[t+1]``). None for a trace of spikes only (``simulate(..., trace="spikes")``).
    membrane : tuple of ndarray, or None
        Per layer, int64 ``(n_samples, T, N_l)``: ``V[t+1]`` (readout: ``U[t+1]``). None for a trace of
        spikes only.
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


@numba.njit(parallel=True, **JIT)
def _batch_kernel(events, num_steps, layout, state, out_scores, out_predictions, out_counts, out_trace):
    """Run every sample of ``events`` (``(steps, indices, offsets)``): write scores, predictions and
    per-neuron spike counts (flat over hidden layers), and with ``out_trace`` (``(spikes, current,
    membrane, unused_2d, unused_1d)``, or None) every step's spikes and new state (section 4.6; the trace
    records nothing else, so the recorder's other fields are the two empty arrays). ``state`` (an empty
    array) only carries the arithmetic type, int32 or int64 (:func:`state_dtype`): numba compiles the kernel
    once for each, with and without the trace.

    :func:`fxsnn._step.run_sample` is called, not inlined: inlined into this prange, numba 0.68 mixed up the
    recorder's arrays (traced runs differed from the reference), and one call per sample costs nothing."""
    steps, indices, offsets = events
    n_samples = offsets.shape[0] - 1
    n_layers = layout.consts.shape[0]
    n_chunks = (n_samples + _CHUNK - 1) // _CHUNK
    for chunk in numba.prange(n_chunks):
        scratch = make_scratch(layout.n_off[n_layers], n_layers, state)
        lo, hi = chunk * _CHUNK, min(n_samples, (chunk + 1) * _CHUNK)
        if out_trace is None:
            for b in range(lo, hi):
                out_predictions[b] = run_sample(
                    layout,
                    scratch,
                    steps,
                    indices,
                    offsets[b],
                    offsets[b + 1],
                    num_steps,
                    out_scores[b],
                    out_counts[b],
                    None,
                )
        else:
            tr_spikes, tr_current, tr_membrane, tr_unused_2d, tr_unused_1d = out_trace
            for b in range(lo, hi):
                out_predictions[b] = run_sample(
                    layout,
                    scratch,
                    steps,
                    indices,
                    offsets[b],
                    offsets[b + 1],
                    num_steps,
                    out_scores[b],
                    out_counts[b],
                    Recorder(tr_unused_2d, tr_spikes[b], tr_current[b], tr_membrane[b], tr_unused_1d),
                )


def _pack(net: Network):
    """Flatten the network for the kernels: the first layer's weight terms in the narrowest of uint8,
    uint16 and int32 that holds its largest term ``weight_max << weight_shift`` (its inputs are excitatory,
    so no term is negative), the later layers' signed weight terms (int32), offsets, constants, and the
    arithmetic type (:func:`state_dtype`). Returns ``(Layout, sizes, dtype)``."""
    n_layers = len(net.layers)
    sizes = np.array(net.sizes, dtype=np.int64)
    widths, n_off = padded_widths(sizes, _LANES)
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
    consts = layer_constants(*(layer.params for layer in net.layers))
    first = net.layers[0].params
    largest = first.weight_max << first.weight_shift
    in_type = next(t for t in (np.uint8, np.uint16, np.int32) if largest <= np.iinfo(t).max)
    in_weights = np.ascontiguousarray(signed[0], dtype=in_type).ravel()
    layout = Layout(in_weights, weights, w_off, widths, n_off, consts, np.int64(net.n_outputs))
    return layout, sizes, _state_dtype(net, signed)


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
    return tuple(np.ascontiguousarray(flat[..., n_off[k] : n_off[k] + sizes[k + 1]]) for k in range(n_layers))


def simulate(
    net: Network,
    events: EventBatch,
    *,
    trace: bool | str = False,
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
    trace : bool or "spikes"
        True: also record every neuron's spike and state at every step (:class:`Trace`); memory grows as
        ``n_samples * T * neurons * 17`` bytes. ``"spikes"``: the hidden layers' spikes only (``n_samples *
        T * hidden neurons`` bytes, and hidden layers still stop early once provably silent), e.g. for
        :func:`fxsnn.analysis.van_rossum_matrix`.
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
    if trace not in (False, True, "spikes"):
        raise ValueError(f"trace must be False, True or 'spikes', not {trace!r}")
    full = trace is True
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
            raise ValueError(f"threads must be an integer or None, not {threads!r}")
        if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(
                f"threads must be in [1, {numba.config.NUMBA_NUM_THREADS}] (numba's thread pool size), "
                f"not {threads!r}"
            )
    layout, sizes, dtype = _pack(net)
    widths, n_off = layout.widths, layout.n_off
    state = np.empty(0, dtype=dtype)  # carries the arithmetic type into the kernel
    n_layers = len(net.layers)
    n_samples = events.n_samples
    n_total = int(n_off[-1])
    n_hidden = int(n_off[-2])
    num_steps = net.num_steps

    scores = np.zeros((n_samples, widths[-1]), dtype=np.int64)
    predictions = np.zeros(n_samples, dtype=np.int64)
    counts = np.zeros((n_samples, n_hidden), dtype=np.int32)
    if trace:
        state_shape = (num_steps, n_total) if full else (0, 0)  # empty: the recorder leaves the state out
        tr_spikes = np.zeros((n_samples, num_steps, n_hidden), dtype=np.uint8)
        tr_current = np.zeros((n_samples, *state_shape), dtype=np.int64)
        tr_membrane = np.zeros((n_samples, *state_shape), dtype=np.int64)

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
            out_trace = None
            if trace:
                unused = (np.zeros((0, 0), np.int64), np.zeros(0, np.int64))
                out_trace = (tr_spikes[lo:hi], tr_current[lo:hi], tr_membrane[lo:hi], *unused)
            _batch_kernel(
                (ev_steps, ev_indices, local_offsets),
                num_steps,
                layout,
                state,
                scores[lo:hi],
                predictions[lo:hi],
                counts[lo:hi],
                out_trace,
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
            current=_split(tr_current, n_off, sizes, n_layers) if full else None,
            membrane=_split(tr_membrane, n_off, sizes, n_layers) if full else None,
        )
    scores = np.ascontiguousarray(scores[:, : net.n_outputs])
    return SimResult(scores, predictions, spike_counts, input_events, result_trace)
