"""Training kernels: surrogate gradients, Dale's law, determinism, resume, and forward == emulator."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from fxsnn.encode import EventBatch
from fxsnn.training import SURROGATE_SCALE, Trainer, TrainingData
from fxsnn.training.config import TrainConfig


def _random_data(rng, n_in=6, n_classes=3, n_train=40, n_test=16, steps=14, p=0.15):
    def batch(n):
        return EventBatch.from_dense((rng.random((n, steps, n_in)) < p).astype(np.uint8))

    return TrainingData(
        "digits",
        {"kind": "latency", "tau": 20.0, "threshold": 0.2},
        batch(n_train),
        rng.integers(0, n_classes, n_train).astype(np.int64),
        batch(n_test),
        rng.integers(0, n_classes, n_test).astype(np.int64),
        n_classes,
    )


def _relaxed_loss(trainer, flat, sample, base_v, base_s, best_t):
    """Independent numpy rendering of the float relaxation for one sample, for finite differences.

    Spikes are ``H(v0 - theta) + (g(v) - g(v0))`` with ``g(v) = (v - theta) / (1 + 100 |v - theta|)``, whose
    derivative is the surrogate and whose value at the base point is the real spike; the reset factor and the
    argmax steps are those of the base run (not differentiated, as the paper).
    """
    events = trainer.data.train_events
    steps, idx = events.sample(sample)
    T = events.num_steps
    weights = trainer.layer_weights(flat)
    n_hidden = len(weights) - 1
    x = np.zeros((T, weights[0].shape[0]))
    x[steps, idx] = 1.0
    a, b, theta = trainer.float_layers.a, trainer.float_layers.b, trainer.float_layers.theta
    inputs = x
    for ly in range(n_hidden):
        w = weights[ly]
        i = np.zeros(w.shape[1])
        v = np.zeros(w.shape[1])
        out = np.zeros((T, w.shape[1]))
        for t in range(T):

            def g(u, th=theta[ly]):
                return (u - th) / (1.0 + SURROGATE_SCALE * np.abs(u - th))

            v0 = base_v[ly][t]
            s = base_s[ly][t] + g(v) - g(v0)
            out[t] = s
            keep = 1.0 - base_s[ly][t]
            i, v = a[ly] * i + inputs[t] @ w, (b[ly] * v + i) * keep
        inputs = out
    w = weights[-1]
    f = np.zeros(w.shape[1])
    u = np.zeros(w.shape[1])
    us = [u.copy()]
    for t in range(T):
        f, u = a[-1] * f + inputs[t] @ w, b[-1] * u + f
        us.append(u.copy())
    us = np.array(us)
    scores = us[best_t, np.arange(w.shape[1])]
    label = trainer.data.train_labels[sample]
    m = scores.max()
    return math.log(np.exp(scores - m).sum()) + m - scores[label]


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    data = _random_data(rng, n_in=5, n_classes=3, n_train=4, steps=12, p=0.3)
    cfg = TrainConfig(
        dataset="digits", hidden=[4, 3], ratio=0.5, float_mode=True, s1=0.6, batch_size=1, epochs=1, seed=1
    )
    trainer = Trainer(cfg, data)
    trainer.initialise()
    trainer.weights += rng.normal(0, 0.3, trainer.weights.size) * trainer.sign_el
    trainer.project()
    checked = 0
    for sample in range(4):
        batch = np.array([sample], dtype=np.int64)
        grad = trainer.gradient(batch)
        kern = trainer.kernels
        bufs = kern.buffers
        c = 0  # one sample -> it lands in the last chunk; find it
        c = int(
            np.flatnonzero(
                [(k * 1) // kern.n_chunks != ((k + 1) * 1) // kern.n_chunks for k in range(kern.n_chunks)]
            )[0]
        )
        h = kern.h_off
        base_v = [bufs.v_rec[c][:, h[ly] : h[ly + 1]].copy() for ly in range(2)]
        base_s = [bufs.s_rec[c][:, h[ly] : h[ly + 1]].astype(float) for ly in range(2)]
        best_t = bufs.best_t[c].copy()
        base = _relaxed_loss(trainer, trainer.weights, sample, base_v, base_s, best_t)
        assert base == pytest.approx(float(bufs.losses[0]), rel=1e-9, abs=1e-12)
        eps = 1e-6
        for q in rng.choice(trainer.weights.size, 40, replace=False):
            plus = trainer.weights.copy()
            plus[q] += eps
            minus = trainer.weights.copy()
            minus[q] -= eps
            fd = (
                _relaxed_loss(trainer, plus, sample, base_v, base_s, best_t)
                - _relaxed_loss(trainer, minus, sample, base_v, base_s, best_t)
            ) / (2 * eps)
            assert grad[q] == pytest.approx(fd, rel=1e-4, abs=1e-8), (sample, q)
            checked += abs(fd) > 1e-6
    assert checked > 20  # the check saw real gradients, not just zeros


def _tiny_trainer(seed=0, **changes):
    rng = np.random.default_rng(100 + seed)
    data = _random_data(rng, n_in=8, n_classes=3, n_train=48, n_test=16, steps=16, p=0.2)
    settings = dict(
        dataset="digits",
        hidden=[6],
        ratio=0.5,
        s1=0.2,
        batch_size=8,
        epochs=2,
        seed=seed,
        weight_range=[0.5, 1.0],
        lr=0.05,
    )
    settings.update(changes)
    return Trainer(TrainConfig(**settings), data)


def _integer_forward(trainer, events, labels):
    """The training kernel's forward pass over every sample of ``events``, scores in integer units (the
    readout's inv_sigma set to 1): ``(predictions, scores, spike counts per hidden layer, summed)``."""
    w_run, w_flt = trainer.effective_weights()
    units = trainer.float_layers._replace(inv_sigma=np.ones(len(trainer.sizes) - 1))
    kern, bufs = trainer.kernels, trainer.kernels.buffers
    n, bs = events.n_samples, bufs.losses.size
    predictions = np.zeros(n, np.int64)
    scores = np.zeros((n, trainer.sizes[-1]), np.int64)
    totals = np.zeros(bufs.counts.shape[1], np.int64)
    for lo in range(0, n, bs):
        batch = np.arange(lo, min(n, lo + bs), dtype=np.int64)
        kern.run(batch, labels, events, w_run, w_flt, trainer.consts, units, backward=False)
        predictions[batch] = bufs.predictions[: batch.size]
        scores[batch] = bufs.scores[: batch.size].astype(np.int64)
        totals += bufs.counts.sum(axis=0)
    h = kern.h_off
    return predictions, scores, [totals[h[k] : h[k + 1]] for k in range(len(trainer.sizes) - 2)]


@pytest.mark.parametrize("decay_mode", ["multiply", "shift"])
def test_training_forward_equals_emulator(decay_mode):
    from fxsnn.emulator import simulate

    rng = np.random.default_rng(7)
    data = _random_data(rng, n_in=9, n_classes=4, n_train=12, n_test=4, steps=20, p=0.25)
    cfg = TrainConfig(
        dataset="digits",
        hidden=[7, 5],
        ratio=0.6,
        s1=0.3,
        decay_mode=decay_mode,
        weight_bits=[5, 4, 6],
        state_bits=12,
        weight_range=[0.6, 1.5, 2.0],
        batch_size=5,
    )
    trainer = Trainer(cfg, data)
    trainer.initialise()
    trainer.weights *= 3.0  # busy enough to saturate the 12-bit state now and then
    trainer.project()
    net = trainer.network()
    predictions, scores, counts = _integer_forward(trainer, data.train_events, data.train_labels)
    result = simulate(net, data.train_events)
    np.testing.assert_array_equal(scores, result.scores)
    np.testing.assert_array_equal(predictions, result.predictions)
    for k in range(2):
        np.testing.assert_array_equal(counts[k], result.spike_counts[k].sum(axis=0))
    assert sum(c.sum() for c in counts) > 0
    # the training kernel itself (the one with the backward pass) predicts the same
    batch = np.arange(5, dtype=np.int64)
    trainer.gradient(batch)
    np.testing.assert_array_equal(trainer.kernels.buffers.predictions[:5], result.predictions[:5])
    np.testing.assert_allclose(
        trainer.kernels.buffers.scores[:5] * trainer.scales[-1], result.scores[:5], rtol=1e-12
    )


def _check_dale(trainer):
    for k, w in enumerate(trainer.layer_weights()):
        if k == 0:
            assert (w >= 0).all()
        else:
            pre = trainer.types[k - 1]
            assert (w[pre == 0] >= 0).all() and (w[pre == 1] <= 0).all()
    trainer.network()  # magnitudes in range, signs by construction


@pytest.mark.parametrize("float_mode", [False, True])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_dale_law_after_every_step_with_noise(float_mode, optimizer):
    trainer = _tiny_trainer(
        seed=3, float_mode=float_mode, optimizer=optimizer, noise=0.05, noise_lsb=2.0, lr=0.5
    )
    trainer.initialise()
    n = trainer.data.train_events.n_samples
    rng = np.random.default_rng(0)
    for _ in range(25):
        trainer.step(rng.choice(n, 8, replace=False).astype(np.int64))
        _check_dale(trainer)
    # the noise really pushed weights across zero, so the projection had work to do
    assert (trainer.weights == 0).mean() > 0.05


def test_same_seed_same_integer_weights_for_any_thread_count():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 2):
            numba.set_num_threads(threads)
            trainer = _tiny_trainer(seed=5, noise=0.01)
            trainer.run()
            net = trainer.network()
            results.append(([layer.weights.copy() for layer in net.layers], trainer.weights.copy()))
    finally:
        numba.set_num_threads(before)
    for weights, shadow in results[1:]:
        for a, b in zip(weights, results[0][0], strict=True):
            np.testing.assert_array_equal(a, b)
        assert np.array_equal(shadow, results[0][1])  # bit for bit, not just close
    other = _tiny_trainer(seed=6, noise=0.01)
    other.run()
    assert not np.array_equal(other.weights, results[0][1])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_equals_uninterrupted(tmp_path, optimizer):
    whole = _tiny_trainer(seed=2, epochs=3, optimizer=optimizer, noise=0.01)
    whole.out_dir = tmp_path / "whole"
    whole.run()
    part = _tiny_trainer(seed=2, epochs=1, optimizer=optimizer, noise=0.01)
    part.out_dir = tmp_path / "part"
    part.run()
    resumed = _tiny_trainer(seed=2, epochs=3, optimizer=optimizer, noise=0.01)
    resumed.out_dir = tmp_path / "part"
    resumed.run(resume=True)
    assert np.array_equal(resumed.weights, whole.weights)
    strip = [{k: v for k, v in h.items() if "seconds" not in k} for h in whole.history]
    assert [{k: v for k, v in h.items() if "seconds" not in k} for h in resumed.history] == strip
    lines = (tmp_path / "part" / "history.jsonl").read_text().splitlines()
    assert len(lines) == 4  # epoch 0 (initial network) + 3 epochs
    from fxsnn.model import load_model

    best = load_model(tmp_path / "part" / "model.fxsnn")
    assert best.provenance["training"]["best_test_accuracy"] == max(h["test_accuracy"] for h in whole.history)


def test_resume_refuses_a_different_config(tmp_path):
    from fxsnn.training import TrainingError

    first = _tiny_trainer(seed=2, epochs=1)
    first.out_dir = tmp_path
    first.run()
    changed = _tiny_trainer(seed=2, epochs=2, lr=0.1)
    changed.out_dir = tmp_path
    with pytest.raises(TrainingError, match="lr"):
        changed.run(resume=True)


def test_training_learns_a_separable_task():
    """Class c drives inputs 3c..3c+2 harder: the integer network must learn it well above chance."""
    rng = np.random.default_rng(11)

    def split(n):
        labels = rng.integers(0, 3, n).astype(np.int64)
        p = np.full((n, 16, 9), 0.05)
        for b, c in enumerate(labels):
            p[b, :, 3 * c : 3 * c + 3] = 0.4
        return EventBatch.from_dense((rng.random(p.shape) < p).astype(np.uint8)), labels

    train, test = split(96), split(48)
    data = TrainingData("digits", {"kind": "latency", "tau": 20.0, "threshold": 0.2}, *train, *test, 3)
    cfg = TrainConfig(
        dataset="digits",
        hidden=[12],
        ratio=0.75,
        s1=0.1,
        batch_size=16,
        epochs=8,
        seed=0,
        optimizer="adam",
        lr=0.02,
        weight_range=[0.5, 1.0],
    )
    trainer = Trainer(cfg, data)
    trainer.run()
    losses = [h["loss"] for h in trainer.history[1:]]
    assert losses[-1] < 0.7 * losses[0]
    assert trainer.best_accuracy >= 0.8


def test_cli_init_train_eval_agree(tmp_path, capsys):
    """End to end on digits: the emulator's test accuracy equals the one training recorded for the model."""
    import json

    from fxsnn.cli import main
    from fxsnn.model import load_model

    init = tmp_path / "init.fxsnn"
    argv = ["init", "--dataset", "digits", "--hidden", "20", "--s1", "0.05", "--out", str(init), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert load_model(init).network.sizes == (64, 20, 10) and out["s1"] == 0.05
    run = tmp_path / "run"
    argv = [
        "train",
        "--dataset",
        "digits",
        "--hidden",
        "20",
        "--epochs",
        "2",
        "--train-samples",
        "200",
        "--test-samples",
        "100",
        "--optimizer",
        "adam",
        "--lr",
        "0.005",
        "--weight-range",
        "0.25,2",
        "--target-rate",
        "10",
        "--out",
        str(run),
        "--json",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 2 and (run / "history.jsonl").read_text().count("\n") == 3
    assert main(["eval", str(run / "model.fxsnn"), "--limit", "100", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == summary["best_test_accuracy"] == evaluated["training_best_test_accuracy"]
    assert evaluated["accuracy"] > 0.2  # chance is 0.1; two short epochs on 200 samples


def test_cli_train_on_shd_saves_a_model_that_simulates(tmp_path, capsys):
    """Event data (SHD): the model keeps the data set's "bins" encoder, so simulate re-bins the same way."""
    import json

    import h5py

    from fxsnn.cli import main
    from fxsnn.model import load_model

    rng = np.random.default_rng(5)
    (tmp_path / "shd").mkdir()
    for split, n in (("train", 24), ("test", 12)):
        with h5py.File(tmp_path / "shd" / f"shd_{split}.h5", "w") as f:
            times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
            units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for k in range(n):
                count = int(rng.integers(5, 40))
                times[k] = rng.random(count).astype(np.float32)
                units[k] = rng.integers(0, 700, count).astype(np.uint16)
            f.create_dataset("labels", data=rng.integers(0, 20, n).astype(np.uint16))
    run = tmp_path / "run"
    argv = [
        "train",
        "--dataset",
        "shd",
        "--data-dir",
        str(tmp_path),
        "--hidden",
        "8",
        "--steps",
        "20",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        str(run),
        "--json",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    model = load_model(run / "model.fxsnn")
    assert model.dataset == "shd" and model.encoder["kind"] == "bins"
    assert model.network.sizes == (700, 8, 20) and model.network.num_steps == 20
    assert main(["simulate", str(run / "model.fxsnn"), "--data-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 12


@pytest.mark.parametrize("calibrated", [False, True])
def test_initialise_draws_what_training_starts_from(calibrated):
    """fxsnn.init.initialise (what `fxsnn init` calls, no trainer) gives the network training starts from."""
    from fxsnn.init import initialise
    from fxsnn.training.trainer import CALIBRATION_SAMPLES

    data = _random_data(np.random.default_rng(11), n_in=10, n_classes=3, n_train=30, steps=20, p=0.2)
    rate = {"target_rate": 40.0} if calibrated else {"s1": 0.3}
    cfg = TrainConfig(
        dataset="digits", hidden=[8], ratio=0.75, weight_range=[0.5, 1.0], seed=4, tau_syn=4.0, **rate
    )
    trainer = Trainer(cfg, data)
    trainer.initialise()
    alpha, beta = cfg.decay_factors
    events = data.train_events.select(np.arange(min(CALIBRATION_SAMPLES, data.train_events.n_samples)))
    drawn = initialise(
        10,
        (8,),
        3,
        cfg.layer_specs(),
        ratio=0.75,
        rng=np.random.default_rng(4),
        num_steps=20,
        alpha=alpha,
        beta=beta,
        s1=cfg.s1,
        target_rate=cfg.target_rate,
        events=events if calibrated else None,
    )
    assert drawn.info == trainer.initial
    ours, theirs = drawn.network, trainer.network()
    for mine, other in zip(ours.layers, theirs.layers, strict=True):
        assert mine.params == other.params
        np.testing.assert_array_equal(mine.weights, other.weights)
        np.testing.assert_array_equal(mine.types, other.types)
    assert ours.layers[0].weights.any()
