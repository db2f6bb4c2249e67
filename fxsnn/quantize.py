"""Float <-> integer mapping of docs/fixed-point.md section 5.

A float layer (the paper's units: threshold 1, decay factors alpha and beta) becomes an integer layer with
one positive scale ``sigma`` (integer state units per float unit):

- weight LSB ``lambda = 2**S / sigma`` (the float weight of one stored magnitude step);
- ``m = clip(round(|W| / lambda), 0, 2**Bw - 1)``, sign = the presynaptic type;
- threshold ``round(sigma)``;
- multiply-mode decay ``d = round(alpha * 2**F)``; shift mode: the ``k`` whose ``1 - 2**-k`` is closest.

The user's knob is the **weight range** of a layer: the float weight that maps to the largest magnitude
``2**Bw - 1``. It fixes ``lambda = range / (2**Bw - 1)``. The **weight shift** S then only decides how
many fractional bits the state carries beyond the weights (``sigma = 2**S / lambda``); by default
(:func:`auto_weight_shift`) S is the largest shift that keeps ``headroom`` float units of state range
(so currents and membranes up to ``headroom`` times the threshold do not saturate). More state precision
matters because decay rounds toward zero: with a coarse state, small currents vanish after a few steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .network import MAX_WEIGHT_SHIFT, LayerParams, ParameterError, decay_constant

__all__ = [
    "PAPER_ALPHA",
    "PAPER_BETA",
    "DEFAULT_HEADROOM",
    "weight_lsb",
    "auto_weight_shift",
    "layer_scale",
    "shift_constant",
    "decay_constants",
    "float_decays",
    "make_layer_params",
    "quantize_magnitudes",
    "LayerSpec",
]

#: The paper's synaptic and membrane decay factors (tau_syn = 5 ms, tau_mem = 10 ms, dt = 1 ms).
PAPER_ALPHA = math.exp(-1 / 5)
PAPER_BETA = math.exp(-1 / 10)
#: Default float state range kept free of saturation when the weight shift is chosen automatically.
DEFAULT_HEADROOM = 512.0


def weight_lsb(weight_range: float, weight_bits: int) -> float:
    """Float weight of one magnitude step: ``weight_range / (2**weight_bits - 1)``."""
    if not (isinstance(weight_range, (int, float)) and math.isfinite(weight_range) and weight_range > 0):
        raise ParameterError(f"weight_range must be a positive finite number, not {weight_range!r}")
    return float(weight_range) / ((1 << weight_bits) - 1)


def auto_weight_shift(
    weight_range: float, weight_bits: int, state_bits: int, headroom: float = DEFAULT_HEADROOM
) -> int:
    """Largest weight shift S (0..15) whose scale keeps ``headroom`` float units inside the state range.

    ``sigma = 2**S * (2**Bw - 1) / weight_range`` must satisfy ``sigma * headroom <= 2**(B-1) - 1`` and the
    largest weight term ``(2**Bw - 1) << S`` must fit the state (the LayerParams rule). Returns 0 if even
    S = 0 exceeds the headroom (the layer then simply saturates earlier).
    """
    lsb = weight_lsb(weight_range, weight_bits)
    state_max = (1 << (state_bits - 1)) - 1
    weight_max = (1 << weight_bits) - 1
    best = 0
    for shift in range(MAX_WEIGHT_SHIFT + 1):
        sigma = (1 << shift) / lsb
        if sigma * headroom <= state_max and (weight_max << shift) <= state_max and round(sigma) <= state_max:
            best = shift
    return best


def layer_scale(weight_range: float, weight_bits: int, weight_shift: int) -> float:
    """``sigma = 2**S / lambda``: integer state units per float unit for this layer."""
    return (1 << weight_shift) / weight_lsb(weight_range, weight_bits)


def shift_constant(factor: float, state_bits: int) -> int:
    """Shift-mode decay ``k`` in ``[0, state_bits - 1]`` whose factor ``1 - 2**-k`` is closest to ``factor``.

    Ties go to the smaller ``k``.
    """
    if not 0.0 <= factor <= 1.0:
        raise ParameterError(f"a decay factor must be in [0, 1], not {factor!r}")
    return min(range(state_bits), key=lambda k: (abs((1.0 - 2.0**-k) - factor), k))


def decay_constants(
    alpha: float, beta: float, decay_mode: str, frac_bits: int, state_bits: int
) -> tuple[int, int]:
    """Integer ``(syn_decay, mem_decay)`` constants for float factors ``alpha`` and ``beta``."""
    if decay_mode == "multiply":
        return decay_constant(alpha, frac_bits), decay_constant(beta, frac_bits)
    if decay_mode == "shift":
        return shift_constant(alpha, state_bits), shift_constant(beta, state_bits)
    raise ParameterError(f"decay_mode must be 'multiply' or 'shift', not {decay_mode!r}")


def float_decays(params: LayerParams) -> tuple[float, float]:
    """The float factors ``(a, b)`` the integer constants of ``params`` represent."""
    if params.decay_mode == "multiply":
        scale = float(1 << params.frac_bits)
        return params.syn_decay / scale, params.mem_decay / scale
    return 1.0 - 2.0**-params.syn_decay, 1.0 - 2.0**-params.mem_decay


def make_layer_params(
    *,
    weight_range: float,
    weight_bits: int = 8,
    weight_shift: int | None = None,
    state_bits: int = 24,
    decay_mode: str = "multiply",
    frac_bits: int = 12,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    reset: str = "zero",
    headroom: float = DEFAULT_HEADROOM,
) -> tuple[LayerParams, float]:
    """Integer parameters of a layer and its scale sigma, from its float description.

    Parameters
    ----------
    weight_range : float
        Float weight mapped to the largest magnitude ``2**weight_bits - 1``.
    weight_shift : int or None
        None chooses :func:`auto_weight_shift`.

    Returns
    -------
    (LayerParams, float)
        The parameters (threshold ``round(sigma)``) and sigma.
    """
    if weight_shift is None:
        weight_shift = auto_weight_shift(weight_range, weight_bits, state_bits, headroom)
    sigma = layer_scale(weight_range, weight_bits, weight_shift)
    threshold = int(round(sigma))
    state_max = (1 << (state_bits - 1)) - 1
    if threshold > state_max:
        raise ParameterError(
            f"weight_range={weight_range!r} with weight_bits={weight_bits!r} and "
            f"weight_shift={weight_shift!r} gives "
            f"a threshold of {threshold}, beyond the state maximum {state_max} (state_bits={state_bits!r}); "
            "use a larger weight range, a smaller shift or wider state"
        )
    syn, mem = decay_constants(alpha, beta, decay_mode, frac_bits, state_bits)
    params = LayerParams(
        weight_bits=weight_bits,
        weight_shift=weight_shift,
        state_bits=state_bits,
        decay_mode=decay_mode,
        frac_bits=frac_bits,
        syn_decay=syn,
        mem_decay=mem,
        threshold=threshold,
        reset=reset,
    )
    return params, sigma


def quantize_magnitudes(weights: np.ndarray, lsb: float, weight_bits: int) -> np.ndarray:
    """``clip(round(|W| / lsb), 0, 2**weight_bits - 1)`` as int32 (round half to even, as numpy.rint)."""
    magnitude = np.rint(np.abs(np.asarray(weights, dtype=np.float64)) / lsb)
    return np.clip(magnitude, 0, (1 << weight_bits) - 1).astype(np.int32)


@dataclass(frozen=True)
class LayerSpec:
    """How one layer maps to integers (docs/fixed-point.md section 5).

    ``weight_shift`` None: chosen by :func:`fxsnn.quantize.auto_weight_shift`.
    """

    weight_range: float
    weight_bits: int = 8
    weight_shift: int | None = None
    state_bits: int = 24
    decay_mode: str = "multiply"
    frac_bits: int = 12

    def build(self, alpha: float, beta: float):
        """``(LayerParams, sigma)`` of this layer for float decay factors ``alpha`` and ``beta``."""
        return make_layer_params(
            weight_range=self.weight_range,
            weight_bits=self.weight_bits,
            weight_shift=self.weight_shift,
            state_bits=self.state_bits,
            decay_mode=self.decay_mode,
            frac_bits=self.frac_bits,
            alpha=alpha,
            beta=beta,
        )
