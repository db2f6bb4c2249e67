"""The paper's random initialisation (in float), its integer image, and a firing-rate-calibrated variant.

Paper (PAPER.md, "Initialization"), for ``784 -> H -> 10``:

- ``W1 = |N(0, s1)|`` (inputs are excitatory, so every input weight is >= 0);
- ``W2 = N(0, 7 (1 - beta) / sqrt(H))``, then the sign is set by the presynaptic neuron's type
  (``|w|`` for an excitatory row, ``-|w|`` for an inhibitory row).

Multi-layer generalisation (fxsnn's choice, the paper has one hidden layer): the first layer is drawn like W1;
every later layer, hidden or readout, like W2 with ``sqrt(H)`` replaced by ``sqrt(fan_in)`` of that layer,
signed by the type of its presynaptic (hidden) neuron. Hidden types follow
:func:`fxsnn.network.neuron_types` (index < int(H * ratio) excitatory).

Calibration: the paper's finding is that networks with a low initial firing rate train reliably, so users
should ask for a rate, not guess ``s1``. :func:`calibrate_s1` draws the unit-scale noise once
(``W1 = s1 * |Z|``) and bisects ``log(s1)`` until the integer network's mean first-hidden-layer rate on a
batch of training samples is within tolerance of the target (rate is monotone in s1 up to quantisation
steps, because the first layer only receives excitatory input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import FxsnnError
from .network import INHIBITORY, Layer, Network, neuron_types
from .quantize import PAPER_BETA, make_layer_params, quantize_magnitudes, weight_lsb

__all__ = ["FloatNetwork", "LayerSpec", "paper_init", "quantize_network", "calibrate_s1"]


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


@dataclass(eq=False)
class FloatNetwork:
    """Float weights in the paper's units (threshold 1), one (n_in, n_out) array per layer, signed.

    ``types[k]`` are the types of layer k's neurons (readout: zeros). Presynaptic types of layer k are
    ``types[k - 1]`` (inputs: excitatory).
    """

    weights: list
    types: list
    alpha: float
    beta: float

    def presynaptic_types(self, k: int) -> np.ndarray | None:
        return None if k == 0 else self.types[k - 1]


def _signed_by_type(magnitudes: np.ndarray, presynaptic_types: np.ndarray) -> np.ndarray:
    sign = np.where(presynaptic_types == INHIBITORY, -1.0, 1.0)
    return sign[:, None] * np.abs(magnitudes)


def paper_init(
    n_inputs: int,
    hidden: tuple,
    n_outputs: int,
    *,
    ratio: float,
    s1: float,
    rng: np.random.Generator,
    alpha: float | None = None,
    beta: float = PAPER_BETA,
    unit_first_layer: np.ndarray | None = None,
) -> FloatNetwork:
    """The paper's initialisation, generalised to several hidden layers (see the module docstring).

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer sizes.
    ratio : float
        Excitatory fraction of every hidden layer.
    s1 : float
        Standard deviation of the first layer, before the absolute value.
    rng : numpy.random.Generator
        All randomness. The first layer is drawn first, then the later layers in order.
    """
    from .quantize import PAPER_ALPHA

    if not (isinstance(s1, (int, float)) and math.isfinite(s1) and s1 >= 0):
        raise FxsnnError(f"s1 must be a finite number >= 0, not {s1!r}")
    hidden = tuple(int(h) for h in hidden)
    sizes = (int(n_inputs), *hidden, int(n_outputs))
    types = [neuron_types(h, ratio) for h in hidden] + [np.zeros(n_outputs, dtype=np.int8)]
    weights = [s1 * np.abs(rng.standard_normal((sizes[0], sizes[1])))]
    for k in range(1, len(sizes) - 1):
        std = 7.0 * (1.0 - beta) / math.sqrt(sizes[k])
        draw = rng.normal(0.0, std, size=(sizes[k], sizes[k + 1]))
        weights.append(_signed_by_type(draw, types[k - 1]))
    return FloatNetwork(weights, types, PAPER_ALPHA if alpha is None else alpha, beta)


def quantize_network(net: FloatNetwork, specs: list, num_steps: int) -> tuple[Network, tuple]:
    """The integer network of a float one: one :class:`LayerSpec` per layer. Returns ``(network, scales)``."""
    if len(specs) != len(net.weights):
        raise FxsnnError(f"need one layer spec per layer ({len(net.weights)}), got {len(specs)}")
    layers, scales = [], []
    for k, (weights, spec) in enumerate(zip(net.weights, specs, strict=True)):
        params, sigma = spec.build(net.alpha, net.beta)
        lsb = weight_lsb(spec.weight_range, spec.weight_bits)
        pre = net.presynaptic_types(k)
        if pre is not None:  # the paper's projection: a wrong-signed weight is 0
            sign = np.where(pre == INHIBITORY, -1.0, 1.0)[:, None]
            weights = np.maximum(weights * sign, 0.0)
        else:
            weights = np.maximum(weights, 0.0)
        layers.append(Layer(params, quantize_magnitudes(weights, lsb, spec.weight_bits), net.types[k]))
        scales.append(sigma)
    return Network(tuple(layers), num_steps), tuple(scales)


def calibrate_s1(
    target_rate_hz: float,
    events,
    *,
    hidden: tuple,
    n_outputs: int,
    ratio: float,
    specs: list,
    rng: np.random.Generator,
    beta: float = PAPER_BETA,
    tolerance: float = 0.1,
    lo: float = 1e-6,
    hi: float = 1.0,
    max_iterations: int = 40,
) -> tuple[float, float, FloatNetwork]:
    """Find ``s1`` giving ``target_rate_hz`` mean first-hidden-layer rate on ``events`` (integer network).

    The draws are made once (same ``rng`` order as :func:`paper_init`), so the result is the network that
    ``paper_init`` with the returned ``s1`` and the same seed produces.

    Returns
    -------
    (s1, rate_hz, FloatNetwork)
        Stops when ``|rate - target| <= tolerance * max(target, 1 Hz)`` or after ``max_iterations``
        bisections, returning the closest rate seen.

    Raises
    ------
    FxsnnError
        If the target is not reachable in ``[lo, hi]``.
    """
    from .training import network_rates_hz

    if not (math.isfinite(target_rate_hz) and target_rate_hz > 0):
        raise FxsnnError(f"target rate must be a positive number of Hz, not {target_rate_hz!r}")
    n_inputs = events.num_inputs
    state = rng.bit_generator.state  # every trial redraws from here, so all trials share the same noise

    def rate_for(s1: float) -> tuple[float, FloatNetwork]:
        draw_rng = np.random.Generator(type(rng.bit_generator)())
        draw_rng.bit_generator.state = state
        net = paper_init(n_inputs, hidden, n_outputs, ratio=ratio, s1=s1, rng=draw_rng, beta=beta)
        network, _ = quantize_network(net, specs, events.num_steps)
        return float(network_rates_hz(network, events)[0]), net

    r_hi, net_hi = rate_for(hi)
    if r_hi < target_rate_hz:
        raise FxsnnError(f"even s1={hi} gives only {r_hi:.2f} Hz, below the target {target_rate_hz} Hz")
    r_lo, net_lo = rate_for(lo)
    if r_lo > target_rate_hz:
        raise FxsnnError(f"even s1={lo} gives {r_lo:.2f} Hz, above the target {target_rate_hz} Hz")
    best = (abs(r_hi - target_rate_hz), hi, r_hi, net_hi)
    a, b = math.log(lo), math.log(hi)
    for _ in range(max_iterations):
        mid = math.exp(0.5 * (a + b))
        rate, net = rate_for(mid)
        if abs(rate - target_rate_hz) < best[0]:
            best = (abs(rate - target_rate_hz), mid, rate, net)
        if abs(rate - target_rate_hz) <= tolerance * max(target_rate_hz, 1.0):
            break
        if rate < target_rate_hz:
            a = math.log(mid)
        else:
            b = math.log(mid)
    # advance the caller's generator exactly as paper_init would have
    paper_init(n_inputs, hidden, n_outputs, ratio=ratio, s1=best[1], rng=rng, beta=beta)
    return best[1], best[2], best[3]
