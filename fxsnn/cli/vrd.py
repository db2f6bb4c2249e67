"""``fxsnn vrd MODEL``: firing rates and Van Rossum distances (E-E, E-I, I-I) of a model's hidden layer.

The spike trains come from the bit-exact integer emulator on the first N samples of a data set split
(default: 1,000 training samples, every sample counted), as in every sweep run's ``analysis.json``
(:func:`fxsnn.study.activity.layer_activity`).
"""

from __future__ import annotations

from ..analysis import PAIR_GROUPS, VAN_ROSSUM_METRICS
from ..datasets import encode_dataset, load_dataset
from ..errors import UsageError
from ..model import load_model
from ..study.activity import DEFAULT_SAMPLES, layer_activity

__all__ = ["register", "run", "render"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "vrd",
        help="Van Rossum distances of E-E, E-I and I-I pairs and E/I rates of a model's hidden layer",
        description="Run a model on the first N samples of a data set split with the integer emulator and "
        "report the hidden layer's E and I firing rates and its Van Rossum distances grouped into E-E, E-I "
        "and I-I pairs (mean over samples per pair; mean, std and median over pairs).",
    )
    parser.add_argument("model", metavar="MODEL", help="model file (.fxsnn)")
    parser.add_argument("--dataset", metavar="NAME", help="data set (default: the one in the model file)")
    parser.add_argument("--split", default="train", choices=("train", "test"), help="split (default: train)")
    parser.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"first N samples of the split (default {DEFAULT_SAMPLES})",
    )
    parser.add_argument(
        "--metric",
        choices=VAN_ROSSUM_METRICS,
        default="discrete",
        help="discrete: the paper's sum over steps (default); continuous: van Rossum's integral",
    )
    parser.add_argument("--tau", type=float, default=1.0, metavar="STEPS", help="kernel time constant (1)")
    parser.add_argument(
        "--layer", type=int, default=0, metavar="L", help="hidden layer (default 0, the first)"
    )
    parser.add_argument("--data-dir", metavar="DIR", help="folder searched first for the data set's files")
    parser.add_argument("--seed", type=int, default=0, help="seed of a rate encoder (default: 0)")
    parser.set_defaults(run=run, render=render)


def run(args) -> dict:
    if args.samples < 1:
        raise UsageError(f"--samples must be at least 1, not {args.samples}")
    if not args.tau > 0:
        raise UsageError(f"--tau must be a positive number of steps, not {args.tau}")
    model = load_model(args.model)
    name = args.dataset or model.dataset
    if name is None:
        raise UsageError(f"{args.model!r} names no data set; give --dataset")
    ds = load_dataset(name, args.split, data_dir=args.data_dir)
    events = encode_dataset(ds, model.encoder, model.network.num_steps, seed=args.seed)
    n = min(args.samples, events.n_samples)
    activity = layer_activity(
        model.network, events.select(slice(0, n)), layer=args.layer, metric=args.metric, tau=args.tau
    )
    return {"model": str(args.model), "dataset": name, "split": args.split, **activity}


def render(result: dict) -> str:
    rates = result["rates_hz"]
    lines = [
        f"{result['model']}: hidden layer {result['layer']} on {result['samples']} {result['split']} samples "
        f"of {result['dataset']}",
        "rates      " + ", ".join(f"{k} {v:.2f} Hz" for k, v in rates.items() if v is not None),
        f"Van Rossum ({result['metric']}, tau {result['tau_steps']:g} steps): mean +- std (median)",
    ]
    for group in PAIR_GROUPS:
        stats = result["vrd"][group]
        if stats["pairs"]:
            lines.append(
                f"  {group}  {stats['mean']:.4f} +- {stats['std']:.4f} ({stats['median']:.4f}), "
                f"{stats['pairs']} pairs"
            )
        else:
            lines.append(f"  {group}  no pairs")
    return "\n".join(lines)
