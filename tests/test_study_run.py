"""One sweep run in-process: the worker's files, the analysis (initial network rebuilt exactly), the run
folder written all at once, and `fxsnn vrd` on the run's model."""

from __future__ import annotations

import dataclasses
import json
import tomllib

import numpy as np
import pytest

from fxsnn.cli import main
from fxsnn.emulator import simulate
from fxsnn.model import load_model
from fxsnn.study.activity import layer_activity
from fxsnn.study.plan import parse_sweep
from fxsnn.study.records import SweepFolder
from fxsnn.study.run_analysis import accuracy_summary, analyse_run
from fxsnn.study.worker import RUN_FILES, RunTask, execute_run, training_data
from fxsnn.training import Trainer, load_config, train

SETTINGS = {
    "dataset": "digits",
    "weight_range": [0.25, 2.0],
    "epochs": 2,
    "batch_size": 32,
    "train_samples": 300,
    "test_samples": 120,
    "s1": 0.05,
    "threads": 1,
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    config = load_config(None, SETTINGS)
    data, cached = training_data(config)
    again, cached_again = training_data(config)
    assert again is data and cached_again  # prepared once per process
    out = tmp_path_factory.mktemp("run")
    train(config, out, data=data, progress=False)
    return config, data, out


def test_analysis_rebuilds_the_initial_network_exactly(finished_run):
    config, data, out = finished_run
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    analysis = analyse_run(config, data, out, samples=100)
    # the initial network the analysis rebuilds is the one training started from: same test accuracy
    trainer = Trainer(config, data, None, progress=False)
    trainer.initialise()
    initial = trainer.network()
    result = simulate(initial, data.test_events)
    assert (result.predictions == data.test_labels).mean() == history[0]["test_accuracy"]
    final = load_model(out / "last.fxsnn").network
    result = simulate(final, data.test_events)
    assert (result.predictions == data.test_labels).mean() == history[-1]["test_accuracy"]
    events = data.train_events.select(np.arange(100))
    assert analysis["before"] == layer_activity(initial, events)
    assert analysis["after"] == layer_activity(final, events)
    assert analysis["accuracy"] == accuracy_summary(history)
    assert analysis["success"] == (analysis["accuracy"]["peak"] > 0.5)
    assert analysis["before"]["samples"] == 100 and analysis["before"]["vrd"]["E-E"]["pairs"] == 80 * 79 // 2


def test_accuracy_summary():
    history = [{"epoch": e, "test_accuracy": a} for e, a in enumerate([0.1, 0.5, 0.7, 0.6])]
    assert accuracy_summary(history) == {
        "peak": 0.7,
        "peak_epoch": 2,
        "final": 0.6,
        "last10_mean": pytest.approx(0.6),
        "last10_epochs": 3,
    }
    long = [{"epoch": e, "test_accuracy": e / 100} for e in range(15)]
    summary = accuracy_summary(long)
    assert summary["last10_epochs"] == 10 and summary["last10_mean"] == pytest.approx(0.095)


def test_execute_run_returns_complete_files_and_commit_is_all_at_once(tmp_path):
    plan = parse_sweep({"base": {k: v for k, v in SETTINGS.items() if k != "threads"}})
    run = plan.runs[0]
    outcome = execute_run(
        RunTask(run.id, dataclasses.replace(run.config, threads=1), run.axes, 0, samples=40)
    )
    assert outcome.error is None and tuple(outcome.files) == RUN_FILES
    record = json.loads(outcome.files["run.json"])
    assert record["id"] == run.id and record["seconds"] > 0 and record["summary"]["epochs"] == 2
    config = tomllib.loads(outcome.files["config.toml"].decode())
    assert load_config(None, config).run_identity() == run.config.run_identity()  # the file repeats the run
    folder = SweepFolder(tmp_path / "sweep")
    folder.create()
    assert folder.commit_run(run.id, outcome.files)
    assert not folder.commit_run(run.id, outcome.files)  # never over an existing folder
    assert sorted(p.name for p in (folder.runs / run.id).iterdir()) == sorted(RUN_FILES)
    assert folder.finished_ids() == {run.id} and not list(folder.runs.glob(".incoming-*"))
    # a failing run comes back as an outcome with its error, not as an exception
    bad = dataclasses.replace(run.config, dataset="shd", data_dir=str(tmp_path))
    failed = execute_run(RunTask(run.id, bad, run.axes, 0))
    assert failed.error.startswith("FxsnnError: SHD (shd) not found") and not failed.files
    assert "Traceback" in failed.record["traceback"]


def test_vrd_command(finished_run, capsys):
    config, data, out = finished_run
    model = out / "model.fxsnn"
    assert main(["vrd", str(model), "--samples", "60", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    want = layer_activity(load_model(model).network, data.train_events.select(np.arange(60)))
    assert result["vrd"] == want["vrd"] and result["rates_hz"] == want["rates_hz"]
    assert result["dataset"] == "digits" and result["split"] == "train" and result["metric"] == "discrete"
    assert main(["vrd", str(model), "--samples", "20", "--metric", "continuous"]) == 0
    assert "Van Rossum (continuous, tau 1 steps)" in capsys.readouterr().out
    assert main(["vrd", str(model), "--samples", "0"]) == 2
    assert main(["vrd", str(model), "--layer", "3"]) == 2
    assert "does not exist: the network has 1 hidden layer" in capsys.readouterr().err
