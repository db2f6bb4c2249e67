"""The report's ``index.html``: one self-contained page (figures embedded as PNG data, no external files)."""

from __future__ import annotations

import base64
import html

__all__ = ["render_index"]

_STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.caption { color: #444; } .skipped { color: #777; }
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def render_index(title: str, facts: dict, figures: list, pngs: dict, skipped: dict, comparison: list) -> str:
    """The page: facts about the sweep, every figure (PNG embedded, links to its PNG and CSV), the skipped
    figures with the reason, and the table of the paper's numbers beside fxsnn's."""
    parts = [
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<table>",
    ]
    for key, value in facts.items():
        parts.append(f"<tr><th>{html.escape(key)}</th>{_cell(value)}</tr>")
    parts.append("</table>")
    for figure in figures:
        data = base64.b64encode(pngs[figure.name]).decode()
        parts += [
            f"<h2 id='{figure.name}'>{html.escape(figure.title)}</h2>",
            f"<img alt='{html.escape(figure.title)}' src='data:image/png;base64,{data}'>",
            f"<p class='caption'>{html.escape(figure.caption)} Files: <a href='{figure.name}.png'>PNG</a>, "
            f"<a href='{figure.name}.csv'>CSV</a>.</p>",
        ]
    if comparison:
        parts += ["<h2>The paper's numbers beside fxsnn's</h2>", "<table><tr>"]
        parts += [f"<th>{html.escape(key)}</th>" for key in comparison[0]]
        parts.append("</tr>")
        for row in comparison:
            parts.append("<tr>" + "".join(_cell(value) for value in row.values()) + "</tr>")
        parts.append("</table>")
    if skipped:
        parts.append("<h2>Figures this sweep has no data for</h2><ul class='skipped'>")
        parts += [f"<li>{html.escape(name)}: {html.escape(reason)}</li>" for name, reason in skipped.items()]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
