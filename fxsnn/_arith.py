"""The integer arithmetic of docs/fixed-point.md, jitted once for every numba kernel to share.

The emulator (:mod:`fxsnn.emulator`) and the training forward pass call these; they must never re-derive
the rules. The neuron and layer helpers are generic over the state's integer type: int64 can never wrap
(``|state| <= 2**31``, constants ``<= 2**16``); int32 is used only where the emulator has checked that no
sum can leave it, and doubles the SIMD width. Decay is computed as an exact float64 product (see
:func:`decay`). The pure-Python rendering of the same rules is :mod:`fxsnn.reference`.

The layer-wide helpers (:func:`lif_layer_update`, :func:`readout_layer_update`) are ``inline="always"``, so
they are compiled into their callers; :mod:`fxsnn._jit` makes numba's disk cache follow edits here.
"""

from __future__ import annotations

import numba
import numba.extending
import numpy as np

from ._jit import JIT
from .network import LayerParams

__all__ = [
    "MODE_MULTIPLY",
    "MODE_SHIFT",
    "RESET_ZERO",
    "RESET_SUBTRACT",
    "cast_like",
    "decay_factors",
    "layer_decay_factors",
    "decay",
    "lif_neuron",
    "lif_update",
    "lif_layer_update",
    "readout_neuron",
    "readout_update",
    "readout_layer_update",
    "layer_constants",
]

MODE_MULTIPLY = 0
MODE_SHIFT = 1
RESET_ZERO = 0
RESET_SUBTRACT = 1


_I64 = numba.int64


def cast_like(value, like):
    """``value`` converted to the integer type of ``like`` (a scalar, or an array's element type).

    For jitted code only: it makes the layer helpers below generic, so the same source computes in int32
    lanes on int32 state (twice the SIMD width) and in int64 on int64 state. Float values are truncated
    toward zero, integers keep their low bits (callers only convert values that fit).
    """
    return (like.dtype.type if isinstance(like, np.ndarray) else type(like))(value)


@numba.extending.overload(cast_like, inline="always")
def _cast_like_jit(value, like):
    target = like.dtype if isinstance(like, numba.types.Array) else like

    def impl(value, like):
        return target(value)

    return impl


#: ``2**-k`` for k = 0..32, exact: a table read and a multiply instead of a division in every layer step.
_POW2_NEG = np.ldexp(1.0, -np.arange(33))


@numba.njit(numba.types.Tuple((_I64, numba.float64))(_I64, _I64, _I64), inline="always", **JIT)
def decay_factors(mode, constant, frac_bits):
    """Section 3 as ``(keep, gain)`` for :func:`decay`: ``(0, d / 2**F)`` in multiply mode, ``(-1, -2**-k)``
    in shift mode. Both gains are exact in float64 (``d <= 2**16``, ``k <= 31``)."""
    if mode == MODE_MULTIPLY:
        return _I64(0), np.float64(constant) * _POW2_NEG[frac_bits]
    return _I64(-1), -_POW2_NEG[constant]


@numba.njit(inline="always", **JIT)
def layer_decay_factors(consts, layer):
    """``(keep_syn, gain_syn, keep_mem, gain_mem)`` of ``consts[layer]``, a :func:`layer_constants` row:
    :func:`decay_factors` for the current (or ``F``) and the membrane (or ``U``)."""
    mode, frac = consts[layer, 2], consts[layer, 3]
    keep_syn, gain_syn = decay_factors(mode, consts[layer, 4], frac)
    keep_mem, gain_mem = decay_factors(mode, consts[layer, 5], frac)
    return keep_syn, gain_syn, keep_mem, gain_mem


@numba.njit(inline="always", **JIT)
def decay(x, keep, gain):
    """Section 3, odd-symmetric decay rounding toward zero, in ``x``'s integer type.

    ``decay(x) = (x & keep) + trunc(x * gain)`` with ``(keep, gain)`` from :func:`decay_factors`:

    - multiply mode: ``trunc(x * d / 2**F) = sign(x) * ((|x| * d) >> F)``;
    - shift mode: ``x - trunc(x / 2**k) = sign(x) * (|x| - (|x| >> k))``.

    The float64 product is exact: ``|x| <= 2**31`` and ``d <= 2**16``, so ``|x| * d < 2**53`` is an integer
    float64 holds, and the power-of-two scale only moves its exponent; the conversion to integer truncates
    toward zero, which is the section's rounding rule. No branch, so layer loops vectorise (a float multiply
    replaces the emulated 64-bit multiply and the sign handling). ``tests/test_arith.py`` holds it equal to
    :func:`fxsnn.reference.decay`, at every edge of every mode.
    """
    return cast_like((x & cast_like(keep, x)) + cast_like(np.float64(x) * gain, x), x)


@numba.njit(inline="always", **JIT)
def lif_neuron(current, membrane, acc, lo, hi, keep_syn, gain_syn, keep_mem, gain_mem, threshold, reset):
    """Section 4.2 for one neuron: ``(spike, new_current, new_membrane)``, computed in ``current``'s type.

    ``s = V > theta``; ``I' = sat(decay_syn(I) + acc)``; ``V' = 0`` if ``s`` and reset is zero, else
    ``V' = sat(decay_mem(V) + I - s * theta)`` (the previous current ``I``). ``lo``, ``hi`` and ``theta``
    must already have ``current``'s type. int32 arithmetic is exact only if no sum leaves int32: the
    emulator checks that before choosing int32 state (:func:`fxsnn.emulator.state_dtype`). Every rendering of
    the hidden-neuron step in numba (:func:`lif_update`, :func:`lif_layer_update`) calls this one.
    """
    spike = membrane > threshold
    new_current = min(max(cast_like(decay(current, keep_syn, gain_syn) + acc, current), lo), hi)
    integrated = cast_like(decay(membrane, keep_mem, gain_mem) + current, current)
    integrated = cast_like(integrated - (threshold if spike else cast_like(0, current)), current)
    new_membrane = min(max(integrated, lo), hi)
    if spike and reset == RESET_ZERO:
        new_membrane = cast_like(0, current)
    return cast_like(1 if spike else 0, current), new_current, new_membrane


@numba.njit(numba.types.UniTuple(_I64, 3)(_I64, _I64, _I64, numba.int64[::1]), **JIT)
def lif_update(current, membrane, acc, c):
    """Section 4.2 for one int64 neuron: returns ``(spike, new_current, new_membrane)``.

    ``c`` is the layer's constant vector from :func:`layer_constants`.
    """
    keep_syn, gain_syn, keep_mem, gain_mem = layer_decay_factors(c.reshape((1, c.size)), 0)
    return lif_neuron(current, membrane, acc, c[0], c[1], keep_syn, gain_syn, keep_mem, gain_mem, c[6], c[7])


@numba.njit(inline="always", **JIT)
def readout_neuron(f, u, acc, lo, hi, keep_syn, gain_syn, keep_mem, gain_mem):
    """Section 4.3 for one readout neuron, in ``f``'s type: ``F' = sat(decay_syn(F) + acc)``,
    ``U' = sat(decay_mem(U) + F)`` (the previous ``F``). Returns ``(new_F, new_U)``."""
    new_f = min(max(cast_like(decay(f, keep_syn, gain_syn) + acc, f), lo), hi)
    new_u = min(max(cast_like(decay(u, keep_mem, gain_mem) + f, f), lo), hi)
    return new_f, new_u


@numba.njit(numba.types.UniTuple(_I64, 2)(_I64, _I64, _I64, numba.int64[::1]), **JIT)
def readout_update(f, u, acc, c):
    """Section 4.3 for one int64 readout neuron: returns ``(new_F, new_U)``."""
    keep_syn, gain_syn, keep_mem, gain_mem = layer_decay_factors(c.reshape((1, c.size)), 0)
    return readout_neuron(f, u, acc, c[0], c[1], keep_syn, gain_syn, keep_mem, gain_mem)


@numba.njit(inline="always", **JIT)
def lif_layer_update(current, membrane, acc, spikes, start, count, consts, layer):
    """Section 4.2 for a whole hidden layer, in place: one :func:`lif_neuron` per neuron.

    The layer's neurons are entries ``start .. start + count - 1`` of the flat arrays (flat, not sliced, so
    the hot loop creates no array views). ``current``, ``membrane`` (int32 or int64, the arithmetic type)
    hold ``I[t]``, ``V[t]`` on entry and ``I[t+1]``, ``V[t+1]`` on return; ``acc`` (same type) is the step's
    exact input sum (section 4.1), consumed: each entry is set back to 0, ready for the next step's sum;
    ``spikes`` receives ``s[t]``. ``consts[layer]`` is the layer's :func:`layer_constants` row, read once
    into locals so the loop vectorises.

    Returns ``(number of spikes, 1 if any state is nonzero else 0)``. A layer whose state is all zero and
    which gets no input stays all zero and silent (``0 > theta`` never holds and decay(0) = 0), so callers
    may skip it.
    """
    lo, hi = cast_like(consts[layer, 0], current), cast_like(consts[layer, 1], current)
    keep_syn, gain_syn, keep_mem, gain_mem = layer_decay_factors(consts, layer)
    threshold, reset = cast_like(consts[layer, 6], current), consts[layer, 7]
    n_spikes = cast_like(0, current)
    nonzero = cast_like(0, current)
    # Unsigned indices: numba adds no negative-index wrap-around, so the loop vectorises. The running sums
    # stay in the state type: one int64 in the loop would halve the SIMD width.
    for k in range(numba.uint64(count)):
        j = numba.uint64(start) + k
        s, i_new, v_new = lif_neuron(
            current[j], membrane[j], acc[j], lo, hi, keep_syn, gain_syn, keep_mem, gain_mem, threshold, reset
        )
        spikes[j] = s
        current[j] = i_new
        membrane[j] = v_new
        acc[j] = 0
        n_spikes = cast_like(n_spikes + s, current)
        nonzero = cast_like(nonzero | i_new | v_new, current)
    return _I64(n_spikes), _I64(1 if nonzero != 0 else 0)


@numba.njit(inline="always", **JIT)
def readout_layer_update(f, u, acc, scores, start, count, consts, layer):
    """Sections 4.3 and 4.5 for the readout layer, in place: one :func:`readout_neuron` per neuron
    (entries ``start .. start + count - 1`` of the flat ``f``, ``u``, ``acc``, which share the arithmetic
    type; ``acc`` is consumed and set back to 0), then ``scores[k] = max(scores[k], U_k[t+1])``. Returns 1
    if any state is nonzero, else 0."""
    lo, hi = cast_like(consts[layer, 0], f), cast_like(consts[layer, 1], f)
    keep_syn, gain_syn, keep_mem, gain_mem = layer_decay_factors(consts, layer)
    nonzero = cast_like(0, f)
    for k in range(numba.uint64(count)):
        j = numba.uint64(start) + k
        f_new, u_new = readout_neuron(f[j], u[j], acc[j], lo, hi, keep_syn, gain_syn, keep_mem, gain_mem)
        f[j] = f_new
        u[j] = u_new
        acc[j] = 0
        scores[k] = max(scores[k], u_new)
        nonzero = cast_like(nonzero | f_new | u_new, f)
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
