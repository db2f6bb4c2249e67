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

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from numba import prange

from ._arith import layer_constants, layer_decay_factors, lif_layer_update, readout_neuron
from ._files import atomic_write
from .errors import FxsnnError
from .network import INHIBITORY, Layer, Network, neuron_types
from .quantize import float_decays, quantize_magnitudes, weight_lsb

__all__ = [
    "NUM_CHUNKS",
    "SURROGATE_SCALE",
    "Kernels",
    "Trainer",
    "TrainingData",
    "TrainingError",
    "load_training_data",
    "network_rates_hz",
    "forward_network",
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


# ======================================================================================== the training run


class TrainingError(FxsnnError):
    """A training run cannot start or resume (the message says why and what to do)."""


@dataclass(eq=False)
class TrainingData:
    """Encoded training and test sets of a run."""

    name: str
    encoder: dict
    train_events: object
    train_labels: np.ndarray
    test_events: object
    test_labels: np.ndarray
    n_classes: int


def load_training_data(config) -> TrainingData:
    """Load and encode the data set of ``config`` (fxsnn.data), honouring train/test sample limits."""
    from .data import default_encoder, encode_dataset, load_dataset

    parts = {}
    for split in ("train", "test"):
        ds = load_dataset(config.dataset, split, data_dir=config.data_dir)
        encoder = dict(config.encoder) if config.encoder is not None else default_encoder(ds)
        steps = config.steps if config.steps is not None else ds.num_steps_hint
        events = encode_dataset(ds, encoder, steps, seed=config.seed)
        labels = np.ascontiguousarray(ds.labels, dtype=np.int64)
        limit = config.train_samples if split == "train" else config.test_samples
        if limit and limit < events.n_samples:
            events = events.select(np.arange(limit))
            labels = labels[:limit]
        parts[split] = (events, labels, ds, encoder)
    ds = parts["train"][2]
    return TrainingData(
        config.dataset,
        parts["train"][3],
        parts["train"][0],
        parts["train"][1],
        parts["test"][0],
        parts["test"][1],
        ds.n_classes,
    )


class Trainer:
    """One training run: initialisation, epochs, evaluation, checkpoints and the model file.

    Parameters
    ----------
    config : fxsnn.config.TrainConfig
    data : TrainingData
    out_dir : path-like or None
        Checkpoint, ``history.jsonl``, ``model.fxsnn`` (best test accuracy) and ``last.fxsnn``. None: nothing
        is written (tests).
    progress : bool or None
        tqdm bar on stderr (None: only when stderr is a terminal).
    """

    def __init__(self, config, data: TrainingData, out_dir=None, progress: bool | None = None):
        from .init import LayerSpec

        self.config = config
        self.data = data
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.progress = progress
        self.sizes = (data.train_events.num_inputs, *config.hidden, data.n_classes)
        self.num_steps = data.train_events.num_steps
        self.alpha = math.exp(-1.0 / config.tau_syn)
        self.beta = math.exp(-1.0 / config.tau_mem)
        ranges = config.weight_ranges()
        self.specs = [
            LayerSpec(
                weight_range=ranges[k],
                weight_bits=config.weight_bits[k],
                weight_shift=None if config.weight_shift[k] == "auto" else config.weight_shift[k],
                state_bits=config.state_bits,
                decay_mode=config.decay_mode,
                frac_bits=config.frac_bits,
            )
            for k in range(len(self.sizes) - 1)
        ]
        self.layer_params = []
        self.scales = []
        for spec in self.specs:
            params, sigma = spec.build(self.alpha, self.beta)
            self.layer_params.append(params)
            self.scales.append(sigma)
        self.types = [neuron_types(h, config.ratio) for h in config.hidden] + [
            np.zeros(data.n_classes, dtype=np.int8)
        ]
        self.kernels = Kernels(self.sizes, self.num_steps, config.batch_size)
        self._prepare_constants()
        self.rng = np.random.default_rng(config.seed)
        self.weights = None  # flat float64 shadow weights
        self.adam_m = None
        self.adam_v = None
        self.adam_t = 0
        self.epoch = 0
        self.history: list = []
        self.best_accuracy = -1.0
        self.best_epoch = -1
        self.initial = {}

    # ------------------------------------------------------------------ constants
    def _prepare_constants(self):
        k_off = self.kernels.w_off
        n_w = int(k_off[-1])
        self.sign_el = np.empty(n_w)
        self.lsb_el = np.empty(n_w)
        self.max_el = np.empty(n_w)
        self.mult_el = np.empty(n_w, dtype=np.int64)
        self.inv_sigma_el = np.empty(n_w)
        self.range_el = np.empty(n_w)
        for k, (spec, params, sigma) in enumerate(
            zip(self.specs, self.layer_params, self.scales, strict=True)
        ):
            sl = slice(int(k_off[k]), int(k_off[k + 1]))
            n_in, n_out = self.sizes[k], self.sizes[k + 1]
            sign = presynaptic_signs(self.types, k, n_in)
            self.sign_el[sl] = np.repeat(sign, n_out)
            self.lsb_el[sl] = weight_lsb(spec.weight_range, spec.weight_bits)
            self.max_el[sl] = params.weight_max
            self.mult_el[sl] = 1 << params.weight_shift
            self.inv_sigma_el[sl] = 1.0 / sigma
            self.range_el[sl] = spec.weight_range
        n = len(self.sizes) - 1
        if self.config.float_mode:
            self.consts = np.stack([layer_constants(p.replace(reset="zero")) for p in self.layer_params])
            self.a_f = np.full(n, self.alpha)
            self.b_f = np.full(n, self.beta)
            self.inv_sigma = np.ones(n)
            self.theta_f = np.ones(n)
        else:
            self.consts = np.stack([layer_constants(p) for p in self.layer_params])
            decays = [float_decays(p) for p in self.layer_params]
            self.a_f = np.array([d[0] for d in decays])
            self.b_f = np.array([d[1] for d in decays])
            self.inv_sigma = np.array([1.0 / s for s in self.scales])
            self.theta_f = np.array(
                [p.threshold / s for p, s in zip(self.layer_params, self.scales, strict=True)]
            )
        self.reset_zero = np.array([p.reset == "zero" for p in self.layer_params], dtype=np.bool_)

    # ------------------------------------------------------------------ weights
    def _flat(self, layers) -> np.ndarray:
        return np.concatenate([np.asarray(w, dtype=np.float64).ravel() for w in layers])

    def layer_weights(self, flat=None) -> list:
        flat = self.weights if flat is None else flat
        off = self.kernels.w_off
        return [
            flat[off[k] : off[k + 1]].reshape(self.sizes[k], self.sizes[k + 1])
            for k in range(len(self.sizes) - 1)
        ]

    def project(self):
        """Dale's law (the paper's projection: a weight crossing zero is clamped to 0); integer mode also
        keeps the shadow weights inside the representable range (straight-through clipping)."""
        w = self.weights
        np.multiply(w, self.sign_el, out=w)
        np.maximum(w, 0.0, out=w)
        if not self.config.float_mode:
            np.minimum(w, self.range_el, out=w)
        np.multiply(w, self.sign_el, out=w)

    def effective_weights(self):
        """``(w_int, w_flt)``: integer weight terms and their float value (float mode: the shadow weights)."""
        if self.config.float_mode:
            return np.zeros(self.weights.size, np.int64), self.weights
        magnitude = np.minimum(np.rint(np.abs(self.weights) / self.lsb_el), self.max_el).astype(np.int64)
        w_int = (magnitude * self.mult_el) * self.sign_el.astype(np.int64)
        return w_int, w_int * self.inv_sigma_el

    def network(self, flat=None) -> Network:
        """The integer network of the shadow weights (float mode: their quantisation with the layer specs)."""
        flat = self.weights if flat is None else flat
        layers = []
        for k, w in enumerate(self.layer_weights(flat)):
            spec = self.specs[k]
            mags = quantize_magnitudes(w, weight_lsb(spec.weight_range, spec.weight_bits), spec.weight_bits)
            layers.append(Layer(self.layer_params[k], mags, self.types[k]))
        return Network(tuple(layers), self.num_steps)

    # ------------------------------------------------------------------ initialisation
    def initialise(self):
        from .init import calibrate_s1, paper_init

        cfg = self.config
        n_in, n_out = self.sizes[0], self.sizes[-1]
        if cfg.target_rate is not None:
            n_cal = min(256, self.data.train_events.n_samples)
            events = self.data.train_events.select(np.arange(n_cal))
            s1, rate, net = calibrate_s1(
                cfg.target_rate,
                events,
                hidden=tuple(cfg.hidden),
                n_outputs=n_out,
                ratio=cfg.ratio,
                specs=self.specs,
                rng=self.rng,
                beta=self.beta,
            )
            self.initial = {"s1": s1, "calibrated_rate_hz": rate, "target_rate_hz": cfg.target_rate}
        else:
            s1 = cfg.initial_s1
            net = paper_init(
                n_in, tuple(cfg.hidden), n_out, ratio=cfg.ratio, s1=s1, rng=self.rng, beta=self.beta
            )
            self.initial = {"s1": s1}
        self.weights = self._flat(net.weights)
        self.project()
        self.adam_m = np.zeros_like(self.weights)
        self.adam_v = np.zeros_like(self.weights)

    # ------------------------------------------------------------------ one step / epoch
    def _run(self, events, labels, batch, backward: bool, w_int, w_flt):
        self.kernels.run(
            batch,
            labels,
            events,
            w_int,
            w_flt,
            self.consts,
            self.a_f,
            self.b_f,
            self.inv_sigma,
            self.theta_f,
            self.reset_zero,
            self.config.float_mode,
            backward,
        )

    def gradient(self, batch) -> np.ndarray:
        """Gradient of the batch's mean loss with respect to the (effective) weights, flat."""
        w_int, w_flt = self.effective_weights()
        self._run(self.data.train_events, self.data.train_labels, batch, True, w_int, w_flt)
        return self.kernels.grad.sum(axis=0)

    def step(self, batch) -> tuple[float, int]:
        """One update on ``batch`` (int64 sample indices): returns (sum of losses, number correct)."""
        cfg = self.config
        grad = self.gradient(batch)
        n = batch.size
        loss = float(self.kernels.losses[:n].sum())
        correct = int((self.kernels.predictions[:n] == self.data.train_labels[batch]).sum())
        if cfg.optimizer == "sgd":
            self.weights -= cfg.lr * grad
        else:
            self.adam_t += 1
            b1, b2, eps = 0.9, 0.999, 1e-8
            self.adam_m *= b1
            self.adam_m += (1 - b1) * grad
            self.adam_v *= b2
            self.adam_v += (1 - b2) * grad * grad
            m_hat = self.adam_m / (1 - b1**self.adam_t)
            v_hat = self.adam_v / (1 - b2**self.adam_t)
            self.weights -= cfg.lr * m_hat / (np.sqrt(v_hat) + eps)
        self.project()
        if cfg.noise > 0 or cfg.noise_lsb > 0:
            noise = self.rng.standard_normal(self.weights.size)
            self.weights += noise * (cfg.noise + cfg.noise_lsb * self.lsb_el)
            self.project()
        return loss, correct

    def evaluate(self, events, labels) -> dict:
        """Accuracy, mean loss and firing rates (Hz, per hidden layer, E and I) of the current weights."""
        w_int, w_flt = self.effective_weights()
        n = events.n_samples
        bs = self.config.batch_size
        correct, loss = 0, 0.0
        totals = np.zeros(self.kernels.counts.shape[1], np.int64)
        for lo in range(0, n, bs):
            batch = np.arange(lo, min(n, lo + bs), dtype=np.int64)
            self._run(events, labels, batch, False, w_int, w_flt)
            correct += int((self.kernels.predictions[: batch.size] == labels[batch]).sum())
            loss += float(self.kernels.losses[: batch.size].sum())
            totals += self.kernels.counts.sum(axis=0)
        return {"accuracy": correct / max(n, 1), "loss": loss / max(n, 1), "rates_hz": self._rates(totals, n)}

    def _rates(self, totals, n_samples) -> list:
        seconds = n_samples * self.num_steps / 1000.0
        out = []
        h = self.kernels.h_off
        for k in range(len(self.sizes) - 2):
            counts = totals[h[k] : h[k + 1]]
            types = self.types[k]
            rate = {}
            for name, code in (("E", 0), ("I", 1)):
                sel = counts[types == code]
                rate[name] = float(sel.sum() / (sel.size * seconds)) if sel.size and seconds else 0.0
            rate["all"] = float(counts.sum() / (counts.size * seconds)) if seconds else 0.0
            out.append(rate)
        return out

    def train_epoch(self, bar=None) -> dict:
        n = self.data.train_events.n_samples
        order = self.rng.permutation(n).astype(np.int64)
        bs = self.config.batch_size
        loss_sum, correct, seen = 0.0, 0, 0
        for lo in range(0, n, bs):
            batch = order[lo : lo + bs]
            loss, good = self.step(batch)
            loss_sum += loss
            correct += good
            seen += batch.size
            if bar is not None:
                bar.update(batch.size)
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
        return {"loss": loss_sum / max(seen, 1), "train_accuracy": correct / max(seen, 1)}

    # ------------------------------------------------------------------ files
    def _log(self, epoch: int, train: dict | None, test: dict, seconds: float):
        entry = {"epoch": epoch}
        if train is not None:
            entry.update(train)
        entry.update(
            {
                "test_accuracy": test["accuracy"],
                "test_loss": test["loss"],
                "rate_e_hz": test["rates_hz"][0]["E"],
                "rate_i_hz": test["rates_hz"][0]["I"],
                "rates_hz": test["rates_hz"],
                "seconds": round(seconds, 3),
            }
        )
        self.history.append(entry)
        if test["accuracy"] > self.best_accuracy:
            self.best_accuracy = test["accuracy"]
            self.best_epoch = epoch
            if self.out_dir is not None:
                self.save_model(self.out_dir / "model.fxsnn")
        return entry

    def save_model(self, path, summary: dict | None = None):
        """Write the integer network of the current weights as a model file (``summary``: provenance)."""
        from .model import Model, make_provenance, save_model

        summary = (
            summary
            if summary is not None
            else {
                "epochs_run": self.epoch,
                "best_epoch": self.best_epoch,
                "best_test_accuracy": self.best_accuracy,
                "float_mode": self.config.float_mode,
                "initial": self.initial,
                "note": (
                    "float-mode run: this integer model is the post-training quantisation of the float "
                    "weights"
                    if self.config.float_mode
                    else "weights trained on the integer forward pass"
                ),
            }
        )
        model = Model(
            network=self.network(),
            encoder=dict(self.data.encoder),
            dataset=self.data.name,
            scales=tuple(self.scales),
            provenance=make_provenance(
                seed=self.config.seed, config=_jsonable(self.config.to_dict()), training=summary
            ),
        )
        return save_model(model, path)

    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.npz"

    def write_checkpoint(self):
        state = {
            "weights": self.weights,
            "adam_m": self.adam_m,
            "adam_v": self.adam_v,
            "adam_t": np.int64(self.adam_t),
            "epoch": np.int64(self.epoch),
            "best_accuracy": np.float64(self.best_accuracy),
            "best_epoch": np.int64(self.best_epoch),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "history": np.array(json.dumps(self.history)),
            "initial": np.array(json.dumps(self.initial)),
            "identity": np.array(json.dumps(_jsonable(self.config.run_identity()), sort_keys=True)),
        }
        _atomic_write(self.checkpoint_path(), lambda f: np.savez(f, **state))
        text = "".join(json.dumps(entry) + "\n" for entry in self.history)
        _atomic_write(self.out_dir / "history.jsonl", lambda f: f.write(text.encode()))

    def resume(self):
        path = self.checkpoint_path()
        if not path.exists():
            raise TrainingError(f"cannot resume: no checkpoint at {str(path)!r}; start without --resume")
        with np.load(path, allow_pickle=False) as ck:
            identity = json.loads(str(ck["identity"]))
            mine = _jsonable(self.config.run_identity())
            if identity != mine:
                diff = sorted(k for k in set(identity) | set(mine) if identity.get(k) != mine.get(k))
                raise TrainingError(
                    f"cannot resume {str(path)!r}: the config differs from the checkpointed run in {diff!r}"
                )
            self.weights = np.array(ck["weights"])
            self.adam_m = np.array(ck["adam_m"])
            self.adam_v = np.array(ck["adam_v"])
            self.adam_t = int(ck["adam_t"])
            self.epoch = int(ck["epoch"])
            self.best_accuracy = float(ck["best_accuracy"])
            self.best_epoch = int(ck["best_epoch"])
            self.rng.bit_generator.state = json.loads(str(ck["rng_state"]))
            self.history = json.loads(str(ck["history"]))
            self.initial = json.loads(str(ck["initial"]))

    # ------------------------------------------------------------------ the run
    def run(self, resume: bool = False) -> dict:
        """Train for ``config.epochs`` epochs (continuing a checkpoint when ``resume``); returns a summary."""
        from tqdm import tqdm

        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.resume()
        else:
            self.initialise()
            t0 = time.perf_counter()
            test = self.evaluate(self.data.test_events, self.data.test_labels)
            self._log(0, None, test, time.perf_counter() - t0)
            if self.out_dir is not None:
                self.write_checkpoint()
        n = self.data.train_events.n_samples
        total = max(0, self.config.epochs - self.epoch) * n
        with tqdm(
            total=total,
            unit="sample",
            disable=not self.progress if self.progress is not None else None,
            desc="training",
            dynamic_ncols=True,
            leave=False,
        ) as bar:
            while self.epoch < self.config.epochs:
                t0 = time.perf_counter()
                train = self.train_epoch(bar)
                train_seconds = time.perf_counter() - t0
                self.epoch += 1
                test = self.evaluate(self.data.test_events, self.data.test_labels)
                entry = self._log(self.epoch, train, test, time.perf_counter() - t0)
                entry["train_seconds"] = round(train_seconds, 3)
                bar.set_description(f"epoch {self.epoch} test {test['accuracy']:.3f}")
                if self.out_dir is not None:
                    self.write_checkpoint()
        if self.out_dir is not None:
            self.save_model(self.out_dir / "last.fxsnn")
        last = self.history[-1]
        return {
            "epochs": self.epoch,
            "best_epoch": self.best_epoch,
            "best_test_accuracy": self.best_accuracy,
            "last_test_accuracy": last["test_accuracy"],
            "initial_rate_e_hz": self.history[0]["rate_e_hz"],
            "initial_rate_i_hz": self.history[0]["rate_i_hz"],
            "initial": self.initial,
            "float_mode": self.config.float_mode,
        }


def _jsonable(data):
    return json.loads(json.dumps(data))


def _atomic_write(path: Path, write):
    """Write through ``write(file)`` to a temp file in the same folder, then rename over ``path``."""
    with atomic_write(path, "wb") as handle:
        write(handle)
