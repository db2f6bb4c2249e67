"""5. Every number the paper publishes for Fashion-MNIST beside fxsnn's value from the same kind of runs."""

from __future__ import annotations

import math
import statistics

from . import paper
from .figure import FXSNN_COLOR, PAPER_COLOR, Figure, legend_below, ratio_label, stacked_figure

__all__ = ["paper_comparison", "comparison_rows"]


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9)


def comparison_rows(rows) -> list:
    """``[{"quantity", "unit", "paper", "fxsnn", "runs", "how"}]``; ``fxsnn`` None without runs."""
    out = []
    plain = [row for row in rows if not row["noise"]]

    def add(quantity, unit, published, values, how, reduce):
        out.append(
            {
                "quantity": quantity,
                "unit": unit,
                "paper": published,
                "fxsnn": reduce(values) if values else None,
                "runs": len(values),
                "how": how,
            }
        )

    for ratio, share in paper.SUCCESS_SHARE.items():
        mine = [row["success"] for row in plain if _same(row["ratio"], ratio)]
        add(
            f"success share {ratio_label(ratio)}",
            "fraction",
            share,
            mine,
            "runs with peak > 0.5 / runs, no noise",
            lambda v: sum(v) / len(v),
        )
    for ratio, accuracy in paper.SUCCESS_MEAN_ACCURACY.items():
        mine = [row["peak_accuracy"] for row in plain if _same(row["ratio"], ratio) and row["success"]]
        add(
            f"mean peak of successes {ratio_label(ratio)}",
            "fraction",
            accuracy,
            mine,
            "mean peak accuracy of the runs with peak > 0.5",
            statistics.fmean,
        )
    low = [
        row["peak_accuracy"]
        for row in plain
        if any(_same(row["ratio"], r) for r in (0.8, 0.95)) and row["initial_rate_hz"] < paper.LOW_RATE_HZ
    ]
    add(
        "peak at low initial rate 80:20 and 95:5",
        "fraction",
        sum(paper.PEAK_ACCURACY) / 2,
        low,
        f"median peak accuracy, initial rate < {paper.LOW_RATE_HZ} Hz (paper: 81-82 %)",
        statistics.median,
    )
    lo, hi = paper.NOISE_RATIOS
    for noise, accuracy in paper.NOISE_ACCURACY.items():
        mine = [
            row["last10_accuracy"]
            for row in rows
            if row["noise"] and _same(row["noise"], noise) and lo <= row["ratio"] <= hi
        ]
        add(
            f"accuracy at noise {noise:g}",
            "fraction",
            accuracy,
            mine,
            f"mean of last-10-epoch accuracy, ratios {ratio_label(lo)} to {ratio_label(hi)}",
            statistics.fmean,
        )
    noise, accuracy = paper.NOISE_50_50
    mine = [
        row["last10_accuracy"]
        for row in rows
        if row["noise"] and _same(row["noise"], noise) and _same(row["ratio"], 0.5)
    ]
    add(
        f"accuracy at noise {noise:g}, 50:50",
        "fraction",
        accuracy,
        mine,
        "mean of last-10-epoch accuracy",
        statistics.fmean,
    )
    good = [
        row
        for row in rows
        if _same(row["ratio"], paper.VRD_RATIO) and row["success"] and row["vrd_after_ee"] is not None
    ]
    for short, group in (("ee", "E-E"), ("ei", "E-I"), ("ii", "I-I")):
        add(
            f"VRD median {group}, successful {ratio_label(paper.VRD_RATIO)}",
            "distance",
            paper.VRD_MEDIANS[group],
            [row[f"vrd_after_{short}"] for row in good if row[f"vrd_after_{short}"] is not None],
            "median over networks of the network's mean distance after training",
            statistics.median,
        )
    return out


def paper_comparison(rows) -> Figure:
    """Dot plot: the paper's value (hollow red diamond) and fxsnn's (blue dot) of each published number."""
    table = comparison_rows(rows)
    fractions = [row for row in table if row["unit"] == "fraction"]
    distances = [row for row in table if row["unit"] == "distance"]
    fig, (ax_f, ax_d) = stacked_figure([len(fractions), len(distances) + 1])
    for ax, part, scale in ((ax_f, fractions, 100.0), (ax_d, distances, 1.0)):
        ys = list(range(len(part)))[::-1]
        ax.plot(
            [row["paper"] * scale for row in part],
            ys,
            linestyle="none",
            marker="D",
            markerfacecolor="none",
            color=PAPER_COLOR,
            ms=7,
            label="paper (float networks)",
        )
        have = [
            (row["fxsnn"] * scale, y) for row, y in zip(part, ys, strict=True) if row["fxsnn"] is not None
        ]
        if have:
            ax.plot(
                *zip(*have, strict=True),
                linestyle="none",
                marker="o",
                color=FXSNN_COLOR,
                ms=6,
                label="fxsnn (this sweep)",
            )
        ax.set_yticks(
            ys, [row["quantity"] + ("" if row["fxsnn"] is not None else "  (no runs)") for row in part]
        )
        ax.set_ylim(-0.7, len(part) - 0.3)
        ax.margins(x=0.08)
    ax_f.set_xlabel("accuracy or share of runs (%)")
    ax_f.set_xlim(-3, 103)
    ax_d.set_xlabel("Van Rossum distance (discrete formula, tau = 1 step)")
    fig.subplots_adjust(hspace=0.45)
    legend_below(fig, [ax_f], ncol=2)
    return Figure(
        "fig5_paper_comparison",
        "The paper's published numbers beside fxsnn's",
        "Each row is a number the paper publishes for Fashion-MNIST; the blue dot is the same quantity over "
        "this sweep's runs (how: in the CSV), missing where the sweep has no such runs.",
        fig,
        ["quantity", "unit", "paper", "fxsnn", "runs", "how"],
        table,
    )
