"""The paper's random initialisation (in float), its integer image, and a firing-rate-calibrated variant.

Paper (docs/paper.md, "Initialisation"), for ``784 -> H -> 10``:

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
steps, because the first layer only receives excitatory input). The rate is the emulator's
(:func:`fxsnn.emulator.simulate`), computed by :mod:`fxsnn.analysis`.

:func:`initialise` is the one entry point: ``fxsnn init`` and training both draw their initial network
through it, so the same seed gives the same network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .analysis import population_rates_hz
from .emulator import simulate
from .errors import FxsnnError
from .network import Layer, Network, neuron_types, presynaptic_signs
from .quantize import PAPER_ALPHA, PAPER_BETA, LayerSpec, quantize_magnitudes, weight_lsb

__all__ = [
    "FloatNetwork",
    "Initialisation",
    "LayerSpec",
    "paper_init",
    "quantize_network",
    "calibrate_s1",
    "initialise",
]


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
    return presynaptic_signs(presynaptic_types)[:, None] * np.abs(magnitudes)


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
            weights = np.maximum(weights * presynaptic_signs(pre)[:, None], 0.0)
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
    alpha: float = PAPER_ALPHA,
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
    if not (math.isfinite(target_rate_hz) and target_rate_hz > 0):
        raise FxsnnError(f"target rate must be a positive number of Hz, not {target_rate_hz!r}")
    n_inputs = events.num_inputs
    state = rng.bit_generator.state  # every trial redraws from here, so all trials share the same noise

    def rate_for(s1: float) -> tuple[float, FloatNetwork]:
        draw_rng = np.random.Generator(type(rng.bit_generator)())
        draw_rng.bit_generator.state = state
        net = paper_init(
            n_inputs, hidden, n_outputs, ratio=ratio, s1=s1, rng=draw_rng, alpha=alpha, beta=beta
        )
        network, _ = quantize_network(net, specs, events.num_steps)
        return first_layer_rate_hz(network, events), net

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
    paper_init(n_inputs, hidden, n_outputs, ratio=ratio, s1=best[1], rng=rng, alpha=alpha, beta=beta)
    return best[1], best[2], best[3]


def first_layer_rate_hz(network: Network, events) -> float:
    """The emulator's mean firing rate (Hz) of ``network``'s first hidden layer over ``events``."""
    result = simulate(network, events)
    return population_rates_hz(result.spike_counts[0], network.layers[0].types, network.num_steps)["all"]


@dataclass(frozen=True, eq=False)
class Initialisation:
    """An initial network: its float weights, their integer image, the scales, and how it was drawn.

    ``info`` is ``{"s1": ...}``, plus ``calibrated_rate_hz`` and ``target_rate_hz`` when calibrated.
    """

    float_network: FloatNetwork
    network: Network
    scales: tuple
    info: dict


def initialise(
    n_inputs: int,
    hidden: tuple,
    n_outputs: int,
    specs: list,
    *,
    ratio: float,
    rng: np.random.Generator,
    num_steps: int,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    s1: float | None = None,
    target_rate: float | None = None,
    events=None,
) -> Initialisation:
    """Draw the initial network: :func:`paper_init` with ``s1``, or with the ``s1`` that
    :func:`calibrate_s1` finds for ``target_rate`` Hz on ``events``; then its integer image
    (:func:`quantize_network`). Exactly one of ``s1`` and ``target_rate`` must be given."""
    if (s1 is None) == (target_rate is None):
        raise FxsnnError(f"give exactly one of s1 ({s1!r}) and target_rate ({target_rate!r})")
    if target_rate is not None:
        if events is None:
            raise FxsnnError("calibrating to a target rate needs input events to measure the rate on")
        s1, rate, float_network = calibrate_s1(
            target_rate,
            events,
            hidden=tuple(hidden),
            n_outputs=n_outputs,
            ratio=ratio,
            specs=specs,
            rng=rng,
            alpha=alpha,
            beta=beta,
        )
        info = {"s1": s1, "calibrated_rate_hz": rate, "target_rate_hz": target_rate}
    else:
        float_network = paper_init(
            n_inputs, tuple(hidden), n_outputs, ratio=ratio, s1=s1, rng=rng, alpha=alpha, beta=beta
        )
        info = {"s1": s1}
    network, scales = quantize_network(float_network, specs, num_steps)
    return Initialisation(float_network, network, scales, info)
