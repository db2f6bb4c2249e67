"""``fxsnn init``: the paper's random initialisation of an E:I network, written as a model file.

``--s1`` sets the first layer's ``|N(0, s1)|`` directly; ``--target-rate HZ`` instead finds the ``s1`` whose
integer network fires at that mean rate on 256 training samples (docs/paper.md: low initial rates train
reliably). No trainer is built: :func:`fxsnn.init.initialise` draws exactly what training draws with the seed.
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
    from ..analysis import population_rates_hz
    from ..datasets import default_encoder, encode_dataset, load_dataset
    from ..emulator import simulate
    from ..init import initialise
    from ..model import Model, make_provenance, save_model
    from ..training.checkpoint import jsonable
    from ..training.trainer import CALIBRATION_SAMPLES

    overrides = network_overrides(args)
    overrides["dataset"] = overrides["dataset"] or "digits"
    config = load_config(args.config, overrides)
    ds = load_dataset(config.dataset, "train", data_dir=config.data_dir)
    encoder = dict(config.encoder) if config.encoder is not None else default_encoder(ds.name, ds.max_time)
    steps = config.steps if config.steps is not None else ds.num_steps_hint
    n_cal = min(CALIBRATION_SAMPLES, len(ds))
    events = encode_dataset(ds, encoder, steps, seed=config.seed).select(np.arange(n_cal))
    alpha, beta = config.decay_factors
    # The same draw as `fxsnn train` makes with this seed (fxsnn.training.trainer.Trainer.initialise).
    drawn = initialise(
        ds.n_inputs, tuple(config.hidden), ds.n_classes, config.layer_specs(), ratio=config.ratio,
        rng=np.random.default_rng(config.seed), num_steps=steps, alpha=alpha, beta=beta,
        s1=config.initial_s1 if config.target_rate is None else None, target_rate=config.target_rate,
        events=events if config.target_rate is not None else None,
    )
    network = drawn.network
    counts = simulate(network, events).spike_counts
    rates = [
        population_rates_hz(c, layer.types, network.num_steps)["all"]
        for c, layer in zip(counts, network.hidden, strict=True)
    ]
    summary = {"initialisation": drawn.info, "epochs_run": 0, "initial_rates_hz": rates}
    model = Model(
        network=network,
        encoder=encoder,
        dataset=config.dataset,
        scales=drawn.scales,
        provenance=make_provenance(seed=config.seed, config=jsonable(config.to_dict()), training=summary),
    )
    path = save_model(model, args.out)
    return {
        "model": str(path),
        "dataset": config.dataset,
        "sizes": list(network.sizes),
        "s1": drawn.info["s1"],
        "target_rate_hz": config.target_rate,
        "initial_rates_hz": rates,
        "calibration_samples": n_cal,
        "scales": list(drawn.scales),
        "weight_shift": [layer.params.weight_shift for layer in network.layers],
        "threshold": [layer.params.threshold for layer in network.hidden],
    }


def render(result: dict) -> str:
    rates = ", ".join(f"{r:.1f}" for r in result["initial_rates_hz"])
    target = f" (target {result['target_rate_hz']} Hz)" if result["target_rate_hz"] is not None else ""
    return (
        f"wrote {result['model']}: {'-'.join(map(str, result['sizes']))} for {result['dataset']}, "
        f"s1 = {result['s1']:.4g}; initial hidden rate {rates} Hz on {result['calibration_samples']} "
        f"training samples{target}"
    )
