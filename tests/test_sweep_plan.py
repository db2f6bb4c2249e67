"""Sweep files: expansion into runs, run ids, and every kind of bad file refused with its key path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fxsnn._arith import ARITHMETIC_VERSION
from fxsnn.errors import UsageError
from fxsnn.study.identity import run_id, run_identity
from fxsnn.study.plan import load_sweep, parse_sweep
from fxsnn.training import load_config

PRESETS = sorted((Path(__file__).parent.parent / "configs" / "paper").glob("*.toml"))

BASE = {"dataset": "digits", "epochs": 2}


def test_cartesian_product_trials_and_scales():
    sweep = {
        "trials": 3,
        "base": BASE,
        "axes": {"ratio": [0.5, 0.8], "s1": [0.001, 0.01]},
        "scale": {"small": {"trials": 1, "base": {"epochs": 1}, "axes": {"s1": [0.002]}}},
    }
    plan = parse_sweep(sweep)
    assert len(plan.runs) == 3 * 2 * 2 and plan.axes == {"ratio": [0.5, 0.8], "s1": [0.001, 0.01]}
    assert [run.trial for run in plan.runs] == [0] * 4 + [1] * 4 + [2] * 4  # trial by trial
    assert [run.config.seed for run in plan.runs[::4]] == [0, 1, 2]
    assert plan.runs[1].axes == {"ratio": 0.5, "s1": 0.01} and plan.runs[1].config.s1 == 0.01
    assert len({run.id for run in plan.runs}) == len(plan.runs)
    small = parse_sweep(sweep, "small")
    assert [(run.config.ratio, run.config.s1, run.config.epochs) for run in small.runs] == [
        (0.5, 0.002, 1),
        (0.8, 0.002, 1),
    ]


def test_seed_offset_explicit_runs_and_grouped_axis():
    sweep = {
        "trials": 2,
        "base": {**BASE, "seed": 10, "target_rate": 5.0},
        "axes": {"precision": [{"label": "8-bit", "weight_bits": 8}, {"label": "float", "float": True}]},
        "runs": [{"ratio": 0.9, "seed": 3}, {"ratio": 0.7, "s1": 0.004}],
    }
    plan = parse_sweep(sweep)
    product = plan.runs[:4]
    assert [(r.axes["precision"], r.config.seed) for r in product] == [
        ("8-bit", 10),
        ("float", 10),
        ("8-bit", 11),
        ("float", 11),
    ]
    assert product[1].config.float_mode is True
    explicit = plan.runs[4:]
    assert [(r.axes, r.config.seed) for r in explicit] == [
        ({"run": 0}, 3),
        ({"run": 1}, 10),
        ({"run": 1}, 11),
    ]
    # a run choosing s1 drops the base's target_rate
    assert explicit[1].config.s1 == 0.004 and explicit[1].config.target_rate is None
    # [[runs]] without axes: only the listed runs
    assert len(parse_sweep({"base": BASE, "runs": [{"ratio": 0.5}]}).runs) == 1
    assert len(parse_sweep({"base": BASE}).runs) == 1  # neither: the base once per trial


def test_run_id_is_the_resolved_settings():
    a = load_config(None, {"dataset": "digits", "ratio": 0.8})
    same = load_config(None, {"dataset": "digits", "ratio": 0.8, "data_dir": "/elsewhere", "threads": 1})
    other = load_config(None, {"dataset": "digits", "ratio": 0.8, "epochs": 31})
    assert run_id(a) == run_id(same) != run_id(other)
    assert len(run_id(a)) == 16 and int(run_id(a), 16) >= 0
    identity = run_identity(a)
    assert identity["arithmetic_version"] == ARITHMETIC_VERSION and identity["config"]["epochs"] == 30
    # 1 and 1.0 are the same setting once validated
    assert run_id(load_config(None, {"ratio": 1})) == run_id(load_config(None, {"ratio": 1.0}))


@pytest.mark.parametrize(
    "sweep,message",
    [
        ({"bogus": 1}, "unknown key bogus"),
        ({"base": {"foo": 1}}, r"base\.foo: unknown train key 'foo'"),
        ({"base": {"out": "x"}}, r"base\.out: 'out' cannot be set"),
        ({"base": {"ratio": "high"}}, r"base\.ratio: config key 'ratio' must be a number"),
        ({"base": {"epochs": 0}}, r"base\.epochs: config key 'epochs' must be in"),
        ({"base": {"hidden": [100, 50], "weight_bits": [8, 8]}}, r"base\.weight_bits: .* 3 layers"),
        ({"base": {"s1": 0.1, "target_rate": 3.0}}, "base: give either s1 or target_rate"),
        ({"base": 3}, "base must be a table"),
        ({"trials": 0}, r"trials must be an integer in \[1"),
        ({"trials": 2.5}, "trials must be an integer"),
        ({"axes": {"ratio": []}}, r"axes\.ratio is empty"),
        ({"axes": {"ratio": 0.5}}, r"axes\.ratio must be a list"),
        ({"axes": {"ratio": [0.5, 1.5]}}, r"axes\.ratio\[1\]: config key 'ratio' must be in \[0\.0, 1\.0\]"),
        ({"axes": {"ratio": [0.5, 0.5]}}, r"axes\.ratio\[1\]: the value 0\.5 appears twice"),
        ({"axes": {"threads": [1, 2]}}, r"axes\.threads: 'threads' cannot be set"),
        ({"axes": {"precision": [8, 4]}}, r"axes\.precision\[0\]: 'precision' is not a train key"),
        ({"axes": {"p": [{"weight_bits": 8}]}}, r"axes\.p\[0\]\.label must be a non-empty string"),
        ({"axes": {"p": [{"label": "a", "bits": 8}]}}, r"axes\.p\[0\]\.bits: unknown train key"),
        ({"axes": {"p": [{"label": "a", "ratio": 0.5}], "ratio": [0.8]}}, "axes.p and axes.ratio both set"),
        ({"axes": {"seed": [1, 2]}, "trials": 3}, r"trials = 3 and axes\.seed both choose seeds"),
        ({"runs": {"ratio": 0.5}}, "runs must be an array of tables"),
        ({"runs": [{"ratio": 2}]}, r"runs\[0\]\.ratio: config key 'ratio' must be in"),
        ({"runs": [{"ratio": 0.8}, {"ratio": 0.8}]}, r"runs\[1\], trial 0 is the same run as runs\[0\]"),
        ({"scale": 3}, "scale must be a table"),
        ({"scale": {"s": {"foo": 1}}}, r"unknown key scale\.s\.foo"),
        ({"scale": {"s": {"base": {"epochs": -1}}}}, r"scale\.s\.base\.epochs: config key 'epochs'"),
        ({"scale": {"s": {"axes": {"ratio": []}}}}, r"scale\.s\.axes\.ratio is empty"),
        ({"scale": {"s": {"trials": "two"}}}, r"scale\.s\.trials must be an integer"),
    ],
)
def test_bad_sweep_files(sweep, message):
    with pytest.raises(UsageError, match=message):
        parse_sweep({"base": BASE, **sweep} if "base" not in sweep else sweep)


def test_unknown_scale_and_file_errors(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[base]\ndataset = "digits"\n[scale.small]\ntrials = 1\n')
    with pytest.raises(UsageError, match=r"there is no scale 'big' \(scales in the file: 'small'\)"):
        load_sweep(path, "big")
    with pytest.raises(UsageError, match="does not exist"):
        load_sweep(tmp_path / "missing.toml")
    path.write_text("[base\n")
    with pytest.raises(UsageError, match="is not valid TOML"):
        load_sweep(path)


def test_cli_refuses_a_bad_file_before_anything_runs(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[base]\ndataset = "digits"\n[axes]\nratio = [0.5, 1.5]\n')
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "fxsnn"), "sweep", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "axes.ratio[1]" in lines[0] and lines[0].startswith("fxsnn: error:")
    assert not out.exists()  # nothing written, no cluster started


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_presets_are_valid_in_every_scale(preset):
    plan = load_sweep(preset)
    assert {"small", "smoke"} <= set(plan.scales)
    smoke = load_sweep(preset, "smoke")
    assert all(run.config.dataset == "digits" for run in smoke.runs)
