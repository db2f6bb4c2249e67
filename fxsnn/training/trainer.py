"""One training run: initialisation, epochs, evaluation, the optimiser and the model files.

:func:`train` is the entry point (``fxsnn train`` and the sweep runner call it); :class:`Trainer` holds the
run's state: float shadow weights (flat, layer after layer, each ``(n_in, n_out)`` row-major), the optimiser
state, the random generator and the history. Every batch, the shadow weights are quantised to the integer
network's weight terms (straight-through), run forward and backward by :mod:`fxsnn.training.kernels`, updated
(SGD or Adam), projected onto Dale's law, and optionally perturbed by the paper's update noise.
"""

from __future__ import annotations

import time
from pathlib import Path

import numba
import numpy as np
from tqdm import tqdm

from .._arith import float_layer_constants, layer_constants
from ..analysis import population_rates_from_totals
from ..init import initialise
from ..model import Model, make_provenance, save_model
from ..network import Layer, Network, neuron_types, presynaptic_signs
from ..quantize import float_decays, quantize_magnitudes, weight_lsb
from .checkpoint import TrainingError, jsonable, read_checkpoint, write_checkpoint
from .data import TrainingData, load_training_data
from .kernels import FloatLayers, Kernels

__all__ = ["Trainer", "TrainingError", "train", "CALIBRATION_SAMPLES"]

#: Training samples the initial firing rate is calibrated on (``target_rate``).
CALIBRATION_SAMPLES = 256


class Trainer:
    """One training run: initialisation, epochs, evaluation, checkpoints and the model file.

    Parameters
    ----------
    config : fxsnn.training.config.TrainConfig
    data : TrainingData
    out_dir : path-like or None
        Checkpoint, ``history.jsonl``, ``model.fxsnn`` (best test accuracy) and ``last.fxsnn``. None: nothing
        is written (tests).
    progress : bool or None
        tqdm bar on stderr (None: only when stderr is a terminal).
    """

    def __init__(self, config, data: TrainingData, out_dir=None, progress: bool | None = None):
        self.config = config
        self.data = data
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.progress = progress
        self.sizes = (data.train_events.num_inputs, *config.hidden, data.n_classes)
        self.num_steps = data.train_events.num_steps
        self.alpha, self.beta = config.decay_factors
        self.specs = config.layer_specs()
        self.layer_params = []
        self.scales = []
        for spec in self.specs:
            params, sigma = spec.build(self.alpha, self.beta)
            self.layer_params.append(params)
            self.scales.append(sigma)
        self.types = [neuron_types(h, config.ratio) for h in config.hidden] + [
            np.zeros(data.n_classes, dtype=np.int8)
        ]
        self.kernels = Kernels(self.sizes, self.num_steps, config.batch_size, float_mode=config.float_mode)
        self._prepare_constants()
        self.rng = np.random.default_rng(config.seed)
        self.weights = None  # flat float64 shadow weights
        self.adam_m = None
        self.adam_v = None
        self.adam_t = 0
        self.epoch = 0
        self.history: list = []
        self.best_accuracy = -1.0
        self.best_epoch = -1
        self.initial = {}

    # ------------------------------------------------------------------ constants
    def _prepare_constants(self):
        """Per weight (flat): sign, LSB, largest magnitude, ``2**shift``, ``1 / sigma`` and range; per layer:
        the kernels' constants and the float relaxation."""
        k_off = self.kernels.w_off
        n_w = int(k_off[-1])
        self.sign_el = np.empty(n_w)
        self.lsb_el = np.empty(n_w)
        self.max_el = np.empty(n_w)
        self.mult_el = np.empty(n_w, dtype=np.int64)
        self.inv_sigma_el = np.empty(n_w)
        self.range_el = np.empty(n_w)
        for k, (spec, params, sigma) in enumerate(
            zip(self.specs, self.layer_params, self.scales, strict=True)
        ):
            sl = slice(int(k_off[k]), int(k_off[k + 1]))
            n_in, n_out = self.sizes[k], self.sizes[k + 1]
            pre = np.zeros(n_in, np.int8) if k == 0 else self.types[k - 1]  # network inputs are excitatory
            self.sign_el[sl] = np.repeat(presynaptic_signs(pre), n_out)
            self.lsb_el[sl] = weight_lsb(spec.weight_range, spec.weight_bits)
            self.max_el[sl] = params.weight_max
            self.mult_el[sl] = 1 << params.weight_shift
            self.inv_sigma_el[sl] = 1.0 / sigma
            self.range_el[sl] = spec.weight_range
        n = len(self.sizes) - 1
        reset_zero = np.array([p.reset == "zero" for p in self.layer_params], dtype=np.bool_)
        if self.config.float_mode:
            self.consts = float_layer_constants(self.alpha, self.beta, n)
            self.float_layers = FloatLayers(
                np.full(n, self.alpha), np.full(n, self.beta), np.ones(n), reset_zero, np.ones(n)
            )
        else:
            self.consts = layer_constants(*self.layer_params)
            decays = [float_decays(p) for p in self.layer_params]
            self.float_layers = FloatLayers(
                np.array([d[0] for d in decays]),
                np.array([d[1] for d in decays]),
                np.array([p.threshold / s for p, s in zip(self.layer_params, self.scales, strict=True)]),
                reset_zero,
                np.array([1.0 / s for s in self.scales]),
            )

    # ------------------------------------------------------------------ weights
    def _flat(self, layers) -> np.ndarray:
        return np.concatenate([np.asarray(w, dtype=np.float64).ravel() for w in layers])

    def layer_weights(self, flat=None) -> list:
        flat = self.weights if flat is None else flat
        off = self.kernels.w_off
        return [
            flat[off[k] : off[k + 1]].reshape(self.sizes[k], self.sizes[k + 1])
            for k in range(len(self.sizes) - 1)
        ]

    def project(self):
        """Dale's law (the paper's projection: a weight crossing zero is clamped to 0); integer mode also
        keeps the shadow weights inside the representable range (straight-through clipping)."""
        w = self.weights
        np.multiply(w, self.sign_el, out=w)
        np.maximum(w, 0.0, out=w)
        if not self.config.float_mode:
            np.minimum(w, self.range_el, out=w)
        np.multiply(w, self.sign_el, out=w)

    def effective_weights(self):
        """``(w_run, w_flt)``: the weights the forward pass computes with (integer weight terms; float mode:
        the shadow weights) and their float value, which the backward pass differentiates through."""
        if self.config.float_mode:
            return self.weights, self.weights
        magnitude = np.minimum(np.rint(np.abs(self.weights) / self.lsb_el), self.max_el).astype(np.int64)
        w_int = (magnitude * self.mult_el) * self.sign_el.astype(np.int64)
        return w_int, w_int * self.inv_sigma_el

    def network(self, flat=None) -> Network:
        """The integer network of the shadow weights (float mode: their quantisation with the layer specs)."""
        flat = self.weights if flat is None else flat
        layers = []
        for k, w in enumerate(self.layer_weights(flat)):
            spec = self.specs[k]
            mags = quantize_magnitudes(w, weight_lsb(spec.weight_range, spec.weight_bits), spec.weight_bits)
            layers.append(Layer(self.layer_params[k], mags, self.types[k]))
        return Network(tuple(layers), self.num_steps)

    # ------------------------------------------------------------------ initialisation
    def initialise(self):
        """Draw the initial weights (:func:`fxsnn.init.initialise`, as ``fxsnn init`` does with the seed)."""
        cfg = self.config
        n_cal = min(CALIBRATION_SAMPLES, self.data.train_events.n_samples)
        drawn = initialise(
            self.sizes[0],
            tuple(cfg.hidden),
            self.sizes[-1],
            self.specs,
            ratio=cfg.ratio,
            rng=self.rng,
            num_steps=self.num_steps,
            alpha=self.alpha,
            beta=self.beta,
            s1=cfg.initial_s1 if cfg.target_rate is None else None,
            target_rate=cfg.target_rate,
            events=self.data.train_events.select(np.arange(n_cal)) if cfg.target_rate is not None else None,
        )
        self.initial = drawn.info
        self.weights = self._flat(drawn.float_network.weights)
        self.project()
        self.adam_m = np.zeros_like(self.weights)
        self.adam_v = np.zeros_like(self.weights)

    # ------------------------------------------------------------------ one step / epoch
    def _run(self, events, labels, batch, backward: bool, w_run, w_flt):
        self.kernels.run(batch, labels, events, w_run, w_flt, self.consts, self.float_layers, backward)

    def gradient(self, batch) -> np.ndarray:
        """Gradient of the batch's mean loss with respect to the (effective) weights, flat."""
        w_run, w_flt = self.effective_weights()
        self._run(self.data.train_events, self.data.train_labels, batch, True, w_run, w_flt)
        return self.kernels.buffers.grad.sum(axis=0)

    def step(self, batch) -> tuple[float, int]:
        """One update on ``batch`` (int64 sample indices): returns (sum of losses, number correct)."""
        cfg = self.config
        grad = self.gradient(batch)
        n = batch.size
        buffers = self.kernels.buffers
        loss = float(buffers.losses[:n].sum())
        correct = int((buffers.predictions[:n] == self.data.train_labels[batch]).sum())
        if cfg.optimizer == "sgd":
            self.weights -= cfg.lr * grad
        else:
            self.adam_t += 1
            b1, b2, eps = 0.9, 0.999, 1e-8
            self.adam_m *= b1
            self.adam_m += (1 - b1) * grad
            self.adam_v *= b2
            self.adam_v += (1 - b2) * grad * grad
            m_hat = self.adam_m / (1 - b1**self.adam_t)
            v_hat = self.adam_v / (1 - b2**self.adam_t)
            self.weights -= cfg.lr * m_hat / (np.sqrt(v_hat) + eps)
        self.project()
        if cfg.noise > 0 or cfg.noise_lsb > 0:
            noise = self.rng.standard_normal(self.weights.size)
            self.weights += noise * (cfg.noise + cfg.noise_lsb * self.lsb_el)
            self.project()
        return loss, correct

    def evaluate(self, events, labels) -> dict:
        """Accuracy, mean loss and firing rates (Hz; per hidden layer: all, E, I) of the current weights."""
        w_run, w_flt = self.effective_weights()
        buffers = self.kernels.buffers
        n = events.n_samples
        bs = self.config.batch_size
        correct, loss = 0, 0.0
        totals = np.zeros(buffers.counts.shape[1], np.int64)
        for lo in range(0, n, bs):
            batch = np.arange(lo, min(n, lo + bs), dtype=np.int64)
            self._run(events, labels, batch, False, w_run, w_flt)
            correct += int((buffers.predictions[: batch.size] == labels[batch]).sum())
            loss += float(buffers.losses[: batch.size].sum())
            totals += buffers.counts.sum(axis=0)
        h = self.kernels.h_off
        rates = [
            population_rates_from_totals(totals[h[k] : h[k + 1]], n, self.types[k], self.num_steps)
            for k in range(len(self.sizes) - 2)
        ]
        return {"accuracy": correct / max(n, 1), "loss": loss / max(n, 1), "rates_hz": rates}

    def train_epoch(self, bar=None) -> dict:
        n = self.data.train_events.n_samples
        order = self.rng.permutation(n).astype(np.int64)
        bs = self.config.batch_size
        loss_sum, correct, seen = 0.0, 0, 0
        for lo in range(0, n, bs):
            batch = order[lo : lo + bs]
            loss, good = self.step(batch)
            loss_sum += loss
            correct += good
            seen += batch.size
            if bar is not None:
                bar.update(batch.size)
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
        return {"loss": loss_sum / max(seen, 1), "train_accuracy": correct / max(seen, 1)}

    # ------------------------------------------------------------------ files
    def _log(self, epoch: int, train: dict | None, test: dict, seconds: float):
        entry = {"epoch": epoch}
        if train is not None:
            entry.update(train)
        entry.update(
            {
                "test_accuracy": test["accuracy"],
                "test_loss": test["loss"],
                "rate_e_hz": test["rates_hz"][0]["E"],
                "rate_i_hz": test["rates_hz"][0]["I"],
                "rates_hz": test["rates_hz"],
                "seconds": round(seconds, 3),
            }
        )
        self.history.append(entry)
        if test["accuracy"] > self.best_accuracy:
            self.best_accuracy = test["accuracy"]
            self.best_epoch = epoch
            if self.out_dir is not None:
                self.save_model(self.out_dir / "model.fxsnn")
        return entry

    def save_model(self, path, summary: dict | None = None):
        """Write the integer network of the current weights as a model file (``summary``: provenance)."""
        summary = (
            summary
            if summary is not None
            else {
                "epochs_run": self.epoch,
                "best_epoch": self.best_epoch,
                "best_test_accuracy": self.best_accuracy,
                "float_mode": self.config.float_mode,
                "initial": self.initial,
                "note": (
                    "float-mode run: this integer model is the post-training quantisation of the float "
                    "weights"
                    if self.config.float_mode
                    else "weights trained on the integer forward pass"
                ),
            }
        )
        model = Model(
            network=self.network(),
            encoder=dict(self.data.encoder),
            dataset=self.data.name,
            scales=tuple(self.scales),
            provenance=make_provenance(
                seed=self.config.seed, config=jsonable(self.config.to_dict()), training=summary
            ),
        )
        return save_model(model, path)

    def write_checkpoint(self):
        state = {
            "weights": self.weights,
            "adam_m": self.adam_m,
            "adam_v": self.adam_v,
            "adam_t": self.adam_t,
            "epoch": self.epoch,
            "best_accuracy": self.best_accuracy,
            "best_epoch": self.best_epoch,
            "rng_state": self.rng.bit_generator.state,
            "history": self.history,
            "initial": self.initial,
        }
        write_checkpoint(self.out_dir, state, self.config.run_identity())

    def resume(self):
        state = read_checkpoint(self.out_dir, self.config.run_identity())
        self.weights, self.adam_m, self.adam_v = state["weights"], state["adam_m"], state["adam_v"]
        self.adam_t, self.epoch = state["adam_t"], state["epoch"]
        self.best_accuracy, self.best_epoch = state["best_accuracy"], state["best_epoch"]
        self.rng.bit_generator.state = state["rng_state"]
        self.history, self.initial = state["history"], state["initial"]

    # ------------------------------------------------------------------ the run
    def run(self, resume: bool = False) -> dict:
        """Train for ``config.epochs`` epochs (continuing a checkpoint when ``resume``); returns a summary."""
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.resume()
        else:
            self.initialise()
            t0 = time.perf_counter()
            test = self.evaluate(self.data.test_events, self.data.test_labels)
            self._log(0, None, test, time.perf_counter() - t0)
            if self.out_dir is not None:
                self.write_checkpoint()
        n = self.data.train_events.n_samples
        total = max(0, self.config.epochs - self.epoch) * n
        with tqdm(
            total=total,
            unit="sample",
            disable=not self.progress if self.progress is not None else None,
            desc="training",
            dynamic_ncols=True,
            leave=False,
        ) as bar:
            while self.epoch < self.config.epochs:
                t0 = time.perf_counter()
                train = self.train_epoch(bar)
                train_seconds = time.perf_counter() - t0
                self.epoch += 1
                test = self.evaluate(self.data.test_events, self.data.test_labels)
                entry = self._log(self.epoch, train, test, time.perf_counter() - t0)
                entry["train_seconds"] = round(train_seconds, 3)
                bar.set_description(f"epoch {self.epoch} test {test['accuracy']:.3f}")
                if self.out_dir is not None:
                    self.write_checkpoint()
        if self.out_dir is not None:
            self.save_model(self.out_dir / "last.fxsnn")
        last = self.history[-1]
        return {
            "epochs": self.epoch,
            "best_epoch": self.best_epoch,
            "best_test_accuracy": self.best_accuracy,
            "last_test_accuracy": last["test_accuracy"],
            "initial_rate_e_hz": self.history[0]["rate_e_hz"],
            "initial_rate_i_hz": self.history[0]["rate_i_hz"],
            "initial": self.initial,
            "float_mode": self.config.float_mode,
        }


def train(
    config,
    out_dir=None,
    *,
    data: TrainingData | None = None,
    progress: bool | None = None,
    resume: bool = False,
) -> dict:
    """Train one network as ``fxsnn train`` does and return the run's summary (what ``--json`` prints).

    Parameters
    ----------
    config : fxsnn.training.config.TrainConfig
    out_dir : path-like or None
        The run folder (model files, history, checkpoint); None writes nothing.
    data : TrainingData or None
        Already encoded data (a sweep worker reuses it across runs); None loads ``config``'s data set.
    progress : bool or None
        tqdm bar on stderr (None: only when stderr is a terminal).
    resume : bool
        Continue the checkpoint in ``out_dir``.
    """
    if config.threads is not None:
        numba.set_num_threads(min(config.threads, numba.config.NUMBA_NUM_THREADS))
    t0 = time.perf_counter()
    if data is None:
        data = load_training_data(config)
    load_seconds = time.perf_counter() - t0
    trainer = Trainer(config, data, out_dir, progress=progress)
    summary = trainer.run(resume=resume)
    out = None if out_dir is None else str(out_dir)
    summary.update(
        {
            "model": None if out is None else f"{out}/model.fxsnn",
            "last_model": None if out is None else f"{out}/last.fxsnn",
            "history": None if out is None else f"{out}/history.jsonl",
            "dataset": config.dataset,
            "sizes": list(trainer.sizes),
            "train_samples": data.train_events.n_samples,
            "test_samples": data.test_events.n_samples,
            "data_seconds": round(load_seconds, 2),
            "seconds": round(time.perf_counter() - t0, 2),
        }
    )
    return summary
