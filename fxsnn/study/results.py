"""``results.csv``: one row per run of a sweep folder, rebuilt from the run folders and failure records.

The run folders are the truth; the table is derived from them every time (it is never updated in place), so
it cannot disagree with them. Numbers are written at full precision (Python's shortest round-trip form).

Columns: ``id``, ``status`` (done | failed), ``in_plan`` (the run is in the last invocation's plan),
``trial``, the settings a study varies (``dataset``, ``ratio``, ``s1`` (the one used: calibrated when the run
asked for a target rate), ``target_rate``, ``noise``, ``precision`` ("8-bit", "float", ...), ``epochs``,
``train_samples``), then every other axis of the plan by name, then the results: ``peak_accuracy``,
``peak_epoch``, ``final_accuracy``, ``last10_accuracy``, ``success``, the first hidden layer's firing rates
before (``initial_rate_hz``, ``_e_hz``, ``_i_hz``) and after training (``final_rate_*``), the VRD group
means before and after (``vrd_before_ee`` ... ``vrd_after_ii``; ``vrd_metric``, ``vrd_samples``),
``seconds`` (on the worker), ``worker`` and ``error``.
"""

from __future__ import annotations

import csv
import io
import json

from fxsnn._files import atomic_write

from .records import SweepFolder

__all__ = ["result_rows", "write_results", "COLUMNS", "precision_label"]

_SETTINGS = ("dataset", "ratio", "s1", "target_rate", "noise", "precision", "epochs", "train_samples")
_GROUPS = (("ee", "E-E"), ("ei", "E-I"), ("ii", "I-I"))
_RESULTS = (
    "peak_accuracy", "peak_epoch", "final_accuracy", "last10_accuracy", "success",
    "initial_rate_hz", "initial_rate_e_hz", "initial_rate_i_hz", "final_rate_hz", "final_rate_e_hz",
    "final_rate_i_hz", "vrd_metric", "vrd_samples",
    *(f"vrd_{when}_{short}" for when in ("before", "after") for short, _ in _GROUPS),
    "seconds", "worker", "error",
)  # fmt: skip
#: The fixed columns; the plan's other axes go between the settings and the results.
COLUMNS = ("id", "status", "in_plan", "trial", *_SETTINGS, *_RESULTS)


def precision_label(config: dict) -> str:
    """``"float"`` for a float-mode run, else the weight bits: ``"8-bit"`` (``"8/4-bit"`` per layer)."""
    if config.get("float_mode"):
        return "float"
    bits = config.get("weight_bits")
    bits = bits if isinstance(bits, list) else [bits]
    distinct = list(dict.fromkeys(bits))
    return "/".join(map(str, distinct)) + "-bit"


def _settings(record: dict) -> dict:
    config = record["identity"]["config"]
    used_s1 = (record.get("summary") or {}).get("initial", {}).get("s1")
    return {
        "dataset": config["dataset"],
        "ratio": config["ratio"],
        "s1": used_s1 if used_s1 is not None else config["s1"],
        "target_rate": config["target_rate"],
        "noise": config["noise"],
        "precision": precision_label(config),
        "epochs": config["epochs"],
        "train_samples": config["train_samples"],
    }


def _results(analysis: dict, record: dict) -> dict:
    before, after = analysis["before"], analysis["after"]
    row = {
        "peak_accuracy": analysis["accuracy"]["peak"],
        "peak_epoch": analysis["accuracy"]["peak_epoch"],
        "final_accuracy": analysis["accuracy"]["final"],
        "last10_accuracy": analysis["accuracy"]["last10_mean"],
        "success": analysis["success"],
        "initial_rate_hz": before["rates_hz"]["all"],
        "initial_rate_e_hz": before["rates_hz"]["E"],
        "initial_rate_i_hz": before["rates_hz"]["I"],
        "final_rate_hz": after["rates_hz"]["all"],
        "final_rate_e_hz": after["rates_hz"]["E"],
        "final_rate_i_hz": after["rates_hz"]["I"],
        "vrd_metric": before["metric"],
        "vrd_samples": before["samples"],
        "seconds": record["seconds"],
        "worker": record["worker"],
    }
    for when, part in (("before", before), ("after", after)):
        for short, group in _GROUPS:
            row[f"vrd_{when}_{short}"] = part["vrd"][group]["mean"]
    return row


def result_rows(folder: SweepFolder) -> tuple[list, list]:
    """``(columns, rows)`` of the folder's runs: planned runs in plan order first, then the others by id."""
    plan = folder.read_plan() or {"runs": []}
    order = {run["id"]: k for k, run in enumerate(plan["runs"])}
    rows, axis_names = [], list(plan.get("axes", {}))
    entries = [(run_id, record, analysis) for run_id, record, analysis in folder.run_records()]
    entries += [(run_id, record, None) for run_id, record in folder.failure_records()]
    for run_id, record, analysis in entries:
        row = {
            "id": run_id,
            "status": "done" if analysis is not None else "failed",
            "in_plan": run_id in order,
            "trial": record["trial"],
            **_settings(record),
        }
        for name, value in record["axes"].items():
            if name not in axis_names:
                axis_names.append(name)
            if name not in row:
                row[name] = value if isinstance(value, (str, int, float)) else json.dumps(value)
        if analysis is not None:
            row.update(_results(analysis, record))
        else:
            row.update(
                {
                    "seconds": record.get("seconds"),
                    "worker": record.get("worker"),
                    "error": record.get("error"),
                }
            )
        rows.append(row)
    rows.sort(key=lambda row: (order.get(row["id"], len(order)), row["id"]))
    extra = [name for name in axis_names if name not in COLUMNS]
    columns = [*COLUMNS[: 4 + len(_SETTINGS)], *extra, *_RESULTS]
    return columns, rows


def write_results(folder: SweepFolder) -> int:
    """Rebuild ``DIR/results.csv`` (atomically); returns the number of rows."""
    columns, rows = result_rows(folder)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="", extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    with atomic_write(folder.results_path, "w") as handle:
        handle.write(text.getvalue())
    return len(rows)
