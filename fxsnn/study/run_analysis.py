"""A finished run's ``analysis.json``: accuracy, success, and hidden activity before and after training.

- accuracy (from the run's history, test set): peak (the best epoch, epoch 0 = the initial network
  included, as ``model.fxsnn`` is chosen), final (the last epoch) and the mean of the last 10 epochs (the
  paper's measure under noise);
- success: peak > 0.5, as the paper;
- activity (:func:`fxsnn.study.activity.layer_activity`) of the first hidden layer on the first N training
  samples, every sample counted, for the initial network and for the network after the last epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

from fxsnn.model import load_model
from fxsnn.training import Trainer, TrainingData

from .activity import DEFAULT_SAMPLES, layer_activity

__all__ = ["analyse_run", "accuracy_summary", "SUCCESS_THRESHOLD", "LAST_EPOCHS"]

#: A run "trains" when its peak test accuracy exceeds this (the paper's criterion).
SUCCESS_THRESHOLD = 0.5
#: Epochs averaged for the paper's noise measure.
LAST_EPOCHS = 10


def accuracy_summary(history: list) -> dict:
    """Peak, final and last-10-epochs test accuracy of a run's history (one dict per epoch, epoch 0 first)."""
    accuracies = [(entry["epoch"], entry["test_accuracy"]) for entry in history]
    peak_epoch, peak = max(accuracies, key=lambda item: (item[1], -item[0]))
    trained = [acc for epoch, acc in accuracies if epoch > 0] or [accuracies[-1][1]]
    last = trained[-LAST_EPOCHS:]
    return {
        "peak": peak,
        "peak_epoch": peak_epoch,
        "final": accuracies[-1][1],
        "last10_mean": sum(last) / len(last),
        "last10_epochs": len(last),
    }


def analyse_run(
    config,
    data: TrainingData,
    run_dir,
    *,
    samples: int = DEFAULT_SAMPLES,
    metric: str = "discrete",
    tau: float = 1.0,
) -> dict:
    """The analysis of the run in ``run_dir`` (``history.jsonl`` and ``last.fxsnn`` written by training).

    The initial network is rebuilt from ``config`` and ``data`` exactly as training drew it (same seed, same
    generator), so nothing extra has to be saved during training.
    """
    run_dir = Path(run_dir)
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines() if line]
    accuracy = accuracy_summary(history)
    trainer = Trainer(config, data, None, progress=False)
    trainer.initialise()
    initial = trainer.network()
    final = load_model(run_dir / "last.fxsnn").network
    n = min(samples, data.train_events.n_samples)
    events = data.train_events.select(slice(0, n))
    before = layer_activity(initial, events, metric=metric, tau=tau)
    after = layer_activity(final, events, metric=metric, tau=tau)
    return {
        "type": "fxsnn.run_analysis",
        "version": 1,
        "accuracy": accuracy,
        "success": accuracy["peak"] > SUCCESS_THRESHOLD,
        "success_threshold": SUCCESS_THRESHOLD,
        "activity_split": "train",
        "before": before,
        "after": after,
    }
