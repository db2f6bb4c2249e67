"""Surrogate-gradient training whose forward pass is the integer arithmetic of docs/fixed-point.md.

Forward (integer mode): every layer runs exactly the rules of sections 4.1-4.5 through the shared
kernels :func:`fxsnn._arith.lif_layer_update` and :func:`fxsnn._arith.readout_neuron`, event-driven over the
input events; the tests hold its scores and spike counts equal to :func:`fxsnn.emulator.simulate`.

Backward: the float relaxation of the same network in float units (state = integer / sigma, decay factors
``a = d / 2**F`` and ``b`` likewise, threshold ``theta / sigma``)::

    s[t]   = H(v[t] - theta)                     surrogate ds/dv = 1 / (100 |v - theta| + 1)**2
    i[t+1] = a i[t] + W^T x[t]
    v[t+1] = (b v[t] + i[t]) (1 - s[t])          (zero reset; the reset is not differentiated, as the paper)
    f[t+1] = a f[t] + W^T s[t];  u[t+1] = b u[t] + f[t]
    score_k = u_k[t*_k] (t*_k the first step of the maximum, U[0] = 0 included); loss = CE(softmax(score))

with straight-through gradients for the weight quantisation (and for saturation): the gradient with respect
to the effective (quantised) weights is applied to float shadow weights. Float mode runs the paper's float64
equations forward (threshold 1, no quantisation) and the same backward.

Determinism: a batch is split into :data:`NUM_CHUNKS` fixed chunks (independent of the thread count), the
chunks run in parallel, each accumulates its samples' gradients sequentially into its own buffer, and the
buffers are summed in chunk order. Integer weights are therefore bit-identical across reruns and thread
counts.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from .._arith import layer_constants, layer_decay_factors, lif_layer_update, readout_neuron
from ..network import INHIBITORY, Network
from ..quantize import float_decays

__all__ = [
    "NUM_CHUNKS",
    "SURROGATE_SCALE",
    "Kernels",
    "pack_network",
    "forward_network",
    "network_rates_hz",
    "presynaptic_signs",
]

#: Fixed number of gradient chunks per batch (results do not depend on the number of threads).
NUM_CHUNKS = 16
#: The paper's fast-sigmoid surrogate scale.
SURROGATE_SCALE = 100.0

_JIT = {"nogil": True, "cache": True}
_U = numba.uint64  # unsigned indices: numba then emits no negative-index wrap-around, so loops vectorise


@numba.njit(inline="always", **_JIT)
def _add_row(acc, w, row, n):
    """``acc[0:n] += w[row:row + n]``."""
    for j in range(n):
        acc[_U(j)] += w[_U(row + j)]


@numba.njit(inline="always", **_JIT)
def _add_into(dst, row, src, base, n):
    """``dst[row:row + n] += src[base:base + n]``."""
    for j in range(n):
        dst[_U(row + j)] += src[_U(base + j)]


@numba.njit(inline="always", **_JIT)
def _dot(w, row, g, base, n):
    """``sum(w[row:row + n] * g[base:base + n])`` in index order."""
    total = 0.0
    for j in range(n):
        total += w[_U(row + j)] * g[_U(base + j)]
    return total


@numba.njit(**_JIT)
def _forward_sample(
    sample,
    ev_steps,
    ev_idx,
    ev_off,
    n_layers,
    sizes,
    w_off,
    h_off,
    w_int,
    w_flt,
    consts,
    a_f,
    b_f,
    inv_sigma,
    float_mode,
    num_steps,
    cur,
    mem,
    cur_f,
    mem_f,
    acc,
    acc_f,
    spk,
    nspk,
    v_rec,
    s_rec,
    best_u,
    best_uf,
    best_t,
    counts,
):
    """Run one sample forward; record v[t] (float units) and s[t] of every hidden neuron, and the readout's
    argmax steps (first step of the maximum; U[0] = 0 counts as step 0).

    Integer mode: sections 4.1-4.5 through ``_arith.lif_layer_update`` / ``_arith.readout_neuron``. Float
    mode: the paper's float64 equations (threshold 1). All per-neuron arrays are flat over the layers
    (layer ``ly`` owns entries ``h_off[ly] .. h_off[ly + 1] - 1``).
    """
    n_hidden_layers = n_layers - 1
    n_neurons = h_off[n_layers]
    for q in range(n_neurons):
        cur[_U(q)] = 0
        mem[_U(q)] = 0
        cur_f[_U(q)] = 0.0
        mem_f[_U(q)] = 0.0
    k_out = sizes[n_layers]
    for k in range(k_out):
        best_u[k] = 0
        best_uf[k] = 0.0
        best_t[k] = 0
    e = ev_off[sample]
    e_end = ev_off[sample + 1]
    for t in range(num_steps):
        e0 = e
        while e < e_end and ev_steps[e] == t:
            e += 1
        s_row = s_rec[t]
        for ly in range(n_layers):
            n_out = sizes[ly + 1]
            base = h_off[ly]
            # section 4.1: this step's exact input sum
            if float_mode:
                for j in range(n_out):
                    acc_f[_U(base + j)] = 0.0
            else:
                for j in range(n_out):
                    acc[_U(base + j)] = 0
            if ly == 0:
                for ee in range(e0, e):
                    row = w_off[0] + ev_idx[ee] * n_out
                    if float_mode:
                        _add_into(acc_f, base, w_flt, row, n_out)
                    else:
                        _add_into(acc, base, w_int, row, n_out)
            else:
                pbase = h_off[ly - 1]
                for q in range(nspk[ly - 1]):
                    row = w_off[ly] + spk[_U(pbase + q)] * n_out
                    if float_mode:
                        _add_into(acc_f, base, w_flt, row, n_out)
                    else:
                        _add_into(acc, base, w_int, row, n_out)
            if ly < n_hidden_layers:
                if float_mode:
                    a = a_f[ly]
                    b = b_f[ly]
                    zero = consts[ly, 7] == 0
                    for jj in range(n_out):
                        q = _U(base + jj)
                        v = mem_f[q]
                        i_old = cur_f[q]
                        spike = v > 1.0
                        v_rec[t, q] = v
                        s_row[q] = 1 if spike else 0
                        cur_f[q] = a * i_old + acc_f[q]
                        if spike:
                            mem_f[q] = 0.0 if zero else b * v + i_old - 1.0
                        else:
                            mem_f[q] = b * v + i_old
                else:
                    isg = inv_sigma[ly]
                    for jj in range(n_out):
                        q = _U(base + jj)
                        v_rec[t, q] = mem[q] * isg
                    lif_layer_update(cur, mem, acc, s_row, base, n_out, consts, ly)
                n_sp = 0
                for jj in range(n_out):
                    q = _U(base + jj)
                    if s_row[q] != 0:
                        spk[_U(base + n_sp)] = jj
                        n_sp += 1
                        counts[q] += 1
                nspk[ly] = n_sp
            else:
                if float_mode:
                    a = a_f[ly]
                    b = b_f[ly]
                    for k in range(n_out):
                        f_old = cur_f[base + k]
                        cur_f[base + k] = a * f_old + acc_f[base + k]
                        u_new = b * mem_f[base + k] + f_old
                        mem_f[base + k] = u_new
                        if u_new > best_uf[k]:
                            best_uf[k] = u_new
                            best_t[k] = t + 1
                else:
                    lo, hi = consts[ly, 0], consts[ly, 1]
                    keep_syn, gain_syn, keep_mem, gain_mem = layer_decay_factors(consts, ly)
                    for k in range(n_out):
                        f_new, u_new = readout_neuron(
                            cur[base + k], mem[base + k], acc[base + k], lo, hi, keep_syn, gain_syn, keep_mem,
                            gain_mem,
                        )
                        cur[base + k] = f_new
                        mem[base + k] = u_new
                        if u_new > best_u[k]:
                            best_u[k] = u_new
                            best_t[k] = t + 1


@numba.njit(**_JIT)
def _backward_sample(
    sample,
    ev_steps,
    ev_idx,
    ev_off,
    n_layers,
    sizes,
    w_off,
    h_off,
    w_flt,
    a_f,
    b_f,
    theta_f,
    reset_zero,
    num_steps,
    v_rec,
    s_rec,
    best_t,
    g_score,
    gv,
    gi,
    gs,
    grad,
):
    """Backpropagate ``g_score`` (dL/dscore) through the float relaxation; accumulate into ``grad``."""
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
    e = ev_off[sample + 1]
    e_start = ev_off[sample]
    while e > e_start and ev_steps[e - 1] >= t_last:
        e -= 1
    for t in range(t_last - 1, -1, -1):
        e1 = e
        while e > e_start and ev_steps[e - 1] == t:
            e -= 1
        # readout: gv holds gu, gi holds gf (values at t+1)
        n_in = sizes[L]
        pb = h_off[L - 1]
        wb = w_off[L]
        a = a_f[L]
        b = b_f[L]
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
                    _add_into(grad, wb + ev_idx[ee] * n_out, gi, base, n_out)
            else:
                pb = h_off[ly - 1]
                for p in range(sizes[ly]):
                    row = wb + p * n_out
                    gs[_U(pb + p)] = _dot(w_flt, row, gi, base, n_out)
                    if s_rec[t, _U(pb + p)] != 0:
                        _add_into(grad, row, gi, base, n_out)
            a = a_f[ly]
            b = b_f[ly]
            th = theta_f[ly]
            zero = reset_zero[ly]
            for jj in range(n_out):
                q = _U(base + jj)
                gv_old = gv[q]
                d = SURROGATE_SCALE * abs(v_rec[t, q] - th) + 1.0
                g_spike = gs[q] / (d * d)
                keep = 0.0 if (zero and s_rec[t, q] != 0) else 1.0
                gv[q] = g_spike + keep * b * gv_old
                gi[q] = a * gi[q] + keep * gv_old


@numba.njit(parallel=True, **_JIT)
def _batch_kernel(
    batch,
    labels,
    ev_steps,
    ev_idx,
    ev_off,
    n_layers,
    sizes,
    w_off,
    h_off,
    w_int,
    w_flt,
    consts,
    a_f,
    b_f,
    inv_sigma,
    theta_f,
    reset_zero,
    float_mode,
    num_steps,
    backward,
    cur,
    mem,
    cur_f,
    mem_f,
    acc,
    acc_f,
    spk,
    nspk,
    v_rec,
    s_rec,
    best_u,
    best_uf,
    best_t,
    g_score,
    gv,
    gi,
    gs,
    grad,
    counts,
    losses,
    predictions,
    scores_out,
):
    """Forward (and backward) over ``batch`` (sample indices), split into the chunks of the buffers' first
    axis.

    Per chunk c: ``grad[c]`` accumulates the gradient of the mean loss (divided by len(batch)),
    ``counts[c]`` the hidden spike counts. Per sample: loss, prediction, float scores.
    """
    n_chunks = grad.shape[0]
    n = batch.shape[0]
    k_out = sizes[n_layers]
    for c in prange(n_chunks):
        if backward:
            for q in range(grad.shape[1]):
                grad[c, q] = 0.0
        for q in range(counts.shape[1]):
            counts[c, q] = 0
        lo = (c * n) // n_chunks
        hi = ((c + 1) * n) // n_chunks
        for r in range(lo, hi):
            sample = batch[r]
            _forward_sample(
                sample,
                ev_steps,
                ev_idx,
                ev_off,
                n_layers,
                sizes,
                w_off,
                h_off,
                w_int,
                w_flt,
                consts,
                a_f,
                b_f,
                inv_sigma,
                float_mode,
                num_steps,
                cur[c],
                mem[c],
                cur_f[c],
                mem_f[c],
                acc[c],
                acc_f[c],
                spk[c],
                nspk[c],
                v_rec[c],
                s_rec[c],
                best_u[c],
                best_uf[c],
                best_t[c],
                counts[c],
            )
            # scores in float units, softmax cross-entropy, prediction (ties -> lowest index)
            best = 0
            for k in range(k_out):
                if float_mode:
                    scores_out[r, k] = best_uf[c, k]
                    if best_uf[c, k] > best_uf[c, best]:
                        best = k
                else:
                    scores_out[r, k] = best_u[c, k] * inv_sigma[n_layers - 1]
                    if best_u[c, k] > best_u[c, best]:
                        best = k
            predictions[r] = best
            m = scores_out[r, 0]
            for k in range(k_out):
                if scores_out[r, k] > m:
                    m = scores_out[r, k]
            z = 0.0
            for k in range(k_out):
                z += math.exp(scores_out[r, k] - m)
            label = labels[sample]
            losses[r] = math.log(z) + m - scores_out[r, label]
            if backward:
                for k in range(k_out):
                    p = math.exp(scores_out[r, k] - m) / z
                    g_score[c, k] = (p - (1.0 if k == label else 0.0)) / n
                _backward_sample(
                    sample,
                    ev_steps,
                    ev_idx,
                    ev_off,
                    n_layers,
                    sizes,
                    w_off,
                    h_off,
                    w_flt,
                    a_f,
                    b_f,
                    theta_f,
                    reset_zero,
                    num_steps,
                    v_rec[c],
                    s_rec[c],
                    best_t[c],
                    g_score[c],
                    gv[c],
                    gi[c],
                    gs[c],
                    grad[c],
                )


class Kernels:
    """Packed network description and per-chunk buffers for :func:`_batch_kernel`.

    Parameters
    ----------
    sizes : sequence of int
        ``(n_inputs, hidden..., n_outputs)``.
    num_steps : int
    max_batch : int
        Largest batch the buffers must hold outputs for.
    """

    def __init__(self, sizes, num_steps: int, max_batch: int, n_chunks: int = NUM_CHUNKS):
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.n_layers = len(sizes) - 1
        self.num_steps = int(num_steps)
        n_w = [int(sizes[k] * sizes[k + 1]) for k in range(self.n_layers)]
        self.w_off = np.zeros(self.n_layers + 1, dtype=np.int64)
        np.cumsum(n_w, out=self.w_off[1:])
        self.h_off = np.zeros(self.n_layers + 1, dtype=np.int64)
        np.cumsum(self.sizes[1:], out=self.h_off[1:])
        n_neurons = int(self.h_off[-1])
        n_hidden = int(self.h_off[self.n_layers - 1])
        k_out = int(self.sizes[-1])
        c = n_chunks
        self.n_chunks = c
        self.cur = np.zeros((c, n_neurons), np.int64)
        self.mem = np.zeros((c, n_neurons), np.int64)
        self.cur_f = np.zeros((c, n_neurons), np.float64)
        self.mem_f = np.zeros((c, n_neurons), np.float64)
        self.acc = np.zeros((c, n_neurons), np.int64)
        self.acc_f = np.zeros((c, n_neurons), np.float64)
        self.spk = np.zeros((c, n_neurons), np.int64)
        self.nspk = np.zeros((c, self.n_layers), np.int64)
        self.v_rec = np.zeros((c, self.num_steps, n_neurons), np.float64)
        self.s_rec = np.zeros((c, self.num_steps, n_neurons), np.uint8)
        self.best_u = np.zeros((c, k_out), np.int64)
        self.best_uf = np.zeros((c, k_out), np.float64)
        self.best_t = np.zeros((c, k_out), np.int64)
        self.g_score = np.zeros((c, k_out), np.float64)
        self.gv = np.zeros((c, n_neurons), np.float64)
        self.gi = np.zeros((c, n_neurons), np.float64)
        self.gs = np.zeros((c, n_neurons), np.float64)
        self.grad = np.zeros((c, int(self.w_off[-1])), np.float64)
        self.counts = np.zeros((c, n_neurons), np.int64)
        self.losses = np.zeros(max_batch, np.float64)
        self.predictions = np.zeros(max_batch, np.int64)
        self.scores = np.zeros((max_batch, k_out), np.float64)
        self.n_hidden = n_hidden

    def run(
        self,
        batch,
        labels,
        events,
        w_int,
        w_flt,
        consts,
        a_f,
        b_f,
        inv_sigma,
        theta_f,
        reset_zero,
        float_mode: bool,
        backward: bool,
    ):
        """Run the kernel on ``batch`` (int64 sample indices into ``events``); results are in the buffers."""
        _batch_kernel(
            batch,
            labels,
            events.steps,
            events.indices,
            events.offsets,
            self.n_layers,
            self.sizes,
            self.w_off,
            self.h_off,
            w_int,
            w_flt,
            consts,
            a_f,
            b_f,
            inv_sigma,
            theta_f,
            reset_zero,
            float_mode,
            self.num_steps,
            backward,
            self.cur,
            self.mem,
            self.cur_f,
            self.mem_f,
            self.acc,
            self.acc_f,
            self.spk,
            self.nspk,
            self.v_rec,
            self.s_rec,
            self.best_u,
            self.best_uf,
            self.best_t,
            self.g_score,
            self.gv,
            self.gi,
            self.gs,
            self.grad,
            self.counts,
            self.losses,
            self.predictions,
            self.scores,
        )


def pack_network(net: Network):
    """Kernel arrays of an integer network.

    ``(w_int, w_flt, consts, a_f, b_f, inv_sigma, theta_f, reset_zero)``.

    ``w_flt`` and ``inv_sigma`` are left at integer units (sigma = 1) since a forward pass alone does not
    need float units.
    """
    w_int = np.concatenate([net.signed_weights(k).ravel() for k in range(len(net.layers))])
    consts = np.stack([layer_constants(layer.params) for layer in net.layers])
    decays = [float_decays(layer.params) for layer in net.layers]
    a_f = np.array([d[0] for d in decays])
    b_f = np.array([d[1] for d in decays])
    n = len(net.layers)
    theta = np.array([float(layer.params.threshold) for layer in net.layers])
    reset_zero = np.array([layer.params.reset == "zero" for layer in net.layers], dtype=np.bool_)
    return w_int, w_int.astype(np.float64), consts, a_f, b_f, np.ones(n), theta, reset_zero


def forward_network(net: Network, events, labels=None, batch_size: int = 2048):
    """Integer forward pass of the training kernels over all samples of ``events``.

    Returns ``(predictions int64 (n,), scores int64 (n, K), spike_counts tuple of int64 (n_layers-1) arrays of
    per-neuron totals over all samples)``. The tests hold this equal to :func:`fxsnn.emulator.simulate`.
    """
    n = events.n_samples
    if labels is None:
        labels = np.zeros(n, dtype=np.int64)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    kern = Kernels(net.sizes, net.num_steps, min(batch_size, max(n, 1)))
    packed = pack_network(net)
    predictions = np.zeros(n, np.int64)
    scores = np.zeros((n, net.n_outputs), np.int64)
    totals = np.zeros(kern.counts.shape[1], np.int64)
    for lo in range(0, n, batch_size):
        batch = np.arange(lo, min(n, lo + batch_size), dtype=np.int64)
        kern.run(batch, labels, events, *packed, False, False)
        predictions[batch] = kern.predictions[: batch.size]
        scores[batch] = np.rint(kern.scores[: batch.size]).astype(np.int64)
        totals += kern.counts.sum(axis=0)
    h = kern.h_off
    counts = tuple(totals[h[k] : h[k + 1]] for k in range(len(net.layers) - 1))
    return predictions, scores, counts


def network_rates_hz(net: Network, events, dt_ms: float = 1.0) -> np.ndarray:
    """Mean firing rate (Hz) of each hidden layer of the integer network over ``events``."""
    _, _, counts = forward_network(net, events)
    duration_s = net.num_steps * dt_ms / 1000.0
    return np.array([c.sum() / (c.size * events.n_samples * duration_s) for c in counts])


def presynaptic_signs(types_per_layer, k: int, n_in: int) -> np.ndarray:
    """+1/-1 per input row of layer k (network inputs are excitatory)."""
    if k == 0:
        return np.ones(n_in)
    return np.where(types_per_layer[k - 1] == INHIBITORY, -1.0, 1.0)
