"""Scalar integer arithmetic of docs/fixed-point.md, jitted once for every numba kernel to share.

The emulator (:mod:`fxsnn.emulator`) and the training forward pass call these; they must never re-derive
the rules. All arguments are int64 so that no product or sum can wrap (|state| <= 2**31, constants <= 2**16).
The pure-Python rendering of the same rules is :mod:`fxsnn.reference`.
"""

from __future__ import annotations

import numba
import numpy as np

from .network import LayerParams

__all__ = ["JIT", "MODE_MULTIPLY", "MODE_SHIFT", "RESET_ZERO", "RESET_SUBTRACT", "sat", "decay", "lif_update",
           "readout_update", "layer_constants"]

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


@numba.njit(
    numba.types.UniTuple(numba.int64, 3)(
        numba.int64, numba.int64, numba.int64, numba.int64[:]
    ),
    **JIT,
)
def lif_update(current, membrane, acc, c):
    """Section 4.2 for one neuron: returns ``(spike, new_current, new_membrane)``.

    ``c`` is the layer's constant vector from :func:`layer_constants`.
    """
    lo, hi = c[0], c[1]
    mode, frac = c[2], c[3]
    threshold = c[6]
    spike = 1 if membrane > threshold else 0
    new_current = sat(decay(current, mode, c[4], frac) + acc, lo, hi)
    if spike == 1 and c[7] == RESET_ZERO:
        new_membrane = 0
    else:
        new_membrane = sat(decay(membrane, mode, c[5], frac) + current - spike * threshold, lo, hi)
    return spike, new_current, new_membrane


@numba.njit(numba.types.UniTuple(numba.int64, 2)(numba.int64, numba.int64, numba.int64, numba.int64[:]), **JIT)
def readout_update(f, u, acc, c):
    """Section 4.3 for one readout neuron: returns ``(new_F, new_U)``."""
    lo, hi = c[0], c[1]
    mode, frac = c[2], c[3]
    new_f = sat(decay(f, mode, c[4], frac) + acc, lo, hi)
    new_u = sat(decay(u, mode, c[5], frac) + f, lo, hi)
    return new_f, new_u


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
