"""The integer network description shared by the reference, the emulator, training and the HDL generator.

Everything here is plain data, validated on construction. The arithmetic it parameterises is written down
once, in ``docs/fixed-point.md``; :mod:`fxsnn.reference` is its executable form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import ParameterError

__all__ = [
    "DECAY_MODES",
    "RESET_MODES",
    "EXCITATORY",
    "INHIBITORY",
    "LayerParams",
    "Layer",
    "Network",
    "ParameterError",
    "decay_constant",
    "neuron_types",
    "presynaptic_signs",
]

DECAY_MODES = ("multiply", "shift")
RESET_MODES = ("zero", "subtract")
EXCITATORY = 0
INHIBITORY = 1

MIN_WEIGHT_BITS, MAX_WEIGHT_BITS = 2, 16
MIN_STATE_BITS, MAX_STATE_BITS = 8, 32
MAX_WEIGHT_SHIFT = 15
MIN_FRAC_BITS, MAX_FRAC_BITS = 1, 16


def _check_int(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ParameterError(f"{name} must be in [{lo}, {hi}], not {value!r}")


def decay_constant(factor: float, frac_bits: int = 12) -> int:
    """The multiply-mode constant for a float decay factor: ``round(factor * 2**frac_bits)``.

    >>> decay_constant(math.exp(-1 / 5)), decay_constant(math.exp(-1 / 10))
    (3354, 3706)
    """
    if not 0.0 <= factor <= 1.0:
        raise ParameterError(f"a decay factor must be in [0, 1], not {factor!r}")
    return int(round(factor * (1 << frac_bits)))


@dataclass(frozen=True)
class LayerParams:
    """Integer parameters of one layer (a hidden LIF layer or the leaky-integrator readout).

    Parameters
    ----------
    weight_bits : int
        Bits of a stored weight *magnitude* (2..16). The sign is not stored: it is the presynaptic
        neuron's type (inputs and excitatory neurons +, inhibitory -), so magnitudes span
        ``0 .. 2**weight_bits - 1``.
    weight_shift : int
        Each weight enters the input sum as ``magnitude << weight_shift`` (0..15): extra fractional
        precision for the state relative to the weights.
    state_bits : int
        Two's-complement width of the synaptic current and membrane (8..32); all state saturates to
        ``[-2**(state_bits-1), 2**(state_bits-1) - 1]``.
    decay_mode : {"multiply", "shift"}
        ``multiply``: ``x -> trunc(x * d / 2**frac_bits)``; ``shift``: ``x -> x - trunc(x / 2**k)``.
    frac_bits : int
        Fractional bits F of the multiply-mode constants (1..16). Ignored in shift mode.
    syn_decay, mem_decay : int
        Decay of the synaptic current (alpha) and of the membrane (beta). Multiply mode: ``d`` in
        ``[0, 2**frac_bits]``. Shift mode: ``k`` in ``[0, state_bits - 1]``.
    threshold : int
        Spike when ``membrane > threshold`` (strict), ``0 .. 2**(state_bits-1) - 1``. Readout: unused.
    reset : {"zero", "subtract"}
        After a spike the membrane goes to 0, or has ``threshold`` subtracted. Readout: unused.
    """

    weight_bits: int = 8
    weight_shift: int = 0
    state_bits: int = 24
    decay_mode: str = "multiply"
    frac_bits: int = 12
    syn_decay: int = 3354
    mem_decay: int = 3706
    threshold: int = 256
    reset: str = "zero"

    def __post_init__(self):
        _check_int("weight_bits", self.weight_bits, MIN_WEIGHT_BITS, MAX_WEIGHT_BITS)
        _check_int("weight_shift", self.weight_shift, 0, MAX_WEIGHT_SHIFT)
        _check_int("state_bits", self.state_bits, MIN_STATE_BITS, MAX_STATE_BITS)
        if self.decay_mode not in DECAY_MODES:
            raise ParameterError(f"decay_mode must be one of {DECAY_MODES}, not {self.decay_mode!r}")
        _check_int("frac_bits", self.frac_bits, MIN_FRAC_BITS, MAX_FRAC_BITS)
        if self.decay_mode == "multiply":
            hi = 1 << self.frac_bits
            _check_int("syn_decay", self.syn_decay, 0, hi)
            _check_int("mem_decay", self.mem_decay, 0, hi)
        else:
            _check_int("syn_decay", self.syn_decay, 0, self.state_bits - 1)
            _check_int("mem_decay", self.mem_decay, 0, self.state_bits - 1)
        _check_int("threshold", self.threshold, 0, self.state_max)
        if self.reset not in RESET_MODES:
            raise ParameterError(f"reset must be one of {RESET_MODES}, not {self.reset!r}")
        # The largest single weight term must fit the state width, or saturation would hide weights.
        if self.weight_max << self.weight_shift > self.state_max:
            raise ParameterError(
                f"weight_bits={self.weight_bits!r} with weight_shift={self.weight_shift!r} gives weight "
                f"terms "
                f"up to {self.weight_max << self.weight_shift}, more than the state maximum {self.state_max} "
                f"(state_bits={self.state_bits!r}); lower the shift or widen the state"
            )

    @property
    def weight_max(self) -> int:
        """Largest stored weight magnitude, ``2**weight_bits - 1``."""
        return (1 << self.weight_bits) - 1

    @property
    def state_min(self) -> int:
        return -(1 << (self.state_bits - 1))

    @property
    def state_max(self) -> int:
        return (1 << (self.state_bits - 1)) - 1

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> LayerParams:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ParameterError(f"unknown layer parameter(s): {sorted(unknown)!r}")
        return cls(**data)

    def replace(self, **changes) -> LayerParams:
        return replace(self, **changes)


def neuron_types(n: int, excitatory_ratio: float) -> np.ndarray:
    """Types of ``n`` neurons: the first ``int(n * ratio)`` excitatory (0), the rest inhibitory (1).

    This is the paper's rule (hidden index < int(H * ratio) is excitatory).
    """
    if not 0.0 <= excitatory_ratio <= 1.0:
        raise ParameterError(f"excitatory_ratio must be in [0, 1], not {excitatory_ratio!r}")
    n_exc = int(n * excitatory_ratio)
    types = np.full(n, INHIBITORY, dtype=np.int8)
    types[:n_exc] = EXCITATORY
    return types


def presynaptic_signs(types) -> np.ndarray:
    """Dale's law (docs/fixed-point.md section 1.1): the sign, +1 or -1 (int32), that every outgoing weight of
    neuron of ``types`` carries. Network inputs count as excitatory (:meth:`Network.input_signs`)."""
    return np.where(np.asarray(types) == INHIBITORY, -1, 1).astype(np.int32)


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer: its parameters, its incoming weight magnitudes and its neurons' types.

    Parameters
    ----------
    params : LayerParams
    weights : ndarray of int32, shape (n_in, n_out)
        Magnitudes in ``[0, params.weight_max]``; the sign of row ``i`` is the type of presynaptic
        neuron ``i`` (network inputs are excitatory).
    types : ndarray of int8, shape (n_out,)
        0 = excitatory, 1 = inhibitory: the sign this layer's neurons give their *outgoing* weights.
        For the readout all zeros (it has no outgoing weights).
    """

    params: LayerParams
    weights: np.ndarray
    types: np.ndarray

    def __post_init__(self):
        if not isinstance(self.params, LayerParams):
            raise ParameterError(f"params must be LayerParams, not {type(self.params).__name__}")
        weights = np.asarray(self.weights)
        if weights.ndim != 2 or weights.shape[0] < 1 or weights.shape[1] < 1:
            raise ParameterError(f"weights must be a non-empty 2-D array, got shape {weights.shape!r}")
        if not np.issubdtype(weights.dtype, np.integer):
            raise ParameterError(f"weights must be integer magnitudes, got dtype {weights.dtype}")
        lo, hi = int(weights.min()), int(weights.max())
        if lo < 0 or hi > self.params.weight_max:
            bad = lo if lo < 0 else hi
            raise ParameterError(
                f"weight magnitude {bad!r} is outside [0, {self.params.weight_max}] "
                f"(weight_bits={self.params.weight_bits})"
            )
        types = np.asarray(self.types)
        if types.shape != (weights.shape[1],):
            raise ParameterError(f"types must have shape ({weights.shape[1]},), got {types.shape!r}")
        if types.size and not np.isin(types, (EXCITATORY, INHIBITORY)).all():
            raise ParameterError("types must be 0 (excitatory) or 1 (inhibitory)")
        w = np.ascontiguousarray(weights, dtype=np.int32)
        t = np.ascontiguousarray(types, dtype=np.int8)
        w.flags.writeable = False
        t.flags.writeable = False
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "types", t)

    @property
    def n_in(self) -> int:
        return self.weights.shape[0]

    @property
    def n_out(self) -> int:
        return self.weights.shape[1]


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward stack: ``len(layers) - 1`` hidden LIF layers, then the leaky-integrator readout.

    Parameters
    ----------
    layers : tuple of Layer
        At least two: one or more hidden layers and the readout (last).
    num_steps : int
        Steps per sample, T (1..65535).
    """

    layers: tuple
    num_steps: int = 100
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        layers = tuple(self.layers)
        if len(layers) < 2:
            raise ParameterError(
                f"a network needs at least one hidden layer and a readout, got {len(layers)} layer(s)"
            )
        for k, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise ParameterError(f"layers[{k}] must be a Layer, not {type(layer).__name__}")
        for k in range(1, len(layers)):
            if layers[k].n_in != layers[k - 1].n_out:
                raise ParameterError(
                    f"layers[{k}] has {layers[k].n_in} inputs but layers[{k - 1}] has "
                    f"{layers[k - 1].n_out} neurons"
                )
        if (layers[-1].types != EXCITATORY).any():
            raise ParameterError("readout neurons have no outgoing weights: their types must all be 0")
        _check_int("num_steps", self.num_steps, 1, 65535)
        object.__setattr__(self, "layers", layers)

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def hidden(self) -> tuple:
        return self.layers[:-1]

    @property
    def readout(self) -> Layer:
        return self.layers[-1]

    @property
    def sizes(self) -> tuple:
        return (self.n_inputs, *(layer.n_out for layer in self.layers))

    def input_signs(self, k: int) -> np.ndarray:
        """Sign (+1 / -1, int32) of each input row of ``layers[k]``: inputs are excitatory."""
        if k == 0:
            return presynaptic_signs(np.full(self.n_inputs, EXCITATORY))
        return presynaptic_signs(self.layers[k - 1].types)

    def signed_weights(self, k: int) -> np.ndarray:
        """``sign[i] * (magnitude[i, j] << weight_shift)`` for ``layers[k]``, as int64."""
        layer = self.layers[k]
        return self.input_signs(k)[:, None].astype(np.int64) * (
            layer.weights.astype(np.int64) << layer.params.weight_shift
        )

    def accumulator_bits(self, k: int) -> int:
        """Signed width that holds any one step's input sum of ``layers[k]`` exactly."""
        layer = self.layers[k]
        bound = layer.n_in * (layer.params.weight_max << layer.params.weight_shift)
        return max(1, math.ceil(math.log2(bound + 1))) + 1
