"""Training configuration: TOML file plus command-line overrides, every key validated.

A config is a flat TOML table; every key is optional (defaults: the paper's Fashion-MNIST run)::

    dataset = "digits"          # digits | fmnist | mnist | shd
    hidden = [100]              # hidden layer sizes (several for a deeper stack)
    ratio = 0.8                 # excitatory fraction of every hidden layer
    weight_bits = 8             # stored magnitude bits (one value, or one per layer)
    weight_range = [0.25, 2.0]  # float weight of the largest magnitude, per layer (hidden..., readout)
    ...

Unknown keys, wrong types and out-of-range values raise :class:`fxsnn.errors.UsageError` naming the key and
the bad value.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..datasets.registry import DATASETS
from ..errors import UsageError
from ..network import (
    DECAY_MODES,
    MAX_FRAC_BITS,
    MAX_STATE_BITS,
    MAX_WEIGHT_BITS,
    MAX_WEIGHT_SHIFT,
    MIN_FRAC_BITS,
    MIN_STATE_BITS,
    MIN_WEIGHT_BITS,
)
from ..quantize import LayerSpec

__all__ = ["TrainConfig", "load_config", "DEFAULT_WEIGHT_RANGE"]

#: Default float weight ranges (the float weight stored as the largest magnitude): first layer, later layers.
#: Measured on the paper's 784-100-10 network: after float training on Fashion-MNIST the largest |W1| is about
#: 0.045 and the 99.9th percentile of |W2| about 0.56 (docs/training.md). Other data sets need their own
#: (digits, 64 inputs: configs/digits.toml uses [0.25, 2.0]); a float run (``--float``) shows the weights.
DEFAULT_WEIGHT_RANGE = (0.05, 1.0)

_OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainConfig:
    """Every setting of a training run (see the module docstring for the file format)."""

    dataset: str = "fmnist"
    data_dir: str | None = None
    hidden: list = field(default_factory=lambda: [100])
    ratio: float = 0.8
    steps: int | None = None
    encoder: dict | None = None
    tau_syn: float = 5.0
    tau_mem: float = 10.0
    weight_bits: object = 8
    weight_shift: object = "auto"
    weight_range: list | None = None
    state_bits: int = 24
    decay_mode: str = "multiply"
    frac_bits: int = 12
    epochs: int = 30
    lr: float = 0.01
    batch_size: int = 256
    optimizer: str = "sgd"
    s1: float | None = None
    target_rate: float | None = None
    noise: float = 0.0
    noise_lsb: float = 0.0
    float_mode: bool = False
    seed: int = 0
    train_samples: int = 0
    test_samples: int = 0
    out: str | None = None
    threads: int | None = None

    # ---------------------------------------------------------------- validation
    def __post_init__(self):
        self.validate()

    def validate(self) -> TrainConfig:
        _choice("dataset", self.dataset, tuple(DATASETS))
        if self.data_dir is not None:
            _type("data_dir", self.data_dir, str)
        if isinstance(self.hidden, int) and not isinstance(self.hidden, bool):
            self.hidden = [self.hidden]
        if not isinstance(self.hidden, list) or not self.hidden:
            raise UsageError(
                f"config key 'hidden' must be a list of layer sizes like [100], not {self.hidden!r}"
            )
        for k, h in enumerate(self.hidden):
            _int(f"hidden[{k}]", h, 1, 100_000)
        self.ratio = _float("ratio", self.ratio, 0.0, 1.0)
        if self.steps is not None:
            _int("steps", self.steps, 1, 65535)
        if self.encoder is not None and not isinstance(self.encoder, dict):
            raise UsageError(
                f"config key 'encoder' must be a table like {{kind = \"latency\"}}, not {self.encoder!r}"
            )
        self.tau_syn = _float("tau_syn", self.tau_syn, 0.0, 1e6, open_low=True)
        self.tau_mem = _float("tau_mem", self.tau_mem, 0.0, 1e6, open_low=True)
        n_layers = len(self.hidden) + 1
        self.weight_bits = _per_layer("weight_bits", self.weight_bits, n_layers, _weight_bits)
        self.weight_shift = _per_layer("weight_shift", self.weight_shift, n_layers, _shift)
        if self.weight_range is not None:
            self.weight_range = _per_layer(
                "weight_range",
                self.weight_range,
                n_layers,
                lambda n, v: _float(n, v, 0.0, 1e9, open_low=True),
            )
        _int("state_bits", self.state_bits, MIN_STATE_BITS, MAX_STATE_BITS)
        _choice("decay_mode", self.decay_mode, DECAY_MODES)
        _int("frac_bits", self.frac_bits, MIN_FRAC_BITS, MAX_FRAC_BITS)
        _int("epochs", self.epochs, 1, 100_000)
        self.lr = _float("lr", self.lr, 0.0, 1e3, open_low=True)
        _int("batch_size", self.batch_size, 1, 1 << 20)
        _choice("optimizer", self.optimizer, _OPTIMIZERS)
        if self.s1 is not None and self.target_rate is not None:
            raise UsageError(f"give either s1 ({self.s1!r}) or target_rate ({self.target_rate!r}), not both")
        if self.s1 is not None:
            self.s1 = _float("s1", self.s1, 0.0, 1e3)
        if self.target_rate is not None:
            self.target_rate = _float("target_rate", self.target_rate, 0.0, 1000.0, open_low=True)
        self.noise = _float("noise", self.noise, 0.0, 1e3)
        self.noise_lsb = _float("noise_lsb", self.noise_lsb, 0.0, 1e6)
        _type("float_mode", self.float_mode, bool)
        _int("seed", self.seed, 0, 2**63 - 1)
        _int("train_samples", self.train_samples, 0, 1 << 40)
        _int("test_samples", self.test_samples, 0, 1 << 40)
        if self.out is not None:
            _type("out", self.out, str)
        if self.threads is not None:
            _int("threads", self.threads, 1, 1024)
        return self

    # ---------------------------------------------------------------- derived values
    @property
    def initial_s1(self) -> float:
        """s1 when no target rate is given (the paper's low-rate 0.001 by default)."""
        return 0.001 if self.s1 is None else self.s1

    @property
    def decay_factors(self) -> tuple[float, float]:
        """``(alpha, beta) = (exp(-1 / tau_syn), exp(-1 / tau_mem))`` (steps of 1 ms, as the paper)."""
        return math.exp(-1.0 / self.tau_syn), math.exp(-1.0 / self.tau_mem)

    def layer_specs(self) -> list[LayerSpec]:
        """How each layer (hidden ones, then the readout) maps to integers (docs/fixed-point.md section 5)."""
        ranges = self.weight_ranges()
        return [
            LayerSpec(
                weight_range=ranges[k],
                weight_bits=self.weight_bits[k],
                weight_shift=None if self.weight_shift[k] == "auto" else self.weight_shift[k],
                state_bits=self.state_bits,
                decay_mode=self.decay_mode,
                frac_bits=self.frac_bits,
            )
            for k in range(len(self.hidden) + 1)
        ]

    def weight_ranges(self) -> list:
        if self.weight_range is not None:
            return list(self.weight_range)
        n = len(self.hidden) + 1
        return [DEFAULT_WEIGHT_RANGE[0]] + [DEFAULT_WEIGHT_RANGE[1]] * (n - 1)

    def to_dict(self) -> dict:
        return asdict(self)

    def run_identity(self) -> dict:
        """The settings a resumed run must share with the original (everything that shapes the result)."""
        data = self.to_dict()
        for key in ("epochs", "out", "threads", "data_dir"):
            data.pop(key)
        return data


_KEYS = {f.name for f in fields(TrainConfig)}
#: TOML spelling of keys that differ from the attribute (``float`` is a Python builtin name).
_ALIASES = {"float": "float_mode"}


def load_config(path=None, overrides: dict | None = None) -> TrainConfig:
    """Read a TOML config (optional) and apply ``overrides`` (keys with value None are ignored).

    Raises
    ------
    UsageError
        For an unreadable file, a TOML syntax error, an unknown key, a wrong type or an out-of-range value.
    """
    data: dict = {}
    if path is not None:
        path = Path(path)
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise UsageError(f"config file {str(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
        data = {_ALIASES.get(key, key): value for key, value in data.items()}
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise UsageError(
                f"unknown config key(s) {', '.join(map(repr, unknown))} in {str(path)!r}; "
                f"known keys: {', '.join(sorted(_KEYS))}"
            )
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        key = _ALIASES.get(key, key)
        if key not in _KEYS:
            raise UsageError(f"unknown config key {key!r}")
        data[key] = value
    if "s1" in (overrides or {}) and (overrides or {}).get("s1") is not None:
        data.pop("target_rate", None)
    elif (overrides or {}).get("target_rate") is not None:
        data.pop("s1", None)
    return TrainConfig(**data)


# -------------------------------------------------------------------------------- checks


def _type(name, value, kind):
    if kind is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        raise UsageError(f"config key {name!r} must be a {kind.__name__}, not {value!r}")


def _int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"config key {name!r} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise UsageError(f"config key {name!r} must be in [{lo}, {hi}], not {value!r}")
    return value


def _float(name, value, lo, hi, open_low=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"config key {name!r} must be a number, not {value!r}")
    value = float(value)
    if not math.isfinite(value) or value > hi or value < lo or (open_low and value == lo):
        low = f"({lo}" if open_low else f"[{lo}"
        raise UsageError(f"config key {name!r} must be in {low}, {hi}], not {value!r}")
    return value


def _choice(name, value, choices):
    if value not in choices:
        raise UsageError(f"config key {name!r} must be one of {', '.join(map(repr, choices))}, not {value!r}")


def _weight_bits(name, value):
    return _int(name, value, MIN_WEIGHT_BITS, MAX_WEIGHT_BITS)


def _shift(name, value):
    if value == "auto":
        return value
    return _int(name, value, 0, MAX_WEIGHT_SHIFT)


def _per_layer(name, value, n_layers, check):
    """One value for every layer, or a list with one value per layer (hidden..., readout)."""
    if isinstance(value, list):
        if len(value) != n_layers:
            raise UsageError(
                f"config key {name!r} has {len(value)} values but the network has {n_layers} layers "
                f"(hidden layers and the readout): {value!r}"
            )
        return [check(f"{name}[{k}]", v) for k, v in enumerate(value)]
    return [check(name, value)] * n_layers
