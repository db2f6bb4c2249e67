"""Accuracy figures: against the initial firing rate, success per ratio, under weight noise, per precision.

Each function takes the finished runs (rows of :func:`fxsnn.study.results.result_rows`) and returns a
:class:`~fxsnn.report.figure.Figure`, or a string saying why the sweep has nothing to draw.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from matplotlib import colormaps

from . import paper
from .figure import (
    FXSNN_COLOR,
    PAPER_COLOR,
    PAPER_STYLE,
    Figure,
    legend_below,
    new_figure,
    percent,
    ratio_label,
)

__all__ = ["peak_vs_rate", "success_by_ratio", "accuracy_vs_noise", "precision_comparison"]

_PRECISION_COLORS = {"8-bit": FXSNN_COLOR, "4-bit": "#2ca02c", "float": "#9467bd"}


def _ratios(rows) -> list:
    return sorted({row["ratio"] for row in rows})


def _precision_color(label: str) -> str:
    return _PRECISION_COLORS.get(label, "#7f7f7f")


def peak_vs_rate(rows) -> Figure | str:
    """1. Peak test accuracy against the initial hidden firing rate, one panel per E:I ratio."""
    rows = [row for row in rows if not row["noise"]]
    if not rows:
        return "no run without weight noise"
    ratios = _ratios(rows)
    fig, axes = new_figure(len(ratios), width=3.4, height=3.3)
    table = []
    x_max = max(max(row["initial_rate_hz"] for row in rows) * 1.05, paper.LOW_RATE_HZ * 1.5)
    for ax, ratio in zip(axes, ratios, strict=True):
        mine = [row for row in rows if row["ratio"] == ratio]
        ax.axvspan(
            0,
            paper.LOW_RATE_HZ,
            color="#ffdd88",
            alpha=0.35,
            lw=0,
            label=f"paper's low-rate band (< {paper.LOW_RATE_HZ} Hz)",
        )
        ax.axhspan(
            *(percent(v) for v in paper.PEAK_ACCURACY),
            color=PAPER_COLOR,
            alpha=0.25,
            lw=0,
            label="paper: peak 81-82 % at low rates",
        )
        for label in sorted({row["precision"] for row in mine}):
            points = [row for row in mine if row["precision"] == label]
            ax.scatter(
                [row["initial_rate_hz"] for row in points],
                [percent(row["peak_accuracy"]) for row in points],
                s=16,
                color=_precision_color(label),
                alpha=0.8,
                label=f"fxsnn {label}",
            )
        for row in mine:
            table.append(
                {
                    "ratio": ratio,
                    "id": row["id"],
                    "trial": row["trial"],
                    "precision": row["precision"],
                    "s1": row["s1"],
                    "initial_rate_hz": row["initial_rate_hz"],
                    "peak_accuracy": row["peak_accuracy"],
                }
            )
        ax.set_title(f"E:I {ratio_label(ratio)} ({len(mine)} runs)")
        ax.set_xlabel("initial hidden firing rate (Hz)")
        ax.set_xlim(0, x_max)
        ax.set_ylim(0, 100)
    axes[0].set_ylabel("peak test accuracy (%)")
    legend_below(fig, axes)
    return Figure(
        "fig1_peak_vs_initial_rate",
        "Peak test accuracy against initial firing rate",
        "Each point is one run: its peak test accuracy over training against the mean firing rate of the "
        "first hidden layer before training (emulator, first training samples). Shaded: the paper's "
        "low-rate band; red band: the paper's peak at low rates.",
        fig,
        ["ratio", "id", "trial", "precision", "s1", "initial_rate_hz", "peak_accuracy"],
        table,
    )


def success_by_ratio(rows) -> Figure | str:
    """2. Share of runs that train (peak > 50 %) and the mean peak accuracy of those, per ratio."""
    rows = [row for row in rows if not row["noise"]]
    if not rows:
        return "no run without weight noise"
    ratios = _ratios(rows)
    table = []
    for ratio in ratios:
        mine = [row for row in rows if row["ratio"] == ratio]
        good = [row["peak_accuracy"] for row in mine if row["success"]]
        table.append(
            {
                "ratio": ratio,
                "runs": len(mine),
                "successes": len(good),
                "success_share": len(good) / len(mine),
                "mean_peak_of_successes": statistics.fmean(good) if good else None,
                "paper_success_share": paper.SUCCESS_SHARE.get(ratio),
                "paper_mean_peak_of_successes": paper.SUCCESS_MEAN_ACCURACY.get(ratio),
            }
        )
    fig, (ax_share, ax_acc) = new_figure(2, width=4.4, sharey=False)
    positions = range(len(ratios))
    width = 0.38
    for ax, key, paper_key in (
        (ax_share, "success_share", "paper_success_share"),
        (ax_acc, "mean_peak_of_successes", "paper_mean_peak_of_successes"),
    ):
        mine = [percent(row[key]) or 0.0 for row in table]
        theirs = [percent(row[paper_key]) for row in table]
        ax.bar([p - width / 2 for p in positions], mine, width, color=FXSNN_COLOR, label="fxsnn (this sweep)")
        ax.bar(
            [p + width / 2 for p, v in zip(positions, theirs, strict=True) if v is not None],
            [v for v in theirs if v is not None],
            width,
            color="none",
            edgecolor=PAPER_COLOR,
            hatch="//",
            label="paper (float, its s1 sweep)",
        )
        ax.set_xticks(list(positions), [ratio_label(r) for r in ratios])
        ax.set_xlabel("E:I ratio")
        ax.set_ylim(0, 100)
    ax_share.set_ylabel("runs with peak > 50 % (%)")
    ax_acc.set_ylabel("mean peak accuracy of those runs (%)")
    fig.subplots_adjust(wspace=0.3)
    legend_below(fig, [ax_share], ncol=2)
    return Figure(
        "fig2_success_by_ratio",
        "Success share and accuracy of successful runs per E:I ratio",
        "Left: share of the runs (all initial weight scales of the sweep, no noise) whose peak test accuracy "
        "exceeds 50 %. Right: mean peak accuracy of those runs. Hatched: the paper's numbers over its own "
        "s1 sweep (a different set of initial scales, so shares compare only roughly).",
        fig,
        list(table[0]),
        table,
    )


def accuracy_vs_noise(rows) -> Figure | str:
    """3. Accuracy (mean of the last 10 epochs) against weight-update noise per ratio, spread over trials."""
    noises = sorted({row["noise"] for row in rows if row["noise"]})
    if len(noises) < 2:
        return "the sweep has fewer than two nonzero noise levels"
    rows = [row for row in rows if row["noise"]]
    by_cell = defaultdict(list)
    for row in rows:
        by_cell[(row["ratio"], row["noise"])].append(row["last10_accuracy"])
    table = []
    fig, (ax,) = new_figure(1, width=6.4, height=4.2)
    ratios = _ratios(rows)
    cmap = colormaps["viridis"]
    for k, ratio in enumerate(ratios):
        cells = sorted((noise, values) for (r, noise), values in by_cell.items() if r == ratio)
        xs = [noise for noise, _ in cells]
        means = [statistics.fmean(values) for _, values in cells]
        stds = [statistics.pstdev(values) for _, values in cells]
        color = cmap(k / max(1, len(ratios) - 1))
        ax.errorbar(
            xs,
            [percent(m) for m in means],
            yerr=[percent(s) for s in stds],
            color=color,
            marker="o",
            ms=4,
            capsize=2,
            label=f"fxsnn {ratio_label(ratio)}",
        )
        for (noise, values), mean, std in zip(cells, means, stds, strict=True):
            table.append(
                {
                    "ratio": ratio,
                    "noise": noise,
                    "runs": len(values),
                    "mean_last10_accuracy": mean,
                    "std_last10_accuracy": std,
                    "min_last10_accuracy": min(values),
                    "max_last10_accuracy": max(values),
                }
            )
    ax.plot(
        list(paper.NOISE_ACCURACY),
        [percent(v) for v in paper.NOISE_ACCURACY.values()],
        **PAPER_STYLE,
        label=f"paper {ratio_label(paper.NOISE_RATIOS[0])} to {ratio_label(paper.NOISE_RATIOS[1])}",
    )
    ax.plot(
        [paper.NOISE_50_50[0]],
        [percent(paper.NOISE_50_50[1])],
        color=PAPER_COLOR,
        marker="s",
        markerfacecolor="none",
        linestyle="none",
        label="paper 50:50",
    )
    for noise, accuracy in paper.NOISE_ACCURACY.items():
        table.append({"ratio": "paper 80:20-100:0", "noise": noise, "mean_last10_accuracy": accuracy})
    table.append(
        {"ratio": "paper 50:50", "noise": paper.NOISE_50_50[0], "mean_last10_accuracy": paper.NOISE_50_50[1]}
    )
    ax.set_xscale("log")
    ax.set_xlabel("weight-update noise sn (std of N(0, sn^2) per weight and update)")
    ax.set_ylabel("test accuracy, mean of last 10 epochs (%)")
    ax.set_ylim(0, 100)
    legend_below(fig, [ax], ncol=4)
    return Figure(
        "fig3_accuracy_vs_noise",
        "Accuracy under weight-update noise",
        "Mean over trials of each run's mean test accuracy over its last 10 epochs (fewer when the run is "
        "shorter), error bars one standard deviation over trials; red: the paper's curve for ratios 80:20 "
        "to 100:0 and its 50:50 point.",
        fig,
        [
            "ratio",
            "noise",
            "runs",
            "mean_last10_accuracy",
            "std_last10_accuracy",
            "min_last10_accuracy",
            "max_last10_accuracy",
        ],
        table,
    )


def precision_comparison(rows) -> Figure | str:
    """6. Peak accuracy of float, 8-bit and 4-bit networks, per ratio."""
    labels = sorted({row["precision"] for row in rows}, key=lambda p: (p != "float", p))
    if len(labels) < 2:
        return "the sweep has one weight precision only"
    ratios = _ratios(rows)
    fig, (ax,) = new_figure(1, width=max(4.5, 1.6 * len(ratios) + 2), height=3.8)
    width = 0.8 / len(labels)
    table = []
    for j, label in enumerate(labels):
        for i, ratio in enumerate(ratios):
            values = [
                row["peak_accuracy"] for row in rows if row["ratio"] == ratio and row["precision"] == label
            ]
            if not values:
                continue
            x = i - 0.4 + width * (j + 0.5)
            ax.boxplot(
                [percent(v) for v in values],
                positions=[x],
                widths=width * 0.85,
                patch_artist=True,
                boxprops={"facecolor": _precision_color(label), "alpha": 0.6},
                medianprops={"color": "black"},
                manage_ticks=False,
            )
            table.append(
                {
                    "ratio": ratio,
                    "precision": label,
                    "runs": len(values),
                    "median_peak_accuracy": statistics.median(values),
                    "mean_peak_accuracy": statistics.fmean(values),
                    "min_peak_accuracy": min(values),
                    "max_peak_accuracy": max(values),
                }
            )
    for label in labels:
        ax.bar([0], [0], color=_precision_color(label), alpha=0.6, label=label)
    ax.set_xticks(range(len(ratios)), [ratio_label(r) for r in ratios])
    ax.set_xlabel("E:I ratio")
    ax.set_ylabel("peak test accuracy (%)")
    ax.set_ylim(0, 100)
    legend_below(fig, [ax], ncol=len(labels))
    return Figure(
        "fig6_precision",
        "Float against 8-bit against 4-bit weights",
        "Peak test accuracy per weight precision (float: the float64 equations; n-bit: trained on the "
        "integer forward pass with n-bit weight magnitudes); boxes over runs (initial scales and trials).",
        fig,
        [
            "ratio",
            "precision",
            "runs",
            "median_peak_accuracy",
            "mean_peak_accuracy",
            "min_peak_accuracy",
            "max_peak_accuracy",
        ],
        table,
    )
