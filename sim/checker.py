"""Model and checker: the emulator's full trace, compared exactly with what the core emitted.

The model is :func:`fxsnn.emulator.simulate` with ``trace=True``. The checker compares, per sample and step,
every neuron's spike, current and membrane (the readout's F and U) in docs/fixed-point.md section 4.6 order,
then every score and the prediction. All comparisons are integer equality. It counts every mismatching value
and keeps the first one, located by sample, step, layer, neuron and field, with expected and actual values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fxsnn.emulator import SimResult
from fxsnn.network import Network

__all__ = ["Mismatch", "Checker", "expected_trace_beats"]


@dataclass(frozen=True)
class Mismatch:
    """The first value that differs."""

    sample: int
    step: int | None  # None for results (scores, prediction)
    layer: int | None
    neuron: int | None
    field: str
    expected: int
    actual: int

    def describe(self) -> str:
        where = f"sample {self.sample}"
        if self.step is not None:
            where += f", step {self.step}"
        if self.layer is not None:
            where += f", layer {self.layer}"
        if self.neuron is not None:
            where += f", neuron {self.neuron}"
        return f"{where}, {self.field}: expected {self.expected}, got {self.actual}"

    def to_dict(self) -> dict:
        return {**self.__dict__, "description": self.describe()}


def expected_trace_beats(net: Network, result: SimResult) -> dict:
    """The trace stream the core must emit for ``result``'s samples, as flat int64 arrays per field.

    Order: sample, step, then layers from the first hidden one to the readout, neurons in index order.
    """
    trace = result.trace
    if trace is None:
        raise ValueError("the model needs the emulator's full trace (simulate(..., trace=True))")
    n, steps = result.scores.shape[0], net.num_steps
    sizes = [layer.n_out for layer in net.layers]
    spikes = [s.astype(np.int64) for s in trace.spikes] + [np.zeros((n, steps, sizes[-1]), dtype=np.int64)]
    per_step = sum(sizes)
    layer_of = np.concatenate([np.full(size, k, dtype=np.int64) for k, size in enumerate(sizes)])
    neuron_of = np.concatenate([np.arange(size, dtype=np.int64) for size in sizes])
    return {
        "layer": np.tile(layer_of, n * steps),
        "neuron": np.tile(neuron_of, n * steps),
        "spike": np.concatenate(spikes, axis=2).reshape(-1),
        "current": np.concatenate([c.astype(np.int64) for c in trace.current], axis=2).reshape(-1),
        "membrane": np.concatenate([m.astype(np.int64) for m in trace.membrane], axis=2).reshape(-1),
        "per_step": per_step,
    }


@dataclass
class Checker:
    """Accumulates comparisons chunk by chunk; ``first`` is the first mismatch in sample order."""

    net: Network
    samples: int = 0
    trace_beats: int = 0
    mismatches: int = 0
    first: Mismatch | None = None
    notes: list = field(default_factory=list)

    def _record(self, count: int, mismatch: Mismatch) -> None:
        self.mismatches += count

        def order(m: Mismatch) -> tuple:
            return (m.sample, self.net.num_steps if m.step is None else m.step)

        if self.first is None or order(mismatch) < order(self.first):
            self.first = mismatch

    def check_trace(self, sample0: int, result: SimResult, actual: dict) -> None:
        """Compare the captured trace ``actual`` (field -> int64 array) for samples from ``sample0``."""
        expected = expected_trace_beats(self.net, result)
        per_step, steps = expected["per_step"], self.net.num_steps
        n_readout = len(self.net.layers) - 1
        n_exp, n_act = expected["layer"].size, actual["layer"].size
        self.trace_beats += n_act
        n = min(n_exp, n_act)
        first_bad, count = None, 0
        for name in ("layer", "neuron", "spike", "current", "membrane"):
            diff = expected[name][:n] != actual[name][:n]
            bad = int(diff.sum())
            if bad:
                count += bad
                i = int(np.flatnonzero(diff)[0])
                if first_bad is None or i < first_bad[0]:
                    first_bad = (i, name)
        if first_bad is not None:
            i, name = first_bad
            layer = int(expected["layer"][i])
            label = name
            if layer == n_readout and name in ("current", "membrane"):
                label = {"current": "F (readout current)", "membrane": "U (readout membrane)"}[name]
            self._record(
                count,
                Mismatch(
                    sample=sample0 + i // (per_step * steps),
                    step=(i // per_step) % steps,
                    layer=layer,
                    neuron=int(expected["neuron"][i]),
                    field=label,
                    expected=int(expected[name][i]),
                    actual=int(actual[name][i]),
                ),
            )
        if n_exp != n_act:
            i = n
            self._record(
                abs(n_exp - n_act),
                Mismatch(
                    sample=sample0 + i // (per_step * steps),
                    step=(i // per_step) % steps,
                    layer=None,
                    neuron=None,
                    field="trace beat count",
                    expected=n_exp,
                    actual=n_act,
                ),
            )

    def check_results(
        self, sample0: int, result: SimResult, scores: np.ndarray, predictions: np.ndarray
    ) -> None:
        """Compare captured scores (n, K) and predictions (n,) for samples from ``sample0``."""
        n_exp, n_act = result.scores.shape[0], scores.shape[0]
        self.samples += n_act
        n = min(n_exp, n_act)
        score_diff = result.scores[:n].astype(np.int64) != scores[:n]
        pred_diff = result.predictions[:n].astype(np.int64) != predictions[:n]
        count = int(score_diff.sum() + pred_diff.sum())
        if count:
            bad_sample = np.flatnonzero(score_diff.any(axis=1) | pred_diff)[0]
            b = int(bad_sample)
            if score_diff[b].any():
                k = int(np.flatnonzero(score_diff[b])[0])
                mismatch = Mismatch(
                    sample0 + b,
                    None,
                    len(self.net.layers) - 1,
                    k,
                    f"score[{k}]",
                    int(result.scores[b, k]),
                    int(scores[b, k]),
                )
            else:
                mismatch = Mismatch(
                    sample0 + b,
                    None,
                    None,
                    None,
                    "prediction",
                    int(result.predictions[b]),
                    int(predictions[b]),
                )
            self._record(count, mismatch)
        if n_exp != n_act:
            self._record(
                abs(n_exp - n_act),
                Mismatch(sample0 + n, None, None, None, "results beat count", n_exp, n_act),
            )
