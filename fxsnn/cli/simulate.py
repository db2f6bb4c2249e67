"""``fxsnn simulate MODEL --dataset NAME``: run a model file on a data set with the integer emulator.

Reports accuracy, the mean firing rate of each hidden layer's excitatory and inhibitory populations (Hz,
with one step = 1 ms as in docs/paper.md), input and synaptic events per sample, and throughput. ``--trace``
also writes the emulator's full trace (every neuron's spike, current and membrane at every step) to an
``.npz`` file.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .._files import atomic_write
from ..analysis import hidden_layer_rates
from ..errors import FxsnnError, UsageError
from ..model import load_model
from ..network import Network

__all__ = ["register", "run", "render", "write_trace"]

#: Refuse traces larger than this in memory (n_samples * T * neurons * 17 bytes); --limit makes them smaller.
MAX_TRACE_BYTES = 4 << 30


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run a model on a data set with the integer emulator (accuracy, firing rates, speed)",
        description="Run a .fxsnn model on a data set split with the bit-exact integer emulator and report "
        "accuracy, per-population firing rates (Hz, 1 step = 1 ms) and samples/s.",
    )
    add_run_arguments(parser)
    parser.add_argument("--trace", metavar="FILE.npz", help="also write every neuron's state at every step")
    parser.set_defaults(run=run, render=render)


def add_run_arguments(parser) -> None:
    """The arguments of a model run on a data set, shared by ``simulate`` and ``eval``."""
    parser.add_argument("model", metavar="MODEL", help="model file (.fxsnn)")
    parser.add_argument(
        "--dataset",
        metavar="NAME",
        help="digits, fmnist, mnist or shd (default: the data set recorded in the model file)",
    )
    parser.add_argument("--split", default="test", metavar="SPLIT", help="train or test (default: test)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N samples of the split")
    parser.add_argument("--data-dir", metavar="DIR", help="folder searched first for the data set's files")
    parser.add_argument("--threads", type=int, metavar="N", help="emulator threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a rate encoder (default: 0)")


def write_trace(path: Path, result, labels: np.ndarray, net: Network) -> None:
    """Write the emulator's trace and results as ``.npz`` atomically (temp file + rename).

    Arrays: ``spikes_<k>`` (uint8, (n, T, H_k)) per hidden layer; ``current_<k>``, ``membrane_<k>`` (int64,
    (n, T, N_k)) per layer, the readout last (its F and U); ``scores``, ``predictions``, ``labels``,
    ``input_events`` and ``spike_counts_<k>``. Nothing in it needs pickle to load.
    """
    arrays = {
        "scores": result.scores,
        "predictions": result.predictions,
        "labels": labels,
        "input_events": result.input_events,
        "num_steps": np.int64(net.num_steps),
        "sizes": np.asarray(net.sizes, dtype=np.int64),
    }
    for k, counts in enumerate(result.spike_counts):
        arrays[f"spike_counts_{k}"] = counts
    for k, spikes in enumerate(result.trace.spikes):
        arrays[f"spikes_{k}"] = spikes
    for k, (current, membrane) in enumerate(zip(result.trace.current, result.trace.membrane, strict=True)):
        arrays[f"current_{k}"] = current
        arrays[f"membrane_{k}"] = membrane
    try:
        with atomic_write(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    except OSError as exc:
        raise FxsnnError(f"cannot write trace {str(path)!r}: {exc.strerror or exc}") from exc


def _check_args(args) -> None:
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be a positive number of samples, not {args.limit!r}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, not {args.threads!r}")
    if args.trace is not None:
        trace = Path(args.trace)
        if trace.suffix != ".npz":
            raise UsageError(f"--trace file {args.trace!r} must end in .npz")
        parent = trace.parent if str(trace.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"--trace: directory {str(parent)!r} does not exist")


def run(args, model=None) -> dict:
    """Run ``args.model`` (or the already loaded ``model`` of that file) on the data set; see module doc."""
    from .. import datasets
    from ..emulator import simulate

    _check_args(args)
    if model is None:
        model = load_model(args.model)
    net = model.network
    name = args.dataset or model.dataset
    if name is None:
        choices = ", ".join(datasets.DATASETS)
        raise UsageError(f"model {args.model!r} records no data set; pass --dataset ({choices})")
    if name not in datasets.DATASETS:
        raise UsageError(f"unknown data set {name!r}; choose one of {', '.join(datasets.DATASETS)}")
    if args.split not in datasets.SPLITS:
        raise UsageError(f"unknown split {args.split!r}; choose one of {', '.join(datasets.SPLITS)}")

    progress = False if args.json else None
    ds = datasets.load_dataset(name, args.split, data_dir=args.data_dir, progress=progress)
    if ds.n_inputs != net.n_inputs:
        raise FxsnnError(
            f"model {args.model!r} has {net.n_inputs} inputs but data set {name!r} has {ds.n_inputs}; "
            "use the data set the model was made for"
            + (f" ({model.dataset})" if model.dataset and model.dataset != name else "")
        )
    if ds.n_classes > net.n_outputs:
        raise FxsnnError(
            f"model {args.model!r} has {net.n_outputs} outputs but data set {name!r} has "
            f"{ds.n_classes} classes"
        )
    events = datasets.encode_dataset(ds, model.encoder, net.num_steps, seed=args.seed)
    labels = np.asarray(ds.labels, dtype=np.int64)
    if args.limit is not None and args.limit < events.n_samples:
        events = events.select(slice(0, args.limit))
        labels = labels[: args.limit]
    n_samples = events.n_samples
    if n_samples == 0:
        raise FxsnnError(f"data set {name!r} split {args.split!r} has no samples")

    if args.trace is not None:
        neurons = sum(layer.n_out for layer in net.layers)
        need = n_samples * net.num_steps * neurons * 17
        if need > MAX_TRACE_BYTES:
            raise UsageError(
                f"a trace of {n_samples} samples x {net.num_steps} steps x {neurons} neurons needs "
                f"{need / 2**30:.1f} GiB of memory (limit {MAX_TRACE_BYTES / 2**30:.0f} GiB); use --limit"
            )

    import numba

    threads = args.threads if args.threads is not None else numba.get_num_threads()
    if threads > numba.config.NUMBA_NUM_THREADS:
        raise UsageError(f"--threads {threads} is more than the {numba.config.NUMBA_NUM_THREADS} available")
    # Compile (or load from numba's cache) outside the timed run, so samples/s measures simulation only.
    simulate(net, events.select(slice(0, 1)), trace=args.trace is not None, threads=threads)
    start = time.perf_counter()
    result = simulate(net, events, trace=args.trace is not None, threads=threads, progress=not args.json)
    seconds = time.perf_counter() - start

    trace_path = None
    if args.trace is not None:
        trace_path = Path(args.trace)
        write_trace(trace_path, result, labels, net)

    correct = int(np.count_nonzero(result.predictions == labels))
    synaptic = result.synaptic_events(net)
    return {
        "model": str(args.model),
        "dataset": name,
        "split": args.split,
        "encoder": model.encoder,
        "num_steps": net.num_steps,
        "samples": n_samples,
        "correct": correct,
        "accuracy": correct / n_samples,
        "firing_rates_hz": hidden_layer_rates(net, result.spike_counts),
        "input_events_per_sample": float(result.input_events.mean()),
        "synaptic_events_per_sample": float(synaptic.mean()),
        "threads": threads,
        "seconds": seconds,
        "samples_per_s": n_samples / seconds if seconds > 0 else None,
        "trace": str(trace_path) if trace_path is not None else None,
    }


def _hz(value) -> str:
    return "-" if value is None else f"{value:.2f} Hz"


def render(result: dict) -> str:
    lines = [
        f"model      {result['model']}",
        f"data       {result['dataset']} ({result['split']}), {result['samples']} samples, "
        f"T = {result['num_steps']}, encoder {result['encoder']['kind']}",
        f"accuracy   {result['accuracy'] * 100:.2f} % ({result['correct']} / {result['samples']})",
    ]
    for row in result["firing_rates_hz"]:
        lines.append(
            f"layer {row['layer']}    E ({row['n_excitatory']}) {_hz(row['excitatory_hz'])}, "
            f"I ({row['n_inhibitory']}) {_hz(row['inhibitory_hz'])}, all {_hz(row['all_hz'])}"
        )
    speed = "-" if result["samples_per_s"] is None else f"{result['samples_per_s']:,.0f} samples/s"
    lines.append(
        f"events     {result['input_events_per_sample']:.1f} input, "
        f"{result['synaptic_events_per_sample']:.1f} synaptic per sample"
    )
    lines.append(f"speed      {speed} ({result['seconds']:.3f} s, {result['threads']} thread(s))")
    if result["trace"]:
        lines.append(f"trace      {result['trace']}")
    return "\n".join(lines)
