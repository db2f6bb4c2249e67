"""A report figure (PNG, the CSV table of exactly what it draws, a caption) and the shared plot style."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402

__all__ = [
    "Figure",
    "new_figure",
    "stacked_figure",
    "legend_below",
    "ratio_label",
    "percent",
    "PAPER_STYLE",
    "FXSNN_COLOR",
    "PAPER_COLOR",
]

FXSNN_COLOR = "#1f77b4"
PAPER_COLOR = "#d62728"
#: How the paper's numbers are drawn everywhere: red, dashed or hollow diamonds.
PAPER_STYLE = {"color": PAPER_COLOR, "linestyle": "--", "marker": "D", "markerfacecolor": "none"}


@dataclass
class Figure:
    """One figure of the report.

    Attributes
    ----------
    name : str
        File stem: ``<name>.png`` and ``<name>.csv``.
    title, caption : str
    figure : matplotlib.figure.Figure
    columns : list of str
    rows : list of dict
        The numbers drawn, one dict per point / bar / box entry (the CSV).
    """

    name: str
    title: str
    caption: str
    figure: object
    columns: list
    rows: list = field(default_factory=list)

    def png_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(self.figure)
        return buffer.getvalue()

    def csv_text(self) -> str:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns, lineterminator="\n", extrasaction="raise")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
        return text.getvalue()


def new_figure(n_panels: int = 1, *, width: float = 4.2, height: float = 3.4, sharey: bool = True):
    """``(figure, axes list)``: ``n_panels`` side by side, readable at report size."""
    plt.rcParams.update({"font.size": 10, "axes.titlesize": 10, "legend.fontsize": 8})
    fig, axes = plt.subplots(1, n_panels, figsize=(width * n_panels, height), sharey=sharey, squeeze=False)
    for ax in axes[0]:
        ax.grid(True, alpha=0.3)
    return fig, list(axes[0])


def stacked_figure(heights: list, *, width: float = 7.5, row_inches: float = 0.3):
    """``(figure, axes list)``: panels one above the other, each ``row_inches`` per unit of its height."""
    plt.rcParams.update({"font.size": 10, "axes.titlesize": 10, "legend.fontsize": 8})
    fig, axes = plt.subplots(
        len(heights),
        1,
        figsize=(width, row_inches * sum(heights) + 2.2),
        gridspec_kw={"height_ratios": heights},
    )
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, list(axes)


def legend_below(fig, axes, ncol: int = 3) -> None:
    """One legend for every panel, under the panels (never over the data)."""
    handles, labels = {}, []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    fig.legend(
        [handles[label] for label in labels],
        labels,
        loc="upper center",
        ncol=ncol,
        bbox_to_anchor=(0.5, 0.0),
        frameon=False,
    )


def ratio_label(ratio: float) -> str:
    """``0.8`` -> ``"80:20"``."""
    e = round(ratio * 100)
    return f"{e}:{100 - e}"


def percent(value):
    return None if value is None else 100.0 * value
