"""``fxsnn report``: the figures of a sweep folder beside the paper's published numbers.

- :mod:`~fxsnn.report.paper`: the paper's published numbers (docs/paper.md), written once;
- :mod:`~fxsnn.report.figure`: what a figure is (PNG, its CSV table, caption) and the shared plot style;
- :mod:`~fxsnn.report.accuracy`: accuracy against initial rate, success per ratio, noise, precision;
- :mod:`~fxsnn.report.vrd`: Van Rossum distances of successful and failed networks;
- :mod:`~fxsnn.report.comparison`: every published number against fxsnn's;
- :mod:`~fxsnn.report.build`: reads the sweep folder, draws every figure that applies, writes index.html.
"""
