"""Build a sweep folder's report: every figure that applies, its PNG and CSV, and ``index.html``.

The numbers come from the run folders through :func:`fxsnn.study.results.result_rows` (the same rows as
``results.csv``); only finished runs of the folder's current plan are drawn.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from fxsnn._files import atomic_write
from fxsnn._version import __version__
from fxsnn.errors import UsageError
from fxsnn.study.records import SweepFolder
from fxsnn.study.results import result_rows

from .accuracy import accuracy_vs_noise, peak_vs_rate, precision_comparison, success_by_ratio
from .comparison import comparison_rows, paper_comparison
from .figure import Figure
from .html import render_index
from .vrd import vrd_boxes

__all__ = ["build_report", "FIGURES"]

#: (file stem, figure function), in the report's order.
FIGURES = (
    ("fig1_peak_vs_initial_rate", peak_vs_rate),
    ("fig2_success_by_ratio", success_by_ratio),
    ("fig3_accuracy_vs_noise", accuracy_vs_noise),
    ("fig4_vrd", vrd_boxes),
    ("fig5_paper_comparison", paper_comparison),
    ("fig6_precision", precision_comparison),
)


def build_report(sweep_dir, out_dir=None) -> dict:
    """Write the report of ``sweep_dir`` to ``out_dir`` (default ``sweep_dir/report``); returns a summary.

    Raises
    ------
    UsageError
        When ``sweep_dir`` is not a sweep folder or has no finished run.
    """
    folder = SweepFolder(sweep_dir)
    plan = folder.read_plan()
    if plan is None:
        raise UsageError(f"{str(sweep_dir)!r} is not a sweep folder (no sweep.json); run fxsnn sweep first")
    _, rows = result_rows(folder)
    done = [row for row in rows if row["status"] == "done" and row["in_plan"]]
    failed = [row for row in rows if row["status"] == "failed" and row["in_plan"]]
    if not done:
        raise UsageError(f"{str(sweep_dir)!r} has no finished run of its plan yet")
    out = Path(out_dir) if out_dir is not None else folder.path / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report folder {str(out)!r}: {exc.strerror}") from None
    figures, skipped, pngs = [], {}, {}
    for name, draw in FIGURES:
        result = draw(done)
        if isinstance(result, Figure):
            figures.append(result)
            pngs[result.name] = result.png_bytes()
            with atomic_write(out / f"{result.name}.png", "wb") as handle:
                handle.write(pngs[result.name])
            with atomic_write(out / f"{result.name}.csv", "w") as handle:
                handle.write(result.csv_text())
        else:
            skipped[name] = result
    title = f"fxsnn sweep report: {plan['source']}" + (f" (scale {plan['scale']})" if plan["scale"] else "")
    facts = {
        "sweep file": plan["source"],
        "scale": plan["scale"] or "(as written)",
        "description": plan.get("description", ""),
        "runs planned": len(plan["runs"]),
        "runs finished": len(done),
        "runs failed": len(failed),
        "built": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "fxsnn": __version__,
    }
    page = render_index(title, facts, figures, pngs, skipped, comparison_rows(done))
    with atomic_write(out / "index.html", "w") as handle:
        handle.write(page)
    return {
        "out": str(out),
        "index": str(out / "index.html"),
        "figures": [figure.name for figure in figures],
        "skipped": skipped,
        "runs": len(done),
        "failed": len(failed),
    }
