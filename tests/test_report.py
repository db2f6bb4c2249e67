"""fxsnn report on a fixture sweep folder: every figure drawn, every CSV number equal to the run records."""

from __future__ import annotations

import csv
import json
import math

import pytest

from fxsnn.cli import main
from fxsnn.report import paper
from fxsnn.report.build import FIGURES, build_report
from fxsnn.study.plan import parse_sweep
from fxsnn.study.records import SweepFolder
from fxsnn.study.results import write_results

RATIOS = (0.5, 0.8, 1.0)
S1 = (0.001, 0.01, 0.05)
NOISES = (1e-4, 3e-4)


def _groups(base: float) -> dict:
    return {
        group: {"mean": base + k * 0.1, "std": 0.01, "median": base + k * 0.1, "pairs": 10}
        for k, group in enumerate(("E-E", "E-I", "I-I"))
    }


def _analysis(k: int, ratio: float) -> dict:
    """Distinct, exactly representable-enough numbers per run, so a mix-up between runs shows."""
    peak = 0.3 + 0.6 * ((k * 37) % 11) / 10
    activity = {
        "samples": 100,
        "layer": 0,
        "metric": "discrete",
        "tau_steps": 1.0,
        "rates_hz": {"all": 3.0 + 4.1 * k, "E": 2.5 + 4.0 * k, "I": None if ratio == 1.0 else 5.0 + k},
        "vrd": _groups(0.5 + 0.013 * k),
    }
    after = dict(
        activity,
        rates_hz={"all": 9.0 + k, "E": 8.0 + k, "I": None if ratio == 1.0 else 11.0 + k},
        vrd=_groups(0.8 + 0.017 * k),
    )
    if ratio == 1.0:
        for part in (activity, after):
            part["vrd"]["E-I"] = part["vrd"]["I-I"] = {"mean": None, "std": None, "median": None, "pairs": 0}
    return {
        "type": "fxsnn.run_analysis",
        "version": 1,
        "accuracy": {
            "peak": peak,
            "peak_epoch": 2,
            "final": peak - 0.01,
            "last10_mean": peak - 0.02,
            "last10_epochs": 3,
        },
        "success": peak > 0.5,
        "success_threshold": 0.5,
        "activity_split": "train",
        "before": activity,
        "after": after,
    }


@pytest.fixture
def fixture_sweep(tmp_path):
    """A sweep folder whose run folders hold hand-made records (no training): ratio x s1 x 2 trials without
    noise, ratio x noise, and a float and a 4-bit run."""
    sweep = {
        "trials": 2,
        "base": {"dataset": "digits", "epochs": 3},
        "axes": {"ratio": list(RATIOS), "s1": list(S1)},
        "runs": [{"ratio": r, "noise": n, "seed": 0} for r in RATIOS for n in NOISES]
        + [
            {"ratio": 0.8, "s1": 0.001, "float": True, "seed": 0},
            {"ratio": 0.8, "s1": 0.001, "weight_bits": 4, "seed": 0},
        ],
    }
    plan = parse_sweep(sweep, source="fixture.toml")
    folder = SweepFolder(tmp_path / "sweep")
    folder.create()
    folder.write_plan(plan.to_dict())
    records = {}
    for k, run in enumerate(plan.runs):
        if k == len(plan.runs) - 1:
            record = {
                "id": run.id,
                "axes": run.axes,
                "trial": run.trial,
                "identity": {"config": run.to_dict()["config"]},
                "worker": "w0",
                "seconds": 1.5,
                "error": "RuntimeError: made to fail",
            }
            folder.record_failure(run.id, record)
            continue
        analysis = _analysis(k, run.config.ratio)
        record = {
            "id": run.id,
            "axes": run.axes,
            "trial": run.trial,
            "identity": {"config": run.to_dict()["config"]},
            "summary": {"initial": {"s1": run.config.initial_s1}},
            "worker": f"w{k % 2}",
            "seconds": 10.0 + k,
        }
        files = {"run.json": json.dumps(record).encode(), "analysis.json": json.dumps(analysis).encode()}
        assert folder.commit_run(run.id, files)
        records[run.id] = (record, analysis)
    write_results(folder)
    return folder, plan, records


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _num(text):
    return None if text == "" else float(text)


def test_results_csv_equals_records(fixture_sweep):
    folder, plan, records = fixture_sweep
    rows = _read_csv(folder.results_path)
    assert len(rows) == len(plan.runs)
    assert [row["id"] for row in rows] == [run.id for run in plan.runs]  # plan order
    failed = [row for row in rows if row["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"] == "RuntimeError: made to fail"
    for row in rows:
        if row["status"] != "done":
            continue
        record, analysis = records[row["id"]]
        assert _num(row["peak_accuracy"]) == analysis["accuracy"]["peak"]
        assert _num(row["last10_accuracy"]) == analysis["accuracy"]["last10_mean"]
        assert _num(row["initial_rate_hz"]) == analysis["before"]["rates_hz"]["all"]
        assert _num(row["final_rate_i_hz"]) == analysis["after"]["rates_hz"]["I"]
        assert _num(row["vrd_after_ei"]) == analysis["after"]["vrd"]["E-I"]["mean"]
        assert _num(row["seconds"]) == record["seconds"] and row["worker"] == record["worker"]
        assert row["success"] == str(analysis["success"])


def test_report_csv_numbers_equal_the_run_records(fixture_sweep, tmp_path):
    folder, plan, records = fixture_sweep
    out = tmp_path / "report"
    summary = build_report(folder.path, out)
    assert summary["figures"] == [name for name, _ in FIGURES] and not summary["skipped"]
    assert summary["runs"] == len(records) and summary["failed"] == 1
    for name in summary["figures"]:
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(FIGURES)
    assert "http://" not in page and "https://" not in page  # self-contained

    # 1: one point per run without noise, the record's numbers
    fig1 = _read_csv(out / "fig1_peak_vs_initial_rate.csv")
    plain = {run_id: r for run_id, r in records.items() if not r[0]["identity"]["config"]["noise"]}
    assert {row["id"] for row in fig1} == set(plain)
    for row in fig1:
        analysis = records[row["id"]][1]
        assert _num(row["peak_accuracy"]) == analysis["accuracy"]["peak"]
        assert _num(row["initial_rate_hz"]) == analysis["before"]["rates_hz"]["all"]

    # 2: success share and mean peak of the successes, per ratio, against a count done here
    for row in _read_csv(out / "fig2_success_by_ratio.csv"):
        ratio = float(row["ratio"])
        peaks = [
            a["accuracy"]["peak"] for rec, a in plain.values() if rec["identity"]["config"]["ratio"] == ratio
        ]
        good = [p for p in peaks if p > 0.5]
        assert int(row["runs"]) == len(peaks) and int(row["successes"]) == len(good)
        assert _num(row["success_share"]) == len(good) / len(peaks)
        if good:
            assert _num(row["mean_peak_of_successes"]) == pytest.approx(sum(good) / len(good), rel=1e-15)
        assert _num(row["paper_success_share"]) == paper.SUCCESS_SHARE.get(ratio)

    # 3: mean over trials per (ratio, noise), and the paper's curve
    fig3 = _read_csv(out / "fig3_accuracy_vs_noise.csv")
    for row in fig3:
        if row["ratio"].startswith("paper"):
            continue
        values = [
            a["accuracy"]["last10_mean"]
            for rec, a in records.values()
            if rec["identity"]["config"]["ratio"] == float(row["ratio"])
            and rec["identity"]["config"]["noise"] == float(row["noise"])
        ]
        assert int(row["runs"]) == len(values)
        assert _num(row["mean_last10_accuracy"]) == pytest.approx(sum(values) / len(values), rel=1e-15)
    paper_rows = [row for row in fig3 if row["ratio"] == "paper 80:20-100:0"]
    assert {float(r["noise"]): float(r["mean_last10_accuracy"]) for r in paper_rows} == paper.NOISE_ACCURACY

    # 4: the 80:20 networks' group means, before and after
    fig4 = [row for row in _read_csv(out / "fig4_vrd.csv") if row["id"] != "paper"]
    assert {row["id"] for row in fig4} == {
        i for i, (rec, _) in records.items() if rec["identity"]["config"]["ratio"] == 0.8
    }
    for row in fig4:
        analysis = records[row["id"]][1]
        assert _num(row["vrd"]) == analysis[row["when"]]["vrd"][row["group"]]["mean"]
        assert row["success"] == str(analysis["success"])

    # 5: each published number beside the value over the matching runs
    fig5 = {row["quantity"]: row for row in _read_csv(out / "fig5_paper_comparison.csv")}
    share = fig5["success share 80:20"]
    peaks = [a["accuracy"]["peak"] for rec, a in plain.values() if rec["identity"]["config"]["ratio"] == 0.8]
    assert _num(share["paper"]) == 0.28 and _num(share["fxsnn"]) == sum(p > 0.5 for p in peaks) / len(peaks)
    assert fig5["accuracy at noise 1e-05"]["fxsnn"] == ""  # the fixture has no run at that noise

    # 6: precision labels from the runs' settings
    fig6 = _read_csv(out / "fig6_precision.csv")
    assert {row["precision"] for row in fig6} == {"8-bit", "float"}  # the 4-bit run is the failed one


def test_report_cli_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    folder = SweepFolder(tmp_path / "empty")
    folder.create()
    folder.write_plan(parse_sweep({"base": {"dataset": "digits"}}).to_dict())
    assert main(["report", str(folder.path)]) == 2
    assert "no finished run" in capsys.readouterr().err


def test_comparison_rows_skip_missing_data(fixture_sweep):
    from fxsnn.report.comparison import comparison_rows
    from fxsnn.study.results import result_rows

    folder, _, _ = fixture_sweep
    _, rows = result_rows(folder)
    done = [row for row in rows if row["status"] == "done"]
    table = {row["quantity"]: row for row in comparison_rows(done)}
    assert table["VRD median E-E, successful 80:20"]["paper"] == paper.VRD_MEDIANS["E-E"]
    assert all(row["fxsnn"] is None or math.isfinite(row["fxsnn"]) for row in table.values())
