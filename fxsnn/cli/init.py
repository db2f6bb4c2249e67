"""``fxsnn init``: the paper's random initialisation of an E:I network, written as a model file.

``--s1`` sets the first layer's ``|N(0, s1)|`` directly; ``--target-rate HZ`` instead finds the ``s1`` whose
integer network fires at that mean rate on 256 training samples (PAPER.md: low initial rates train reliably).
"""

from __future__ import annotations

import numpy as np

from ..training.config import load_config
from .train import add_network_arguments, network_overrides

__all__ = ["register", "run", "render"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "init",
        help="randomly initialise an E:I network (the paper's init, or calibrated to a firing rate)",
        description="Draw the paper's initial weights (W1 = |N(0, s1)|, later layers "
        "N(0, 7(1-beta)/sqrt(fan_in)) "
        "signed by the presynaptic type), quantise them and write a model file.",
    )
    add_network_arguments(parser)
    parser.add_argument("--out", required=True, metavar="FILE.fxsnn", help="model file to write")
    parser.set_defaults(run=run, render=render)


def run(args) -> dict:
    from ..datasets import default_encoder, encode_dataset, load_dataset
    from ..training import Trainer, TrainingData, network_rates_hz

    overrides = network_overrides(args)
    overrides["dataset"] = overrides["dataset"] or "digits"
    config = load_config(args.config, overrides)
    ds = load_dataset(config.dataset, "train", data_dir=config.data_dir)
    encoder = dict(config.encoder) if config.encoder is not None else default_encoder(ds.name, ds.max_time)
    steps = config.steps if config.steps is not None else ds.num_steps_hint
    n_cal = min(256, len(ds))
    events = encode_dataset(ds, encoder, steps, seed=config.seed).select(np.arange(n_cal))
    labels = np.ascontiguousarray(ds.labels[:n_cal], dtype=np.int64)
    data = TrainingData(config.dataset, encoder, events, labels, events, labels, ds.n_classes)
    trainer = Trainer(config, data)
    trainer.initialise()  # draws exactly as `fxsnn train` does with the same seed
    network = trainer.network()
    rates = network_rates_hz(network, events)
    path = trainer.save_model(
        args.out,
        {"initialisation": trainer.initial, "epochs_run": 0, "initial_rates_hz": [float(r) for r in rates]},
    )
    return {
        "model": str(path),
        "dataset": config.dataset,
        "sizes": list(trainer.sizes),
        "s1": trainer.initial["s1"],
        "target_rate_hz": config.target_rate,
        "initial_rates_hz": [float(r) for r in rates],
        "calibration_samples": n_cal,
        "scales": list(trainer.scales),
        "weight_shift": [p.weight_shift for p in trainer.layer_params],
        "threshold": [p.threshold for p in trainer.layer_params[:-1]],
    }


def render(result: dict) -> str:
    rates = ", ".join(f"{r:.1f}" for r in result["initial_rates_hz"])
    target = f" (target {result['target_rate_hz']} Hz)" if result["target_rate_hz"] is not None else ""
    return (
        f"wrote {result['model']}: {'-'.join(map(str, result['sizes']))} for {result['dataset']}, "
        f"s1 = {result['s1']:.4g}; initial hidden rate {rates} Hz on {result['calibration_samples']} "
        f"training samples{target}"
    )
