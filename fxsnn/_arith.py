"""Scalar integer arithmetic of docs/fixed-point.md, jitted once for every numba kernel to share.

The emulator (:mod:`fxsnn.emulator`) and the training forward pass call these; they must never re-derive
the rules. All arguments are int64 so that no product or sum can wrap (|state| <= 2**31, constants <= 2**16).
The pure-Python rendering of the same rules is :mod:`fxsnn.reference`.

The layer-wide helpers (:func:`lif_layer_update`, :func:`readout_layer_update`) are ``inline="always"``, so
they are compiled into their callers. numba's on-disk cache normally checks only the caller's own source
file, so an edit here would leave callers running stale arithmetic from the cache;
:class:`_PackageCacheLocator` therefore stamps every fxsnn kernel's cache entry with the state of *all*
of fxsnn's sources.
"""

from __future__ import annotations

import hashlib
import os

import numba
import numba.core.caching
import numpy as np

from .network import LayerParams

__all__ = [
    "JIT",
    "MODE_MULTIPLY",
    "MODE_SHIFT",
    "RESET_ZERO",
    "RESET_SUBTRACT",
    "sat",
    "decay",
    "lif_neuron",
    "lif_update",
    "lif_layer_update",
    "readout_neuron",
    "readout_update",
    "readout_layer_update",
    "layer_constants",
]

class _PackageCacheLocator(numba.core.caching.InTreeCacheLocator):
    """numba's in-tree cache (``__pycache__``) for fxsnn kernels, invalidated by an edit to any fxsnn source.

    Kernels inline helpers from other modules (``inline="always"``), which numba's per-file stamp cannot see.
    """

    _package_dir = os.path.dirname(os.path.abspath(__file__))
    _package_stamp = None

    @classmethod
    def from_function(cls, py_func, py_file):
        if numba.config.CACHE_DIR or os.path.dirname(os.path.abspath(py_file)) != cls._package_dir:
            return None  # NUMBA_CACHE_DIR set, or not an fxsnn kernel: numba's own locators decide
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        if _PackageCacheLocator._package_stamp is None:
            entries = []
            for name in sorted(os.listdir(self._package_dir)):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(self._package_dir, name))
                    entries.append((name, st.st_mtime_ns, st.st_size))
            _PackageCacheLocator._package_stamp = hashlib.sha256(repr(entries).encode()).hexdigest()
        return (super().get_source_stamp(), _PackageCacheLocator._package_stamp)


if _PackageCacheLocator not in numba.core.caching.CacheImpl._locator_classes:
    numba.core.caching.CacheImpl._locator_classes.insert(0, _PackageCacheLocator)

#: numba options for every fxsnn kernel (used with njit, so never object mode): cached on disk, GIL released.
JIT = {"nogil": True, "cache": True}

MODE_MULTIPLY = 0
MODE_SHIFT = 1
RESET_ZERO = 0
RESET_SUBTRACT = 1


@numba.njit(numba.int64(numba.int64, numba.int64, numba.int64), **JIT)
def sat(x, lo, hi):
    """Section 2: clamp to [lo, hi]."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@numba.njit(numba.int64(numba.int64, numba.int64, numba.int64, numba.int64), **JIT)
def decay(x, mode, constant, frac_bits):
    """Section 3: odd-symmetric decay, rounding toward zero."""
    magnitude = -x if x < 0 else x
    if mode == MODE_MULTIPLY:
        magnitude = (magnitude * constant) >> frac_bits
    else:
        magnitude = magnitude - (magnitude >> constant)
    return -magnitude if x < 0 else magnitude


_I64 = numba.int64


@numba.njit(
    numba.types.UniTuple(_I64, 3)(_I64, _I64, _I64, _I64, _I64, _I64, _I64, _I64, _I64, _I64, _I64), **JIT
)
def lif_neuron(current, membrane, acc, lo, hi, mode, frac, syn, mem, threshold, reset):
    """Section 4.2 for one neuron, the layer's constants as scalars: ``(spike, new_current, new_membrane)``.

    ``s = V > theta``; ``I' = sat(decay_syn(I) + acc)``; ``V' = 0`` if ``s`` and reset is zero, else
    ``V' = sat(decay_mem(V) + I - s * theta)`` (the previous current ``I``). Every other rendering of the
    hidden-neuron step in numba (:func:`lif_update`, :func:`lif_layer_update`) calls this one.
    """
    spike = 1 if membrane > threshold else 0
    new_current = sat(decay(current, mode, syn, frac) + acc, lo, hi)
    if spike == 1 and reset == RESET_ZERO:
        new_membrane = _I64(0)
    else:
        new_membrane = sat(decay(membrane, mode, mem, frac) + current - spike * threshold, lo, hi)
    return spike, new_current, new_membrane


@numba.njit(numba.types.UniTuple(_I64, 3)(_I64, _I64, _I64, numba.int64[:]), **JIT)
def lif_update(current, membrane, acc, c):
    """Section 4.2 for one neuron: returns ``(spike, new_current, new_membrane)``.

    ``c`` is the layer's constant vector from :func:`layer_constants`.
    """
    return lif_neuron(current, membrane, acc, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])


@numba.njit(numba.types.UniTuple(_I64, 2)(_I64, _I64, _I64, _I64, _I64, _I64, _I64, _I64, _I64), **JIT)
def readout_neuron(f, u, acc, lo, hi, mode, frac, syn, mem):
    """Section 4.3 for one readout neuron with scalar constants: ``F' = sat(decay_syn(F) + acc)``,
    ``U' = sat(decay_mem(U) + F)`` (the previous ``F``). Returns ``(new_F, new_U)``."""
    new_f = sat(decay(f, mode, syn, frac) + acc, lo, hi)
    new_u = sat(decay(u, mode, mem, frac) + f, lo, hi)
    return new_f, new_u


@numba.njit(numba.types.UniTuple(_I64, 2)(_I64, _I64, _I64, numba.int64[:]), **JIT)
def readout_update(f, u, acc, c):
    """Section 4.3 for one readout neuron: returns ``(new_F, new_U)``."""
    return readout_neuron(f, u, acc, c[0], c[1], c[2], c[3], c[4], c[5])


_C1_I64 = numba.types.Array(_I64, 1, "C")
_C1_U8 = numba.types.Array(numba.uint8, 1, "C")
_C2_I64 = numba.types.Array(_I64, 2, "C")


@numba.njit(
    numba.types.UniTuple(_I64, 2)(_C1_I64, _C1_I64, _C1_I64, _C1_U8, _I64, _I64, _C2_I64, _I64),
    inline="always",
    **JIT,
)
def lif_layer_update(current, membrane, acc, spikes, start, count, consts, layer):
    """Section 4.2 for a whole hidden layer, in place: one :func:`lif_neuron` per neuron.

    The layer's neurons are entries ``start .. start + count - 1`` of the flat arrays (flat, not sliced, so
    the hot loop creates no array views). ``current``, ``membrane`` hold ``I[t]``, ``V[t]`` on entry and
    ``I[t+1]``, ``V[t+1]`` on return; ``acc`` is the step's exact input sum (section 4.1), consumed: each
    entry is set back to 0, ready for the next step's sum; ``spikes`` receives ``s[t]``. ``consts[layer]``
    is the layer's :func:`layer_constants` row, read once into locals so the loop vectorises.

    Returns ``(number of spikes, 1 if any state is nonzero else 0)``. A layer whose state is all zero and
    which gets no input stays all zero and silent (``0 > theta`` never holds and decay(0) = 0), so callers
    may skip it.
    """
    lo, hi, mode, frac = consts[layer, 0], consts[layer, 1], consts[layer, 2], consts[layer, 3]
    syn, mem, threshold, reset = consts[layer, 4], consts[layer, 5], consts[layer, 6], consts[layer, 7]
    n_spikes = _I64(0)
    nonzero = _I64(0)
    # Unsigned indices: numba adds no negative-index wrap-around, so the loop vectorises.
    for k in range(count):
        j = numba.uint64(start + k)
        s, i_new, v_new = lif_neuron(
            current[j], membrane[j], acc[j], lo, hi, mode, frac, syn, mem, threshold, reset
        )
        spikes[j] = s
        current[j] = i_new
        membrane[j] = v_new
        acc[j] = 0
        n_spikes += s
        nonzero |= i_new | v_new
    return n_spikes, _I64(1 if nonzero != 0 else 0)


@numba.njit(_I64(_C1_I64, _C1_I64, _C1_I64, _C1_I64, _I64, _I64, _C2_I64, _I64), inline="always", **JIT)
def readout_layer_update(f, u, acc, scores, start, count, consts, layer):
    """Sections 4.3 and 4.5 for the readout layer, in place: one :func:`readout_neuron` per neuron
    (entries ``start .. start + count - 1`` of the flat ``f``, ``u``, ``acc``; ``acc`` is consumed and set
    back to 0), then ``scores[k] = max(scores[k], U_k[t+1])``. Returns 1 if any state is nonzero, else 0."""
    lo, hi, mode, frac = consts[layer, 0], consts[layer, 1], consts[layer, 2], consts[layer, 3]
    syn, mem = consts[layer, 4], consts[layer, 5]
    nonzero = _I64(0)
    for k in range(count):
        j = numba.uint64(start + k)
        f_new, u_new = readout_neuron(f[j], u[j], acc[j], lo, hi, mode, frac, syn, mem)
        f[j] = f_new
        u[j] = u_new
        acc[j] = 0
        scores[k] = max(scores[k], u_new)
        nonzero |= f_new | u_new
    return _I64(1 if nonzero != 0 else 0)


def layer_constants(params: LayerParams) -> np.ndarray:
    """Pack a layer's parameters for the kernels.

    ``[state_min, state_max, decay_mode, frac_bits, syn_decay, mem_decay, threshold, reset]`` as int64.
    """
    return np.array(
        [
            params.state_min,
            params.state_max,
            MODE_MULTIPLY if params.decay_mode == "multiply" else MODE_SHIFT,
            params.frac_bits,
            params.syn_decay,
            params.mem_decay,
            params.threshold,
            RESET_ZERO if params.reset == "zero" else RESET_SUBTRACT,
        ],
        dtype=np.int64,
    )
