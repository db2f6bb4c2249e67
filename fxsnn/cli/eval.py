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
    parser.add_argument("model", metavar="MODEL", help="model file (.fxsnn)")
    parser.add_argument(
        "--dataset",
        metavar="NAME",
        help="digits, fmnist, mnist or shd (default: the data set recorded in the model)",
    )
    parser.add_argument("--split", default="test", metavar="SPLIT", help="train or test (default: test)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N samples of the split")
    parser.add_argument("--data-dir", metavar="DIR", help="folder searched first for the data set's files")
    parser.add_argument("--threads", type=int, metavar="N", help="emulator threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a rate encoder (default: 0)")
    parser.set_defaults(run=run, render=render, trace=None)


def run(args) -> dict:
    from ..model import load_model

    result = _simulate.run(args)
    training = load_model(args.model).provenance.get("training", {})
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
