"""One training run: initialisation, epochs, evaluation, checkpoints and the model file."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .._arith import layer_constants
from .._files import atomic_write
from ..errors import FxsnnError
from ..network import Layer, Network, neuron_types
from ..quantize import float_decays, quantize_magnitudes, weight_lsb
from .data import TrainingData, load_training_data
from .kernels import Kernels, presynaptic_signs

__all__ = ["Trainer", "TrainingError", "train"]


class TrainingError(FxsnnError):
    """A training run cannot start or resume (the message says why and what to do)."""


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
        from ..init import LayerSpec

        self.config = config
        self.data = data
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.progress = progress
        self.sizes = (data.train_events.num_inputs, *config.hidden, data.n_classes)
        self.num_steps = data.train_events.num_steps
        self.alpha = math.exp(-1.0 / config.tau_syn)
        self.beta = math.exp(-1.0 / config.tau_mem)
        ranges = config.weight_ranges()
        self.specs = [
            LayerSpec(
                weight_range=ranges[k],
                weight_bits=config.weight_bits[k],
                weight_shift=None if config.weight_shift[k] == "auto" else config.weight_shift[k],
                state_bits=config.state_bits,
                decay_mode=config.decay_mode,
                frac_bits=config.frac_bits,
            )
            for k in range(len(self.sizes) - 1)
        ]
        self.layer_params = []
        self.scales = []
        for spec in self.specs:
            params, sigma = spec.build(self.alpha, self.beta)
            self.layer_params.append(params)
            self.scales.append(sigma)
        self.types = [neuron_types(h, config.ratio) for h in config.hidden] + [
            np.zeros(data.n_classes, dtype=np.int8)
        ]
        self.kernels = Kernels(self.sizes, self.num_steps, config.batch_size)
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
            sign = presynaptic_signs(self.types, k, n_in)
            self.sign_el[sl] = np.repeat(sign, n_out)
            self.lsb_el[sl] = weight_lsb(spec.weight_range, spec.weight_bits)
            self.max_el[sl] = params.weight_max
            self.mult_el[sl] = 1 << params.weight_shift
            self.inv_sigma_el[sl] = 1.0 / sigma
            self.range_el[sl] = spec.weight_range
        n = len(self.sizes) - 1
        if self.config.float_mode:
            self.consts = np.stack([layer_constants(p.replace(reset="zero")) for p in self.layer_params])
            self.a_f = np.full(n, self.alpha)
            self.b_f = np.full(n, self.beta)
            self.inv_sigma = np.ones(n)
            self.theta_f = np.ones(n)
        else:
            self.consts = np.stack([layer_constants(p) for p in self.layer_params])
            decays = [float_decays(p) for p in self.layer_params]
            self.a_f = np.array([d[0] for d in decays])
            self.b_f = np.array([d[1] for d in decays])
            self.inv_sigma = np.array([1.0 / s for s in self.scales])
            self.theta_f = np.array(
                [p.threshold / s for p, s in zip(self.layer_params, self.scales, strict=True)]
            )
        self.reset_zero = np.array([p.reset == "zero" for p in self.layer_params], dtype=np.bool_)

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
        """``(w_int, w_flt)``: integer weight terms and their float value (float mode: the shadow weights)."""
        if self.config.float_mode:
            return np.zeros(self.weights.size, np.int64), self.weights
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
        from ..init import calibrate_s1, paper_init

        cfg = self.config
        n_in, n_out = self.sizes[0], self.sizes[-1]
        if cfg.target_rate is not None:
            n_cal = min(256, self.data.train_events.n_samples)
            events = self.data.train_events.select(np.arange(n_cal))
            s1, rate, net = calibrate_s1(
                cfg.target_rate,
                events,
                hidden=tuple(cfg.hidden),
                n_outputs=n_out,
                ratio=cfg.ratio,
                specs=self.specs,
                rng=self.rng,
                beta=self.beta,
            )
            self.initial = {"s1": s1, "calibrated_rate_hz": rate, "target_rate_hz": cfg.target_rate}
        else:
            s1 = cfg.initial_s1
            net = paper_init(
                n_in, tuple(cfg.hidden), n_out, ratio=cfg.ratio, s1=s1, rng=self.rng, beta=self.beta
            )
            self.initial = {"s1": s1}
        self.weights = self._flat(net.weights)
        self.project()
        self.adam_m = np.zeros_like(self.weights)
        self.adam_v = np.zeros_like(self.weights)

    # ------------------------------------------------------------------ one step / epoch
    def _run(self, events, labels, batch, backward: bool, w_int, w_flt):
        self.kernels.run(
            batch,
            labels,
            events,
            w_int,
            w_flt,
            self.consts,
            self.a_f,
            self.b_f,
            self.inv_sigma,
            self.theta_f,
            self.reset_zero,
            self.config.float_mode,
            backward,
        )

    def gradient(self, batch) -> np.ndarray:
        """Gradient of the batch's mean loss with respect to the (effective) weights, flat."""
        w_int, w_flt = self.effective_weights()
        self._run(self.data.train_events, self.data.train_labels, batch, True, w_int, w_flt)
        return self.kernels.grad.sum(axis=0)

    def step(self, batch) -> tuple[float, int]:
        """One update on ``batch`` (int64 sample indices): returns (sum of losses, number correct)."""
        cfg = self.config
        grad = self.gradient(batch)
        n = batch.size
        loss = float(self.kernels.losses[:n].sum())
        correct = int((self.kernels.predictions[:n] == self.data.train_labels[batch]).sum())
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
        """Accuracy, mean loss and firing rates (Hz, per hidden layer, E and I) of the current weights."""
        w_int, w_flt = self.effective_weights()
        n = events.n_samples
        bs = self.config.batch_size
        correct, loss = 0, 0.0
        totals = np.zeros(self.kernels.counts.shape[1], np.int64)
        for lo in range(0, n, bs):
            batch = np.arange(lo, min(n, lo + bs), dtype=np.int64)
            self._run(events, labels, batch, False, w_int, w_flt)
            correct += int((self.kernels.predictions[: batch.size] == labels[batch]).sum())
            loss += float(self.kernels.losses[: batch.size].sum())
            totals += self.kernels.counts.sum(axis=0)
        return {"accuracy": correct / max(n, 1), "loss": loss / max(n, 1), "rates_hz": self._rates(totals, n)}

    def _rates(self, totals, n_samples) -> list:
        seconds = n_samples * self.num_steps / 1000.0
        out = []
        h = self.kernels.h_off
        for k in range(len(self.sizes) - 2):
            counts = totals[h[k] : h[k + 1]]
            types = self.types[k]
            rate = {}
            for name, code in (("E", 0), ("I", 1)):
                sel = counts[types == code]
                rate[name] = float(sel.sum() / (sel.size * seconds)) if sel.size and seconds else 0.0
            rate["all"] = float(counts.sum() / (counts.size * seconds)) if seconds else 0.0
            out.append(rate)
        return out

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
        from ..model import Model, make_provenance, save_model

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
                seed=self.config.seed, config=_jsonable(self.config.to_dict()), training=summary
            ),
        )
        return save_model(model, path)

    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.npz"

    def write_checkpoint(self):
        state = {
            "weights": self.weights,
            "adam_m": self.adam_m,
            "adam_v": self.adam_v,
            "adam_t": np.int64(self.adam_t),
            "epoch": np.int64(self.epoch),
            "best_accuracy": np.float64(self.best_accuracy),
            "best_epoch": np.int64(self.best_epoch),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "history": np.array(json.dumps(self.history)),
            "initial": np.array(json.dumps(self.initial)),
            "identity": np.array(json.dumps(_jsonable(self.config.run_identity()), sort_keys=True)),
        }
        _atomic_write(self.checkpoint_path(), lambda f: np.savez(f, **state))
        text = "".join(json.dumps(entry) + "\n" for entry in self.history)
        _atomic_write(self.out_dir / "history.jsonl", lambda f: f.write(text.encode()))

    def resume(self):
        path = self.checkpoint_path()
        if not path.exists():
            raise TrainingError(f"cannot resume: no checkpoint at {str(path)!r}; start without --resume")
        with np.load(path, allow_pickle=False) as ck:
            identity = json.loads(str(ck["identity"]))
            mine = _jsonable(self.config.run_identity())
            if identity != mine:
                diff = sorted(k for k in set(identity) | set(mine) if identity.get(k) != mine.get(k))
                raise TrainingError(
                    f"cannot resume {str(path)!r}: the config differs from the checkpointed run in {diff!r}"
                )
            self.weights = np.array(ck["weights"])
            self.adam_m = np.array(ck["adam_m"])
            self.adam_v = np.array(ck["adam_v"])
            self.adam_t = int(ck["adam_t"])
            self.epoch = int(ck["epoch"])
            self.best_accuracy = float(ck["best_accuracy"])
            self.best_epoch = int(ck["best_epoch"])
            self.rng.bit_generator.state = json.loads(str(ck["rng_state"]))
            self.history = json.loads(str(ck["history"]))
            self.initial = json.loads(str(ck["initial"]))

    # ------------------------------------------------------------------ the run
    def run(self, resume: bool = False) -> dict:
        """Train for ``config.epochs`` epochs (continuing a checkpoint when ``resume``); returns a summary."""
        from tqdm import tqdm

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


def _jsonable(data):
    return json.loads(json.dumps(data))


def _atomic_write(path: Path, write):
    """Write through ``write(file)`` to a temp file in the same folder, then rename over ``path``."""
    with atomic_write(path, "wb") as handle:
        write(handle)


def train(config, out_dir=None, *, data: TrainingData | None = None, progress: bool | None = None,
          resume: bool = False) -> dict:
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
    import numba

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
