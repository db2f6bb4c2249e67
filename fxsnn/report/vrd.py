"""4. Van Rossum distances of E-E, E-I and I-I pairs, successful against failed networks, before and after."""

from __future__ import annotations

from . import paper
from .figure import FXSNN_COLOR, PAPER_STYLE, Figure, legend_below, new_figure, ratio_label

__all__ = ["vrd_boxes", "GROUPS"]

#: (results.csv column suffix, group name)
GROUPS = (("ee", "E-E"), ("ei", "E-I"), ("ii", "I-I"))
_FAILED_COLOR = "#ff7f0e"


def _selection(rows) -> tuple[list, str]:
    """The paper's 80:20 networks when the sweep has them, else every network with both populations."""
    mixed = [row for row in rows if 0 < row["ratio"] < 1 and row["vrd_after_ii"] is not None]
    chosen = [row for row in mixed if row["ratio"] == paper.VRD_RATIO]
    if chosen:
        return chosen, f"E:I {ratio_label(paper.VRD_RATIO)} networks"
    return mixed, "networks of every E:I ratio below 100:0"


def vrd_boxes(rows) -> Figure | str:
    """Box plots over networks of each network's mean distance per pair group."""
    chosen, which = _selection(rows)
    if not chosen:
        return "no network with both excitatory and inhibitory neurons"
    metric = chosen[0]["vrd_metric"]
    fig, axes = new_figure(2, width=4.4, height=3.6)
    table = []
    for ax, when in zip(axes, ("before", "after"), strict=True):
        for g, (short, group) in enumerate(GROUPS):
            for k, (success, color) in enumerate(((True, FXSNN_COLOR), (False, _FAILED_COLOR))):
                values = [row[f"vrd_{when}_{short}"] for row in chosen if row["success"] == success]
                for row in chosen:
                    if row["success"] == success:
                        table.append(
                            {
                                "id": row["id"],
                                "ratio": row["ratio"],
                                "success": success,
                                "when": when,
                                "group": group,
                                "vrd": row[f"vrd_{when}_{short}"],
                            }
                        )
                if values:
                    ax.boxplot(
                        values,
                        positions=[g * 3 + k],
                        widths=0.8,
                        patch_artist=True,
                        boxprops={"facecolor": color, "alpha": 0.6},
                        medianprops={"color": "black"},
                        manage_ticks=False,
                    )
        ax.set_xticks([g * 3 + 0.5 for g in range(len(GROUPS))], [group for _, group in GROUPS])
        ax.set_xlabel("pair group")
        ax.set_title(f"{when} training")
    after = axes[1]
    after.plot(
        [g * 3 for g in range(len(GROUPS))],
        [paper.VRD_MEDIANS[group] for _, group in GROUPS],
        **{**PAPER_STYLE, "linestyle": "none"},
        ms=8,
        label=f"paper median, successful {ratio_label(paper.VRD_RATIO)} (its scaling)",
    )
    for color, name in ((FXSNN_COLOR, "successful (peak > 50 %)"), (_FAILED_COLOR, "failed")):
        after.bar([0], [0], color=color, alpha=0.6, label=f"fxsnn {name}")
    legend_below(fig, [after])
    axes[0].set_ylabel(f"Van Rossum distance ({metric}, per network mean)")
    for _, group in GROUPS:
        table.append(
            {
                "id": "paper",
                "ratio": paper.VRD_RATIO,
                "success": True,
                "when": "after",
                "group": group,
                "vrd": paper.VRD_MEDIANS[group],
            }
        )
    n_good = sum(1 for row in chosen if row["success"])
    return Figure(
        "fig4_vrd",
        "Van Rossum distances of E-E, E-I and I-I pairs",
        f"{which}: {n_good} successful, {len(chosen) - n_good} failed. Each network contributes its mean "
        f"distance over the pairs of a group (distances averaged over the analysed training samples, "
        f"{metric} formula, tau = 1 step), before training and after the last epoch. Red diamonds: the "
        "paper's medians for successful 80:20 networks.",
        fig,
        ["id", "ratio", "success", "when", "group", "vrd"],
        table,
    )
