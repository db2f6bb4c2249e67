"""``fxsnn report DIR``: the figures of a sweep folder beside the paper's numbers (:mod:`fxsnn.report`)."""

from __future__ import annotations

from ..report.build import build_report

__all__ = ["register", "run", "render"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="figures of a sweep folder (PNG + CSV each) in one index.html, beside the paper's numbers",
        description="Draw the study figures of a sweep folder (accuracy against initial rate, success per "
        "ratio, accuracy under noise, Van Rossum distances, the paper's numbers beside fxsnn's, precision) "
        "as PNG files with the CSV of each, and one self-contained index.html.",
    )
    parser.add_argument("dir", metavar="DIR", help="sweep folder (fxsnn sweep --out DIR)")
    parser.add_argument("--out", metavar="REPORT_DIR", help="report folder (default: DIR/report)")
    parser.set_defaults(run=run, render=render)


def run(args) -> dict:
    return build_report(args.dir, args.out)


def render(result: dict) -> str:
    lines = [f"report of {result['runs']} runs ({result['failed']} failed): {result['index']}"]
    lines += [f"  {name}.png / .csv" for name in result["figures"]]
    lines += [f"  skipped {name}: {reason}" for name, reason in result["skipped"].items()]
    return "\n".join(lines)
