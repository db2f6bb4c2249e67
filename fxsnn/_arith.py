"""The integer arithmetic of docs/fixed-point.md, jitted once for every numba kernel to share.

The one network step (:mod:`fxsnn._step`), which the emulator and the training forward pass share, calls
these; nothing re-derives the rules. The neuron and layer helpers are generic over the state's type: int64
can never wrap (``|state| <= 2**31``, constants ``<= 2**16``); int32 is used only where the emulator has
checked that no sum can leave it, and doubles the SIMD width; float64 state runs the paper's float
equations (training's float mode, :func:`float_layer_constants`): the same step with ``decay(x) = x * factor``
and no saturation. Decay is computed as an exact float64 product (see :func:`decay`). The pure-Python
rendering of the integer rules is :mod:`fxsnn.reference`.

A layer's parameters reach the kernels as one record of :data:`LAYER_CONSTANTS` (named fields, see
:func:`layer_constants`).

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
    "ARITHMETIC_VERSION",
    "MODE_MULTIPLY",
    "MODE_SHIFT",
    "LAYER_CONSTANTS",
    "cast_like",
    "decay_factors",
    "decay",
    "lif_neuron",
    "lif_update",
    "lif_layer_update",
    "readout_neuron",
    "readout_update",
    "readout_layer_update",
    "layer_constants",
    "float_layer_constants",
]

#: Version of the integer arithmetic of docs/fixed-point.md. Raise it whenever that arithmetic (or the
#: training forward pass built on it) changes what a run produces: every sweep run id (fxsnn.study.identity)
#: then changes, and resumed sweeps recompute.
ARITHMETIC_VERSION = 1

MODE_MULTIPLY = 0
MODE_SHIFT = 1

#: One layer's constants as the kernels read them (a numpy record, one per layer):
#:
#: - ``lo``, ``hi``: the state range ``[-2**(B-1), 2**(B-1) - 1]`` (section 2);
#: - ``decay_mode`` (:data:`MODE_MULTIPLY` or :data:`MODE_SHIFT`), ``frac_bits``, ``syn_decay``,
#:   ``mem_decay``: section 3's parameters, as in :class:`~fxsnn.network.LayerParams`;
#: - ``keep_syn``, ``gain_syn``, ``keep_mem``, ``gain_mem``: the same decays as :func:`decay` takes them
#:   (:func:`decay_factors`), computed once per layer;
#: - ``threshold``, ``reset_zero``: section 4.2 (the readout ignores them).
LAYER_CONSTANTS = np.dtype(
    [
        ("lo", np.int64),
        ("hi", np.int64),
        ("decay_mode", np.int64),
        ("frac_bits", np.int64),
        ("syn_decay", np.int64),
        ("mem_decay", np.int64),
        ("keep_syn", np.int64),
        ("gain_syn", np.float64),
        ("keep_mem", np.int64),
        ("gain_mem", np.float64),
        ("threshold", np.int64),
        ("reset_zero", np.bool_),
    ]
)

_I64 = numba.int64


def cast_like(value, like):
    """``value`` converted to the type of ``like`` (a scalar, or an array's element type).

    For jitted code only: it makes the layer helpers below generic, so the same source computes in int32
    lanes on int32 state (twice the SIMD width), in int64 on int64 state and in float64 on float state.
    Float values become integers truncated toward zero, integers keep their low bits (callers only convert
    values that fit).
    """
    return (like.dtype.type if isinstance(like, np.ndarray) else type(like))(value)


@numba.extending.overload(cast_like, inline="always")
def _cast_like_jit(value, like):
    target = like.dtype if isinstance(like, numba.types.Array) else like

    def impl(value, like):
        return target(value)

    return impl


def _nonzero_bits(x):
    """For jitted code only: ``x`` itself for integers (OR-ing them tells whether any is nonzero, in the
    state's own lanes), ``int64(x != 0)`` for floats."""
    return x if not isinstance(x, float) else np.int64(x != 0)


@numba.extending.overload(_nonzero_bits, inline="always")
def _nonzero_bits_jit(x):
    if isinstance(x, numba.types.Float):
        return lambda x: np.int64(x != 0.0)
    return lambda x: x


#: ``2**-k`` for k = 0..32, exact: a table read and a multiply instead of a division in every layer step.
_POW2_NEG = np.ldexp(1.0, -np.arange(33))


@numba.njit(numba.types.Tuple((_I64, numba.float64))(_I64, _I64, _I64), inline="always", **JIT)
def decay_factors(mode, constant, frac_bits):
    """Section 3 as ``(keep, gain)`` for :func:`decay`: ``(0, d / 2**F)`` in multiply mode, ``(-1, -2**-k)``
    in shift mode. Both gains are exact in float64 (``d <= 2**16``, ``k <= 31``)."""
    if mode == MODE_MULTIPLY:
        return _I64(0), np.float64(constant) * _POW2_NEG[frac_bits]
    return _I64(-1), -_POW2_NEG[constant]


def _decay_any(x, keep, gain):
    """:func:`decay` for integer state, ``x * gain`` for float state (jitted code uses the overload below)."""
    if isinstance(x, (float, np.floating)):
        return x * gain
    return type(x)((x & keep) + int(np.float64(x) * gain))


@numba.extending.overload(_decay_any, inline="always")
def _decay_any_jit(x, keep, gain):
    if isinstance(x, numba.types.Float):
        return lambda x, keep, gain: x * gain
    return lambda x, keep, gain: cast_like((x & cast_like(keep, x)) + cast_like(np.float64(x) * gain, x), x)


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
    :func:`fxsnn.reference.decay`, at every edge of every mode. For float state (training's float mode) it
    is ``x * gain``, the float model's decay.
    """
    return _decay_any(x, keep, gain)


@numba.njit(inline="always", **JIT)
def lif_neuron(current, membrane, acc, lo, hi, keep_syn, gain_syn, keep_mem, gain_mem, threshold, reset_zero):
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
    if spike and reset_zero:
        new_membrane = cast_like(0, current)
    return cast_like(1 if spike else 0, current), new_current, new_membrane


@numba.njit(inline="always", **JIT)
def readout_neuron(f, u, acc, lo, hi, keep_syn, gain_syn, keep_mem, gain_mem):
    """Section 4.3 for one readout neuron, in ``f``'s type: ``F' = sat(decay_syn(F) + acc)``,
    ``U' = sat(decay_mem(U) + F)`` (the previous ``F``). Returns ``(new_F, new_U)``."""
    new_f = min(max(cast_like(decay(f, keep_syn, gain_syn) + acc, f), lo), hi)
    new_u = min(max(cast_like(decay(u, keep_mem, gain_mem) + f, f), lo), hi)
    return new_f, new_u


@numba.njit(numba.types.UniTuple(_I64, 3)(_I64, _I64, _I64, numba.from_dtype(LAYER_CONSTANTS)[::1]), **JIT)
def lif_update(current, membrane, acc, consts):
    """Section 4.2 for one int64 neuron of the layer ``consts[0]`` (a :func:`layer_constants` array):
    returns ``(spike, new_current, new_membrane)``."""
    c = consts[0]
    return lif_neuron(
        current,
        membrane,
        acc,
        c.lo,
        c.hi,
        c.keep_syn,
        c.gain_syn,
        c.keep_mem,
        c.gain_mem,
        c.threshold,
        c.reset_zero,
    )


@numba.njit(numba.types.UniTuple(_I64, 2)(_I64, _I64, _I64, numba.from_dtype(LAYER_CONSTANTS)[::1]), **JIT)
def readout_update(f, u, acc, consts):
    """Section 4.3 for one int64 readout neuron of the layer ``consts[0]``: returns ``(new_F, new_U)``."""
    c = consts[0]
    return readout_neuron(f, u, acc, c.lo, c.hi, c.keep_syn, c.gain_syn, c.keep_mem, c.gain_mem)


@numba.njit(inline="always", **JIT)
def lif_layer_update(current, membrane, acc, spikes, start, count, c):
    """Section 4.2 for a whole hidden layer, in place: one :func:`lif_neuron` per neuron.

    The layer's neurons are entries ``start .. start + count - 1`` of the flat arrays (flat, not sliced, so
    the hot loop creates no array views). ``current``, ``membrane`` (int32, int64 or float64: the arithmetic
    type) hold ``I[t]``, ``V[t]`` on entry and ``I[t+1]``, ``V[t+1]`` on return; ``acc`` (same type) is the
    step's exact input sum (section 4.1), consumed: each entry is set back to 0, ready for the next step's
    sum; ``spikes`` receives ``s[t]``. ``c`` is the layer's :data:`LAYER_CONSTANTS` record, read once into
    locals so the loop vectorises.

    Returns ``(number of spikes, 1 if any state is nonzero else 0)``. A layer whose state is all zero and
    which gets no input stays all zero and silent (``0 > theta`` never holds and decay(0) = 0), so callers
    may skip it.
    """
    lo, hi = cast_like(c.lo, current), cast_like(c.hi, current)
    keep_syn, gain_syn, keep_mem, gain_mem = c.keep_syn, c.gain_syn, c.keep_mem, c.gain_mem
    threshold, reset_zero = cast_like(c.threshold, current), c.reset_zero
    n_spikes = cast_like(0, current)
    nonzero = _nonzero_bits(cast_like(0, current))
    # Unsigned indices: numba adds no negative-index wrap-around, so the loop vectorises. The running sums
    # stay in the state type: one int64 in the loop would halve the SIMD width.
    for k in range(numba.uint64(count)):
        j = numba.uint64(start) + k
        s, i_new, v_new = lif_neuron(
            current[j],
            membrane[j],
            acc[j],
            lo,
            hi,
            keep_syn,
            gain_syn,
            keep_mem,
            gain_mem,
            threshold,
            reset_zero,
        )
        spikes[j] = s
        current[j] = i_new
        membrane[j] = v_new
        acc[j] = 0
        n_spikes = cast_like(n_spikes + s, current)
        nonzero = cast_like(nonzero | _nonzero_bits(i_new) | _nonzero_bits(v_new), nonzero)
    return _I64(n_spikes), _I64(1 if nonzero != 0 else 0)


@numba.njit(inline="always", **JIT)
def readout_layer_update(f, u, acc, scores, start, count, c, best_step, step):
    """Sections 4.3 and 4.5 for the readout layer, in place: one :func:`readout_neuron` per neuron
    (entries ``start .. start + count - 1`` of the flat ``f``, ``u``, ``acc``, which share the arithmetic
    type; ``acc`` is consumed and set back to 0), then ``scores[k] = max(scores[k], U_k[t+1])``.

    ``best_step`` (None, or an array of one entry per readout neuron) also records the first step
    ``t + 1`` (``step + 1``) at which each score reached its maximum, which training's backward pass starts
    from. Returns 1 if any state is nonzero, else 0."""
    lo, hi = cast_like(c.lo, f), cast_like(c.hi, f)
    keep_syn, gain_syn, keep_mem, gain_mem = c.keep_syn, c.gain_syn, c.keep_mem, c.gain_mem
    nonzero = _nonzero_bits(cast_like(0, f))
    for k in range(numba.uint64(count)):
        j = numba.uint64(start) + k
        f_new, u_new = readout_neuron(f[j], u[j], acc[j], lo, hi, keep_syn, gain_syn, keep_mem, gain_mem)
        f[j] = f_new
        u[j] = u_new
        acc[j] = 0
        if best_step is not None:
            if u_new > scores[k]:
                best_step[k] = step + 1
        scores[k] = max(scores[k], u_new)
        nonzero = cast_like(nonzero | _nonzero_bits(f_new) | _nonzero_bits(u_new), nonzero)
    return _I64(1 if nonzero != 0 else 0)


def layer_constants(*params: LayerParams) -> np.ndarray:
    """The :data:`LAYER_CONSTANTS` records of one or more layers' parameters, as a 1-D array."""
    out = np.zeros(len(params), dtype=LAYER_CONSTANTS)
    for k, p in enumerate(params):
        mode = MODE_MULTIPLY if p.decay_mode == "multiply" else MODE_SHIFT
        record = out[k]
        record["lo"], record["hi"] = p.state_min, p.state_max
        record["decay_mode"], record["frac_bits"] = mode, p.frac_bits
        record["syn_decay"], record["mem_decay"] = p.syn_decay, p.mem_decay
        record["keep_syn"], record["gain_syn"] = decay_factors(mode, p.syn_decay, p.frac_bits)
        record["keep_mem"], record["gain_mem"] = decay_factors(mode, p.mem_decay, p.frac_bits)
        record["threshold"] = p.threshold
        record["reset_zero"] = p.reset == "zero"
    return out


def float_layer_constants(alpha: float, beta: float, n_layers: int) -> np.ndarray:
    """Records that make the kernels run the paper's float equations on float64 state (training's float
    mode): ``decay(x) = alpha * x`` (current) and ``beta * x`` (membrane), threshold 1, reset to zero, and
    no saturation (the range is int64's, far beyond any float state the model reaches)."""
    out = np.zeros(n_layers, dtype=LAYER_CONSTANTS)
    out["lo"], out["hi"] = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    out["decay_mode"] = MODE_MULTIPLY
    out["gain_syn"], out["gain_mem"] = alpha, beta
    out["threshold"] = 1
    out["reset_zero"] = True
    return out
