"""``fxsnn train``: surrogate-gradient training on the integer forward pass (or in float mode).

Settings come from an optional TOML file (``--config``, see :mod:`fxsnn.config`) with flags overriding it.
Writes ``DIR/model.fxsnn`` (the epoch with the best test accuracy: the paper reports peak test accuracy),
``DIR/last.fxsnn`` (the final epoch), ``DIR/history.jsonl`` (one JSON line per epoch, epoch 0 = the initial
network) and ``DIR/checkpoint.npz`` (every epoch; ``--resume`` continues it bit for bit).
"""

from __future__ import annotations

import sys

from ..errors import UsageError
from ..training.config import load_config

__all__ = ["register", "run", "render", "add_network_arguments", "network_overrides"]


def _int_list(text: str) -> list:
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise UsageError(f"--hidden takes layer sizes like 100 or 200,100, not {text!r}") from None
    if not values:
        raise UsageError(f"--hidden takes layer sizes like 100 or 200,100, not {text!r}")
    return values


def _float_list(text: str) -> list:
    try:
        values = [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise UsageError(f"expected a number or a comma-separated list of numbers, not {text!r}") from None
    return values


def _per_layer_int(text: str):
    if text == "auto":
        return text
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(
            f"expected an integer or a comma-separated list (one per layer), not {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def add_network_arguments(parser) -> None:
    """Flags shared by ``fxsnn init`` and ``fxsnn train`` (each overrides the config key of the same name)."""
    g = parser.add_argument_group("network")
    g.add_argument("--config", metavar="FILE.toml", help="TOML config file; flags override its keys")
    g.add_argument("--dataset", metavar="NAME", help="digits, fmnist, mnist or shd")
    g.add_argument("--data-dir", metavar="DIR", help="folder searched first for the data set's files")
    g.add_argument(
        "--hidden", metavar="H", action="append", help="hidden layer sizes: repeat, or a comma list (200,100)"
    )
    g.add_argument("--ratio", type=float, metavar="R", help="excitatory fraction of each hidden layer (0.8)")
    g.add_argument("--steps", type=int, metavar="T", help="steps per sample (default: the data set's, 100)")
    g.add_argument(
        "--weight-bits", type=_per_layer_int, metavar="B", help="weight magnitude bits (8; or per layer)"
    )
    g.add_argument(
        "--weight-shift",
        type=_per_layer_int,
        metavar="S",
        help="extra state bits below a weight LSB (auto; or per layer)",
    )
    g.add_argument(
        "--weight-range",
        type=_float_list,
        metavar="W",
        help="float weight of the largest magnitude, per layer (comma list)",
    )
    g.add_argument("--state-bits", type=int, metavar="B", help="state width (24)")
    g.add_argument("--decay-mode", choices=("multiply", "shift"), help="decay arithmetic (multiply)")
    g.add_argument("--frac-bits", type=int, metavar="F", help="multiply-mode decay fraction bits (12)")
    init = g.add_mutually_exclusive_group()
    init.add_argument(
        "--s1", type=float, metavar="SIGMA", help="std of the first layer's |N(0, s1)| init (0.001)"
    )
    init.add_argument(
        "--target-rate",
        type=float,
        metavar="HZ",
        help="calibrate s1 for this initial hidden firing rate instead",
    )
    g.add_argument("--seed", type=int, metavar="N", help="seed of every random choice (0)")


def network_overrides(args) -> dict:
    hidden = None
    if args.hidden:
        hidden = [h for text in args.hidden for h in _int_list(text)]
    weight_range = args.weight_range
    if weight_range is not None and len(weight_range) == 1:
        weight_range = weight_range[0]
    return {
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "hidden": hidden,
        "ratio": args.ratio,
        "steps": args.steps,
        "weight_bits": args.weight_bits,
        "weight_shift": args.weight_shift,
        "weight_range": weight_range,
        "state_bits": args.state_bits,
        "decay_mode": args.decay_mode,
        "frac_bits": args.frac_bits,
        "s1": args.s1,
        "target_rate": args.target_rate,
        "seed": args.seed,
    }


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train an E:I network on the integer forward pass (surrogate gradients)",
        description="Surrogate-gradient training whose forward pass is the integer arithmetic the hardware "
        "runs. Writes DIR/model.fxsnn (best test accuracy), DIR/last.fxsnn, DIR/history.jsonl and a "
        "checkpoint every epoch.",
    )
    add_network_arguments(parser)
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=int, metavar="N", help="epochs (30)")
    g.add_argument("--lr", type=float, metavar="LR", help="learning rate (0.01)")
    g.add_argument("--batch-size", type=int, metavar="N", help="samples per update (256)")
    g.add_argument("--optimizer", choices=("sgd", "adam"), help="sgd (the paper's, no momentum) or adam")
    g.add_argument(
        "--noise",
        type=float,
        metavar="SN",
        help="std of Gaussian noise added to every float weight after each update (the paper's sn)",
    )
    g.add_argument("--noise-lsb", type=float, metavar="N", help="std of weight noise in stored-weight LSBs")
    g.add_argument(
        "--float",
        dest="float_mode",
        action="store_true",
        default=None,
        help="train the float64 network of the paper's equations instead (for comparison)",
    )
    g.add_argument("--train-samples", type=int, metavar="N", help="use only the first N training samples")
    g.add_argument("--test-samples", type=int, metavar="N", help="use only the first N test samples")
    g.add_argument("--out", metavar="DIR", help="output folder (default: runs/<dataset>)")
    g.add_argument("--resume", action="store_true", help="continue the checkpoint in DIR")
    g.add_argument("--threads", type=int, metavar="N", help="numba threads (default: all cores)")
    g.add_argument("--progress", action="store_true", default=None, help="force the progress bar on")
    parser.set_defaults(run=run, render=render)


def run(args) -> dict:
    from ..training import train

    overrides = network_overrides(args)
    overrides.update(
        {
            "epochs": args.epochs,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "optimizer": args.optimizer,
            "noise": args.noise,
            "noise_lsb": args.noise_lsb,
            "float_mode": args.float_mode,
            "train_samples": args.train_samples,
            "test_samples": args.test_samples,
            "out": args.out,
            "threads": args.threads,
        }
    )
    config = load_config(args.config, overrides)
    progress = False if args.json else (True if args.progress else None)
    return train(config, config.out or f"runs/{config.dataset}", progress=progress, resume=args.resume)


def _hz(rate) -> str:
    """A rate for humans; ``None`` (a population with no neurons) is ``-``."""
    return "-" if rate is None else f"{rate:.1f} Hz"


def render(result: dict) -> str:
    mode = "float" if result["float_mode"] else "integer"
    lines = [
        f"trained {'-'.join(map(str, result['sizes']))} on {result['dataset']} ({mode} forward pass), "
        f"{result['epochs']} epochs in {result['seconds']:.1f} s",
        f"best test accuracy {100 * result['best_test_accuracy']:.2f}% (epoch {result['best_epoch']}), "
        f"last {100 * result['last_test_accuracy']:.2f}%",
        f"initial hidden rate: E {_hz(result['initial_rate_e_hz'])}, "
        f"I {_hz(result['initial_rate_i_hz'])} "
        f"(s1 = {result['initial']['s1']:.3g})",
        f"model (best epoch): {result['model']}",
        f"history: {result['history']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the fxsnn command")
