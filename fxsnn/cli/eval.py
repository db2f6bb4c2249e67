"""``fxsnn eval MODEL`` (alias ``evaluate``): test accuracy and firing rates of a model with the emulator.

The numbers come from the bit-exact integer emulator (:func:`fxsnn.emulator.simulate`, the same code path
as ``fxsnn simulate``), so they are what the hardware computes. When the model was written by
``fxsnn train``, the accuracy recorded during training is shown beside it: on the same test split they agree
exactly, because training's forward pass is the same integer arithmetic.
"""

from __future__ import annotations

from . import simulate as _simulate

__all__ = ["register", "run", "render"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        aliases=["evaluate"],
        help="accuracy and firing rates of a model on a data set (integer emulator)",
        description="Evaluate a .fxsnn model on a data set split (default: test) with the bit-exact integer "
        "emulator: accuracy and the firing rates of each hidden layer's E and I populations.",
    )
    _simulate.add_run_arguments(parser)
    parser.set_defaults(run=run, render=render, trace=None)


def run(args) -> dict:
    from ..model import load_model

    model = load_model(args.model)  # once: simulate reuses it
    result = _simulate.run(args, model)
    training = model.provenance.get("training", {})
    recorded = training.get("best_test_accuracy")
    result["training_best_test_accuracy"] = (
        recorded if isinstance(recorded, (int, float)) and recorded >= 0 else None
    )
    result["training_best_epoch"] = training.get("best_epoch")
    return result


def render(result: dict) -> str:
    text = _simulate.render(result)
    if result.get("training_best_test_accuracy") is not None:
        text += (
            f"\ntraining   recorded {100 * result['training_best_test_accuracy']:.2f} % test accuracy "
            f"(epoch {result['training_best_epoch']})"
        )
    return text
