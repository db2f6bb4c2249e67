"""The numba kernels of training: the shared forward step with a recorder, the backward pass, the loss.

Forward: :func:`fxsnn._step.run_sample`, the network step the emulator runs, with a
:class:`~fxsnn._step.Recorder` that keeps what the backward pass needs (every hidden neuron's membrane before
each step's update, its spikes, and the step of each score's maximum). Integer mode runs docs/fixed-point.md
sections 4.1-4.5 on int64 state, so its scores and spike counts are the emulator's (``tests/test_training.py``
holds them equal); float mode runs the same step on float64 state with
:func:`fxsnn._arith.float_layer_constants`: the paper's float equations (threshold 1, no quantisation, no
saturation).

Backward: the float relaxation of the same network in float units (state = integer / sigma, decay factors
``a = d / 2**F`` and ``b`` likewise, threshold ``theta / sigma``)::

    s[t]   = H(v[t] - theta)                     surrogate ds/dv = 1 / (100 |v - theta| + 1)**2
    i[t+1] = a i[t] + W^T x[t]
    v[t+1] = (b v[t] + i[t]) (1 - s[t])          (zero reset; the reset is not differentiated, as the paper)
    f[t+1] = a f[t] + W^T s[t];  u[t+1] = b u[t] + f[t]
    score_k = u_k[t*_k] (t*_k the first step of the maximum, U[0] = 0 included); loss = CE(softmax(score))

with straight-through gradients for the weight quantisation (and for saturation): the gradient with respect
to the effective (quantised) weights is applied to float shadow weights (:mod:`fxsnn.training.trainer`).

Determinism: a batch is split into :data:`NUM_CHUNKS` fixed chunks (independent of the thread count), the
chunks run in parallel, each accumulates its samples' gradients sequentially into its own buffer, and the
buffers are summed in chunk order. Integer weights are therefore bit-identical across reruns and thread
counts.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from .._jit import JIT
from .._step import Layout, Recorder, make_scratch, padded_widths, run_sample

__all__ = ["NUM_CHUNKS", "SURROGATE_SCALE", "FloatLayers", "Kernels"]

#: Fixed number of gradient chunks per batch (results do not depend on the number of threads).
NUM_CHUNKS = 16
#: The paper's fast-sigmoid surrogate scale.
SURROGATE_SCALE = 100.0

#: Per layer, the float relaxation the backward pass differentiates: decay factors ``a`` (current) and ``b``
#: (membrane), threshold ``theta`` and ``reset_zero`` in float units, and ``inv_sigma`` (float units per
#: integer state unit; 1 in float mode).
FloatLayers = namedtuple("FloatLayers", ["a", "b", "theta", "reset_zero", "inv_sigma"])
#: Per chunk, the backward pass's gradients with respect to the membrane, the current and the spikes of
#: every neuron at the step being processed, and the weight gradient accumulated over the chunk's samples.
_Gradients = namedtuple("_Gradients", ["gv", "gi", "gs", "grad"])

_U = numba.uint64  # unsigned indices: numba then emits no negative-index wrap-around, so loops vectorise


@numba.njit(inline="always", **JIT)
def _add_into(dst, row, src, base, n):
    """``dst[row:row + n] += src[base:base + n]``."""
    for j in range(n):
        dst[_U(row + j)] += src[_U(base + j)]


@numba.njit(inline="always", **JIT)
def _dot(w, row, g, base, n):
    """``sum(w[row:row + n] * g[base:base + n])`` in index order."""
    total = 0.0
    for j in range(n):
        total += w[_U(row + j)] * g[_U(base + j)]
    return total


@numba.njit(**JIT)
def _backward_sample(sample, events, layout, w_flt, fl, v_rec, s_rec, best_t, g_score, grads):
    """Backpropagate ``g_score`` (dL/dscore) of one sample through the float relaxation; accumulate the
    weight gradient into ``grads.grad``. ``v_rec``, ``s_rec``, ``best_t`` are the sample's forward record
    (membranes in state units, converted with ``fl.inv_sigma``)."""
    steps, indices, offsets = events
    gv, gi, gs, grad = grads
    sizes, w_off, h_off = layout.widths, layout.w_off, layout.n_off
    n_layers = layout.consts.shape[0]
    n_hidden_layers = n_layers - 1
    for ly in range(n_layers):
        for j in range(sizes[ly + 1]):
            gv[h_off[ly] + j] = 0.0
            gi[h_off[ly] + j] = 0.0
    L = n_layers - 1
    k_out = sizes[n_layers]
    ro = h_off[L]
    # After the latest argmax step t_last nothing reaches the loss: start there. gu[t_last] gets the score
    # gradient of the classes whose maximum is at t_last; gf[t_last] = 0 (f[t_last] only feeds later u).
    t_last = 0
    for k in range(k_out):
        if best_t[k] > t_last:
            t_last = best_t[k]
    for k in range(k_out):
        if best_t[k] == t_last and t_last > 0:
            gv[ro + k] = g_score[k]
    e = offsets[sample + 1]
    e_start = offsets[sample]
    while e > e_start and steps[e - 1] >= t_last:
        e -= 1
    for t in range(t_last - 1, -1, -1):
        e1 = e
        while e > e_start and steps[e - 1] == t:
            e -= 1
        # readout: gv holds gu, gi holds gf (values at t+1)
        n_in = sizes[L]
        pb = h_off[L - 1]
        wb = w_off[L]
        a = fl.a[L]
        b = fl.b[L]
        for j in range(n_in):
            row = wb + j * k_out
            gs[_U(pb + j)] = _dot(w_flt, row, gi, ro, k_out)
            if s_rec[t, _U(pb + j)] != 0:
                _add_into(grad, row, gi, ro, k_out)
        for k in range(k_out):
            gu_old = gv[ro + k]
            inject = g_score[k] if (best_t[k] == t and t > 0) else 0.0
            gv[ro + k] = b * gu_old + inject
            gi[ro + k] = a * gi[ro + k] + gu_old
        # hidden layers, top to bottom
        for ly in range(n_hidden_layers - 1, -1, -1):
            n_out = sizes[ly + 1]
            base = h_off[ly]
            wb = w_off[ly]
            if ly == 0:
                for ee in range(e, e1):
                    _add_into(grad, wb + indices[ee] * n_out, gi, base, n_out)
            else:
                pb = h_off[ly - 1]
                for p in range(sizes[ly]):
                    row = wb + p * n_out
                    gs[_U(pb + p)] = _dot(w_flt, row, gi, base, n_out)
                    if s_rec[t, _U(pb + p)] != 0:
                        _add_into(grad, row, gi, base, n_out)
            a = fl.a[ly]
            b = fl.b[ly]
            th = fl.theta[ly]
            isg = fl.inv_sigma[ly]
            zero = fl.reset_zero[ly]
            for jj in range(n_out):
                q = _U(base + jj)
                gv_old = gv[q]
                d = SURROGATE_SCALE * abs(v_rec[t, q] * isg - th) + 1.0
                g_spike = gs[q] / (d * d)
                keep = 0.0 if (zero and s_rec[t, q] != 0) else 1.0
                gv[q] = g_spike + keep * b * gv_old
                gi[q] = a * gi[q] + keep * gv_old


@numba.njit(inline="always", **JIT)
def _softmax_loss(scores, inv_sigma, k_out, label, n, g_score, backward):
    """Cross-entropy of softmax(scores * inv_sigma) for ``label``; with ``backward``, ``g_score`` gets
    dL/dscore of the batch's mean loss (divided by ``n``). ``scores`` are replaced by their float value."""
    for k in range(k_out):
        scores[k] = scores[k] * inv_sigma
    m = scores[0]
    for k in range(k_out):
        if scores[k] > m:
            m = scores[k]
    z = 0.0
    for k in range(k_out):
        z += math.exp(scores[k] - m)
    if backward:
        for k in range(k_out):
            p = math.exp(scores[k] - m) / z
            g_score[k] = (p - (1.0 if k == label else 0.0)) / n
    return math.log(z) + m - scores[label]


@numba.njit(parallel=True, **JIT)
def _batch_kernel(batch, labels, events, num_steps, layout, w_flt, fl, state, bufs, backward):
    """Forward (and backward) over ``batch`` (sample indices), split into the chunks of the buffers' first
    axis.

    Per chunk c: ``bufs.grad[c]`` accumulates the gradient of the mean loss (divided by len(batch)),
    ``bufs.counts[c]`` the hidden spike counts. Per sample r of the batch: ``bufs.losses[r]``,
    ``bufs.predictions[r]`` and the scores in float units ``bufs.scores[r]``.
    """
    steps, indices, offsets = events
    n_chunks = bufs.grad.shape[0]
    n = batch.shape[0]
    n_layers = layout.consts.shape[0]
    k_out = layout.n_outputs
    readout_inv_sigma = fl.inv_sigma[n_layers - 1]
    # Every buffer as a plain local array: numba's parfor lowering drops writes to elements of an array that
    # it reaches through a tuple argument inside the prange (writes through views made inside it work).
    losses, predictions, scores, counts, grad = (
        bufs.losses,
        bufs.predictions,
        bufs.scores,
        bufs.counts,
        bufs.grad,
    )
    v_rec, s_rec, best_t, unused, g_score = (
        bufs.v_rec,
        bufs.s_rec,
        bufs.best_t,
        bufs.unused_record,
        bufs.g_score,
    )
    gv, gi, gs = bufs.gv, bufs.gi, bufs.gs
    for c in numba.prange(n_chunks):
        if backward:
            grad[c, :] = 0.0
        counts[c, :] = 0
        scratch = make_scratch(layout.n_off[n_layers], n_layers, state)
        sample_scores = np.zeros(k_out, dtype=state.dtype)
        rec = Recorder(v_rec[c], s_rec[c], unused, unused, best_t[c])
        grads = _Gradients(gv[c], gi[c], gs[c], grad[c])
        lo = (c * n) // n_chunks
        hi = ((c + 1) * n) // n_chunks
        for r in range(lo, hi):
            sample = batch[r]
            predictions[r] = run_sample(
                layout,
                scratch,
                steps,
                indices,
                offsets[sample],
                offsets[sample + 1],
                num_steps,
                sample_scores,
                counts[c],
                rec,
            )
            for k in range(k_out):
                scores[r, k] = sample_scores[k]
            losses[r] = _softmax_loss(
                scores[r], readout_inv_sigma, k_out, labels[sample], n, g_score[c], backward
            )
            if backward:
                _backward_sample(
                    sample, events, layout, w_flt, fl, v_rec[c], s_rec[c], best_t[c], g_score[c], grads
                )


_Buffers = namedtuple(
    "_Buffers",
    [
        "v_rec",
        "s_rec",
        "best_t",
        "unused_record",
        "g_score",
        "gv",
        "gi",
        "gs",
        "grad",
        "counts",
        "losses",
        "predictions",
        "scores",
    ],
)


class Kernels:
    """The layout offsets of a training network and the per-chunk buffers of :func:`_batch_kernel`.

    Parameters
    ----------
    sizes : sequence of int
        ``(n_inputs, hidden..., n_outputs)``.
    num_steps : int
    max_batch : int
        Largest batch the buffers must hold outputs for.
    float_mode : bool
        Float64 state (the paper's float equations) instead of int64.

    Attributes
    ----------
    buffers : named tuple of ndarray
        The per-chunk and per-sample buffers below.
    w_off : ndarray of int64
        Layer ``k``'s weights are ``flat[w_off[k] : w_off[k+1]]`` of a flat weight vector, row-major
        ``(sizes[k], sizes[k+1])``.
    h_off : ndarray of int64
        Layer ``k``'s neurons are entries ``h_off[k] .. h_off[k+1] - 1`` of the flat neuron arrays.
    buffers.v_rec, buffers.s_rec, buffers.best_t : ndarray
        Per chunk, the forward record of the chunk's last sample: hidden membranes before each step
        (state units), hidden spikes, and the step of each score's maximum.
    buffers.grad, buffers.counts : ndarray
        Per chunk, the weight gradient and the hidden spike counts of its samples.
    buffers.losses, buffers.predictions, buffers.scores : ndarray
        Per sample of the batch: loss, prediction and scores in float units.
    """

    def __init__(
        self, sizes, num_steps: int, max_batch: int, n_chunks: int = NUM_CHUNKS, float_mode: bool = False
    ):
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.n_layers = len(sizes) - 1
        self.num_steps = int(num_steps)
        self.float_mode = bool(float_mode)
        widths, self.h_off = padded_widths(self.sizes, 1)
        n_w = [int(sizes[k] * sizes[k + 1]) for k in range(self.n_layers)]
        self.w_off = np.zeros(self.n_layers + 1, dtype=np.int64)
        np.cumsum(n_w, out=self.w_off[1:])
        n_neurons = int(self.h_off[-1])
        n_hidden = int(self.h_off[self.n_layers - 1])
        k_out = int(self.sizes[-1])
        self.n_chunks = c = n_chunks
        self.state = np.empty(0, np.float64 if float_mode else np.int64)
        self.buffers = _Buffers(
            v_rec=np.zeros((c, self.num_steps, n_hidden), self.state.dtype),
            s_rec=np.zeros((c, self.num_steps, n_hidden), np.uint8),
            best_t=np.zeros((c, k_out), np.int64),
            unused_record=np.zeros((0, 0), self.state.dtype),
            g_score=np.zeros((c, k_out), np.float64),
            gv=np.zeros((c, n_neurons), np.float64),
            gi=np.zeros((c, n_neurons), np.float64),
            gs=np.zeros((c, n_neurons), np.float64),
            grad=np.zeros((c, int(self.w_off[-1])), np.float64),
            counts=np.zeros((c, n_hidden), np.int64),
            losses=np.zeros(max_batch, np.float64),
            predictions=np.zeros(max_batch, np.int64),
            scores=np.zeros((max_batch, k_out), np.float64),
        )
        self.n_hidden = n_hidden

    def layout(self, w_run, consts) -> Layout:
        """The :class:`~fxsnn._step.Layout` of flat weight terms ``w_run`` (int64 integer terms, or float
        weights in float mode) and per-layer constants ``consts``."""
        widths = self.sizes  # no padding: the weight gradients keep the (n_in, n_out) layout
        return Layout(w_run, w_run, self.w_off, widths, self.h_off, consts, np.int64(self.sizes[-1]))

    def run(self, batch, labels, events, w_run, w_flt, consts, float_layers: FloatLayers, backward: bool):
        """Run the kernel on ``batch`` (int64 sample indices into ``events``); results are in the buffers.

        ``w_run`` are the weights the forward pass computes with (integer terms, or float weights in float
        mode), ``w_flt`` their float values the backward pass differentiates through.
        """
        _batch_kernel(
            batch,
            labels,
            (events.steps, events.indices, events.offsets),
            self.num_steps,
            self.layout(w_run, consts),
            w_flt,
            float_layers,
            self.state,
            self.buffers,
            backward,
        )
