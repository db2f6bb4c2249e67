"""Sweep files: a study described in TOML, validated completely, and expanded into its runs.

A sweep file::

    description = "E:I ratio x initial weight scale"   # optional
    trials = 8                      # seeds base.seed + 0..7 (base.seed defaults to 0), unless seed is an axis
    [base]                          # any `fxsnn train` key (fxsnn.training.config), except out and threads
    dataset = "fmnist"
    epochs = 30
    [axes]                          # cartesian product, in the order written
    ratio = [0.5, 0.8, 0.95, 1.0]
    s1 = [0.0005, 0.001]
    precision = [                   # a grouped axis: its name is no train key, each value a labelled table
        { label = "8-bit", weight_bits = 8, weight_range = [0.05, 1.0] },
        { label = "float", float = true },
    ]
    [[runs]]                        # explicit runs beside the product (alone without axes): base + the
                                    # table, times the trials unless it sets seed
    ratio = 0.8
    noise = 1e-4
    [scale.small]                   # a reduced study: replaces trials, updates base and axes, replaces runs
    trials = 2
    base = { epochs = 8, train_samples = 20000 }
    axes = { s1 = [0.001] }

An axis value, and an explicit run's table, override the base value of the same key; two axes that set the
same key are an error. Every scale is planned and checked, not only the one asked for: an unknown key, an
empty axis, a wrong type, an out-of-range value or two runs with the same settings raise
:class:`~fxsnn.errors.UsageError` naming the key path (``scale.small.axes.ratio[2]``), before anything runs.
The train keys' own rules are :func:`fxsnn.training.load_config`'s.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from fxsnn.errors import UsageError
from fxsnn.training import TrainConfig, load_config

from .identity import run_id

__all__ = ["PlannedRun", "SweepPlan", "load_sweep", "parse_sweep", "TRAIN_KEYS"]

#: Keys a sweep file may set in ``base``, an axis or a run: every ``fxsnn train`` key by its TOML name.
#: Train keys a sweep decides itself: where each run is written and how many threads it uses.
_SWEEP_OWNED = {
    "out": "a sweep writes every run to DIR/runs/<id>/",
    "threads": "every run uses one thread of its worker",
}
TRAIN_KEYS = tuple(
    sorted({"float" if f.name == "float_mode" else f.name for f in fields(TrainConfig)} - set(_SWEEP_OWNED))
)
_TOP_KEYS = ("description", "trials", "base", "axes", "runs", "scale")
_SCALE_KEYS = ("description", "trials", "base", "axes", "runs")
_MAX_TRIALS = 100_000
#: How load_config's messages name the key at fault ("config key 'weight_bits[1]' must be ...").
_NAMED_KEY = re.compile(r"config key '([A-Za-z_]+)")
#: The label key of a grouped axis's tables.
LABEL = "label"


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep.

    Attributes
    ----------
    id : str
        Content hash of the resolved settings (:func:`fxsnn.study.identity.run_id`).
    axes : dict
        Axis name -> this run's value (a grouped axis: the value's label); explicit runs have
        ``{"run": k}``, their index in ``[[runs]]``.
    trial : int
        Index of the trial (0 .. trials - 1); its seed is ``config.seed``.
    config : TrainConfig
        The resolved training settings.
    """

    id: str
    axes: dict
    trial: int
    config: TrainConfig

    def to_dict(self) -> dict:
        config = {k: v for k, v in self.config.to_dict().items() if k not in ("out", "threads", "data_dir")}
        return {"id": self.id, "axes": self.axes, "trial": self.trial, "config": config}


@dataclass(frozen=True)
class SweepPlan:
    """The runs of one scale of a sweep file, in the order they are submitted (trial by trial)."""

    source: str
    scale: str | None
    description: str
    trials: int
    axes: dict
    runs: tuple = field(default_factory=tuple)
    scales: tuple = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """JSON-ready form (``DIR/sweep.json``)."""
        return {
            "type": "fxsnn.sweep",
            "version": 1,
            "source": self.source,
            "scale": self.scale,
            "scales": list(self.scales),
            "description": self.description,
            "trials": self.trials,
            "axes": self.axes,
            "runs": [run.to_dict() for run in self.runs],
        }


def load_sweep(path, scale: str | None = None) -> SweepPlan:
    """Read and validate a sweep file and return the plan of ``scale`` (None: the file as written).

    Raises
    ------
    UsageError
        For a missing or unreadable file, a TOML syntax error, an unknown scale, or any invalid entry
        (named by its key path).
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"sweep file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"sweep file {str(path)!r} is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"sweep file {str(path)!r} is not valid TOML: {exc}") from None
    return parse_sweep(data, scale, source=str(path))


def parse_sweep(data: dict, scale: str | None = None, *, source: str = "<sweep>") -> SweepPlan:
    """Validate a parsed sweep file (every scale) and return the plan of ``scale``."""
    try:
        return _parse(data, scale, source)
    except UsageError as exc:
        raise UsageError(f"sweep file {source!r}: {exc}") from None


# --------------------------------------------------------------------------------------------- parsing


def _parse(data: dict, scale: str | None, source: str) -> SweepPlan:
    _known(data, _TOP_KEYS, "")
    scales = _table(data.get("scale", {}), "scale")
    for name, overrides in scales.items():
        _known(_table(overrides, f"scale.{name}"), _SCALE_KEYS, f"scale.{name}.")
    if scale is not None and scale not in scales:
        known = ", ".join(map(repr, scales)) or "none"
        raise UsageError(f"there is no scale {scale!r} (scales in the file: {known})")
    plans = {None: _plan(data, None, source, tuple(scales))}
    for name in scales:
        plans[name] = _plan(data, name, source, tuple(scales))
    return plans[scale]


def _plan(data: dict, scale: str | None, source: str, scale_names: tuple) -> SweepPlan:
    description = _string(data.get("description", ""), "description")
    trials = data.get("trials")
    trials_path = "trials"
    base = dict(_table(data.get("base", {}), "base"))
    base_paths = {key: f"base.{key}" for key in base}
    axes = dict(_table(data.get("axes", {}), "axes"))
    axis_paths = {name: f"axes.{name}" for name in axes}
    runs = data.get("runs", [])
    runs_path = "runs"
    if scale is not None:
        over = data["scale"][scale]
        prefix = f"scale.{scale}."
        description = _string(over.get("description", description), prefix + "description")
        if "trials" in over:
            trials, trials_path = over["trials"], prefix + "trials"
        for key, value in _table(over.get("base", {}), prefix + "base").items():
            base[key] = value
            base_paths[key] = f"{prefix}base.{key}"
        for name, values in _table(over.get("axes", {}), prefix + "axes").items():
            axes[name] = values
            axis_paths[name] = f"{prefix}axes.{name}"
        if "runs" in over:
            runs, runs_path = over["runs"], prefix + "runs"
    seed_is_set = "seed" in axes
    if trials is None:
        trials = 1
    elif seed_is_set and trials != 1:
        raise UsageError(f"{trials_path} = {trials!r} and {axis_paths['seed']} both choose seeds; keep one")
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= _MAX_TRIALS:
        raise UsageError(f"{trials_path} must be an integer in [1, {_MAX_TRIALS}], not {trials!r}")

    for key in base:
        _train_key(key, base_paths[key])
    _resolve(base, {}, "base" if base else "the defaults", base_paths)
    axis_settings = {name: _axis(name, values, axis_paths[name], base) for name, values in axes.items()}
    _no_shared_keys(axis_settings, axis_paths)
    if not isinstance(runs, list):
        raise UsageError(f"{runs_path} must be an array of tables ([[runs]]), not {runs!r}")
    explicit = []
    for k, table in enumerate(runs):
        path = f"{runs_path}[{k}]"
        table = _table(table, path)
        for key in table:
            _train_key(key, f"{path}.{key}")
        _resolve(base, table, path, {**base_paths, **{key: f"{path}.{key}" for key in table}})
        explicit.append((table, path))

    base_seed = int(load_config(None, base).seed)
    planned, seen = [], {}

    def add(settings: dict, axis_values: dict, trial: int, where: str):
        config = _resolve(base, settings, where)
        run = PlannedRun(run_id(config), axis_values, trial, config)
        if run.id in seen:
            raise UsageError(f"{where} is the same run as {seen[run.id]} (same settings, id {run.id})")
        seen[run.id] = where
        planned.append(run)

    names = list(axis_settings)
    product_trials = trials if names or not explicit else 0  # [[runs]] alone: only the listed runs
    for trial in range(product_trials):
        for combo in itertools.product(*(axis_settings[name] for name in names)):
            settings, axis_values = {}, {}
            for name, (label, values) in zip(names, combo, strict=True):
                settings.update(values)
                axis_values[name] = label
            if not seed_is_set:
                settings["seed"] = base_seed + trial
            where = "run " + (_describe(axis_values) if axis_values else "of the base") + f", trial {trial}"
            add(settings, axis_values, trial, where)
    for k, (table, path) in enumerate(explicit):
        for trial in range(1 if "seed" in table else trials):
            settings = dict(table)
            if "seed" not in table:
                settings["seed"] = base_seed + trial
            add(settings, {"run": k}, trial, f"{path}, trial {trial}")
    axes_summary = {name: [label for label, _ in axis_settings[name]] for name in names}
    return SweepPlan(source, scale, description, trials, axes_summary, tuple(planned), scale_names)


def _axis(name: str, values, path: str, base: dict) -> list:
    """``[(label, settings)]`` of one axis, every value checked with the base."""
    if not isinstance(values, list):
        raise UsageError(f"{path} must be a list of values, not {values!r}")
    if not values:
        raise UsageError(f"{path} is empty: give it at least one value")
    if name in _SWEEP_OWNED:
        _train_key(name, path)
    out, labels = [], set()
    grouped = name not in TRAIN_KEYS
    for k, value in enumerate(values):
        where = f"{path}[{k}]"
        if grouped:
            if not isinstance(value, dict):
                raise UsageError(
                    f"{where}: {name!r} is not a train key, so {path} is a grouped axis whose values are "
                    f'tables like {{ {LABEL} = "8-bit", weight_bits = 8 }}; got {value!r}'
                )
            label = value.get(LABEL)
            if not isinstance(label, str) or not label:
                raise UsageError(f"{where}.{LABEL} must be a non-empty string, not {label!r}")
            settings = {key: v for key, v in value.items() if key != LABEL}
            if not settings:
                raise UsageError(f"{where} sets no train key")
            for key in settings:
                _train_key(key, f"{where}.{key}")
        else:
            label, settings = value, {name: value}
            _train_key(name, path)
        key_of_label = json.dumps(label, sort_keys=True)
        if key_of_label in labels:
            raise UsageError(f"{where}: the value {label!r} appears twice in {path}")
        labels.add(key_of_label)
        _resolve(base, settings, where)
        out.append((label, settings))
    return out


def _no_shared_keys(axis_settings: dict, axis_paths: dict) -> None:
    owner = {}
    for name, values in axis_settings.items():
        for _, settings in values:
            for key in settings:
                if owner.setdefault(key, name) != name:
                    raise UsageError(
                        f"{axis_paths[owner[key]]} and {axis_paths[name]} both set {key!r}; "
                        "let one axis set it"
                    )


def _resolve(base: dict, settings: dict, where: str, paths: dict | None = None) -> TrainConfig:
    """``base`` updated by ``settings``, validated by :func:`fxsnn.training.load_config`.

    An error is prefixed with ``where``, or with the path in ``paths`` of the key load_config names.

    s1 and target_rate are two ways to choose the first layer's initial weights: a run that sets one drops
    the base's other. load_config lets s1 win silently when both are given (as its flags do); in a file both
    at one level is a mistake, so it is an error here."""
    merged = dict(base)
    if {"s1", "target_rate"} & set(settings):
        merged.pop("s1", None)
        merged.pop("target_rate", None)
    merged.update(settings)
    if "s1" in merged and "target_rate" in merged:
        raise UsageError(f"{where}: give either s1 or target_rate, not both")
    try:
        return load_config(None, merged)
    except UsageError as exc:
        named = _NAMED_KEY.match(str(exc))
        key = named.group(1) if named else None
        raise UsageError(f"{(paths or {}).get(key, where)}: {exc}") from None


def _describe(axis_values: dict) -> str:
    return "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in axis_values.items()) + "}"


def _train_key(key: str, path: str) -> None:
    if key in _SWEEP_OWNED:
        raise UsageError(f"{path}: {key!r} cannot be set in a sweep ({_SWEEP_OWNED[key]})")
    if key not in TRAIN_KEYS:
        raise UsageError(f"{path}: unknown train key {key!r}; known keys: {', '.join(TRAIN_KEYS)}")


def _known(table: dict, keys: tuple, prefix: str) -> None:
    for key in table:
        if key not in keys:
            raise UsageError(f"unknown key {prefix}{key}; a sweep file has {', '.join(keys)} here")


def _table(value, path: str) -> dict:
    if not isinstance(value, dict):
        raise UsageError(f"{path} must be a table, not {value!r}")
    return value


def _string(value, path: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{path} must be a string, not {value!r}")
    return value
