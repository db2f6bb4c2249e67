"""Population firing rates and Van Rossum distances, against hand-computed values and a slow numpy version."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from fxsnn.analysis import (
    PAIR_GROUPS,
    firing_rates_hz,
    group_pair_distances,
    population_rates_hz,
    van_rossum_groups,
    van_rossum_matrix,
)
from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch
from fxsnn.network import Layer, LayerParams, Network, neuron_types


def slow_van_rossum(spikes: np.ndarray, tau: float) -> np.ndarray:
    """PAPER.md literally: convolve each train with exp(-t/tau), D per pair, mean over samples."""
    n_samples, n_steps, n_neurons = spikes.shape
    kernel = np.exp(-np.arange(n_steps) / tau)
    total = np.zeros((n_neurons, n_neurons))
    for b in range(n_samples):
        filtered = np.stack(
            [np.convolve(spikes[b, :, n].astype(float), kernel)[:n_steps] for n in range(n_neurons)], axis=1
        )
        for n in range(n_neurons):
            for m in range(n_neurons):
                total[n, m] += math.sqrt(float(((filtered[:, n] - filtered[:, m]) ** 2).sum()) / tau)
    return total / n_samples


def test_two_neurons_by_hand():
    # Neuron 0 spikes at t = 0, neuron 1 at t = 1, T = 3, tau = 1:
    # f0 = [1, e^-1, e^-2], f1 = [0, 1, e^-1]; D^2 = 1 + (e^-1 - 1)^2 + (e^-2 - e^-1)^2
    spikes = np.array([[[1, 0], [0, 1], [0, 0]]], dtype=np.uint8)
    e1, e2 = math.exp(-1), math.exp(-2)
    expected = math.sqrt(1 + (e1 - 1) ** 2 + (e2 - e1) ** 2)
    d = van_rossum_matrix(spikes, tau=1.0)
    assert d[0, 1] == pytest.approx(expected, rel=1e-14) and d[1, 0] == d[0, 1]
    assert d[0, 0] == 0.0 and d[1, 1] == 0.0
    # A silent partner: D^2 = 1 + e^-2 + e^-4 (the filtered train of neuron 0 alone)
    silent = np.array([[[1, 0], [0, 0], [0, 0]]], dtype=np.uint8)
    assert van_rossum_matrix(silent)[0, 1] == pytest.approx(math.sqrt(1 + e2 + math.exp(-4)), rel=1e-14)
    # tau = 2: kernel e^(-t/2), D^2 divided by 2: f0 = [1, e^-.5, e^-1], f1 = 0
    want = math.sqrt((1 + math.exp(-1) + math.exp(-2)) / 2)
    assert van_rossum_matrix(silent, tau=2.0)[0, 1] == pytest.approx(want, rel=1e-14)
    # Averaging over samples: the second sample has identical trains (D = 0), so the mean is half
    two = np.concatenate([spikes, np.array([[[1, 1], [0, 0], [0, 0]]], dtype=np.uint8)])
    assert van_rossum_matrix(two)[0, 1] == pytest.approx(expected / 2, rel=1e-14)


@pytest.mark.parametrize("tau", [1.0, 0.5, 3.0])
def test_matches_slow_numpy(tau):
    rng = np.random.default_rng(5)
    spikes = (rng.random((70, 25, 9)) < rng.random((70, 1, 9)) * 0.5).astype(np.uint8)
    fast = van_rossum_matrix(spikes, tau=tau)
    np.testing.assert_allclose(fast, slow_van_rossum(spikes, tau), rtol=1e-12, atol=1e-12)


def test_thread_count_does_not_change_a_bit():
    rng = np.random.default_rng(9)
    spikes = (rng.random((130, 20, 6)) < 0.2).astype(np.uint8)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append(van_rossum_matrix(spikes))
    finally:
        numba.set_num_threads(before)
    for r in results[1:]:
        assert np.array_equal(r, results[0])


def test_groups():
    rng = np.random.default_rng(2)
    spikes = (rng.random((12, 30, 7)) < 0.3).astype(np.uint8)
    types = neuron_types(7, 0.6)  # 4 E, 3 I
    groups = van_rossum_groups(spikes, types)
    assert tuple(groups) == PAIR_GROUPS
    d = slow_van_rossum(spikes, 1.0)
    ee = [d[n, m] for n in range(4) for m in range(n + 1, 4)]
    ei = [d[n, m] for n in range(4) for m in range(4, 7)]
    ii = [d[n, m] for n in range(4, 7) for m in range(n + 1, 7)]
    for name, values in zip(PAIR_GROUPS, (ee, ei, ii), strict=True):
        assert groups[name]["pairs"] == len(values)
        assert groups[name]["mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert groups[name]["std"] == pytest.approx(np.std(values), rel=1e-9, abs=1e-12)
    all_e = van_rossum_groups(spikes, neuron_types(7, 1.0))
    assert all_e["E-E"]["pairs"] == 21
    assert all_e["E-I"] == {"mean": None, "std": None, "median": None, "pairs": 0}
    ee_median = groups["E-E"]["median"]
    assert ee_median == pytest.approx(np.median(ee), rel=1e-12)


def test_groups_from_emulator_traces():
    """End to end: spikes from simulate(trace=True) of a network with E and I neurons."""
    params = LayerParams(weight_bits=6, state_bits=16, threshold=60)
    rng = np.random.default_rng(4)
    net = Network(
        (
            Layer(params, rng.integers(0, 64, (10, 8)), neuron_types(8, 0.75)),
            Layer(params, rng.integers(0, 64, (8, 3)), np.zeros(3, np.int8)),
        ),
        num_steps=20,
    )
    events = EventBatch.from_dense((rng.random((16, 20, 10)) < 0.15).astype(np.uint8))
    result = simulate(net, events, trace=True)
    assert result.trace.spikes[0].sum() > 0
    groups = van_rossum_groups(result.trace.spikes[0], net.layers[0].types)
    d = slow_van_rossum(result.trace.spikes[0], 1.0)
    assert groups["I-I"]["pairs"] == 1 and groups["I-I"]["mean"] == pytest.approx(d[6, 7], rel=1e-12)
    # the rates agree with the trace: spike counts are its sums over steps
    assert np.array_equal(result.trace.spikes[0].sum(axis=1), result.spike_counts[0])


def test_population_rates():
    counts = np.array([[2, 0, 1, 5], [4, 0, 1, 1]])
    types = np.array([0, 0, 1, 1])
    rates = population_rates_hz(counts, types, num_steps=100)
    # all: (6 + 8) / 2 samples = 7 spikes per sample / 4 neurons / 0.1 s = 17.5 Hz
    # E: (2 + 4) / 2 = 3 per sample / 2 neurons / 0.1 s = 15 Hz; I: (6 + 2) / 2 = 4 / 2 / 0.1 = 20 Hz
    assert rates == {"all": 17.5, "E": 15.0, "I": 20.0}
    assert population_rates_hz(counts, np.zeros(4, int), 100)["I"] is None
    assert population_rates_hz(counts, types, 50, dt_ms=2.0) == rates


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: population_rates_hz(np.zeros(3), np.zeros(3), 100), "samples, neurons"),
        (lambda: population_rates_hz(np.zeros((0, 3)), np.zeros(3), 100), "at least one sample"),
        (
            lambda: population_rates_hz(np.zeros((2, 3)), np.zeros(2), 100),
            r"one entry per neuron, shape \(3,\)",
        ),
        (lambda: population_rates_hz(np.zeros((2, 3)), np.array([0, 2, 1]), 100), "0 .excitatory. or 1"),
        (lambda: population_rates_hz(np.zeros((2, 3)), np.zeros(3), 0), "num_steps must be"),
        (lambda: population_rates_hz(np.zeros((2, 3)), np.zeros(3), 100, dt_ms=0), "dt_ms must be"),
        (lambda: van_rossum_matrix(np.zeros((2, 3))), "samples, steps, neurons"),
        (lambda: van_rossum_matrix(np.zeros((0, 3, 2))), "at least one sample"),
        (lambda: van_rossum_matrix(np.full((1, 3, 2), 2)), "0 and 1 only"),
        (lambda: van_rossum_matrix(np.zeros((1, 3, 2)), tau=0.0), "tau must be"),
        (lambda: van_rossum_groups(np.zeros((1, 3, 2)), np.zeros(3)), "one entry per neuron"),
        (lambda: van_rossum_matrix(np.zeros((1, 3, 2)), metric="l2"), "metric must be one of"),
        (lambda: group_pair_distances(np.zeros((2, 3)), np.zeros(2)), "square"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_firing_rates_hz():
    counts = np.array([[1, 0, 4], [3, 0, 0]], dtype=np.int32)
    rates = firing_rates_hz(counts, num_steps=100)
    assert rates.dtype == np.float64
    assert rates.tolist() == [20.0, 0.0, 20.0]  # (1+3)/2 spikes per 0.1 s = 20 Hz
    assert firing_rates_hz(counts, num_steps=50, dt_ms=2.0).tolist() == [20.0, 0.0, 20.0]
    with pytest.raises(ValueError, match="samples, neurons"):
        firing_rates_hz(np.zeros(3), 100)
    with pytest.raises(ValueError, match="at least one sample"):
        firing_rates_hz(np.zeros((0, 3)), 100)
    with pytest.raises(ValueError, match="num_steps must be an integer >= 1"):
        firing_rates_hz(counts, 0)


def elephant_van_rossum(spikes_sample: np.ndarray, tau: float) -> np.ndarray:
    """elephant's continuous-time distance of one sample's trains (spike at step t = spike at t ms)."""
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    dissimilarity = pytest.importorskip("elephant.spike_train_dissimilarity")
    n_steps, n_neurons = spikes_sample.shape
    trains = [
        neo.SpikeTrain(np.flatnonzero(spikes_sample[:, n]).astype(float), units="ms", t_stop=float(n_steps))
        for n in range(n_neurons)
    ]
    return dissimilarity.van_rossum_distance(trains, time_constant=tau * pq.ms)


@pytest.mark.parametrize("tau", [1.0, 0.4, 5.0])
def test_continuous_metric_equals_elephant(tau):
    """metric="continuous" is elephant's van_rossum_distance to 1e-9 relative, per sample and averaged."""
    rng = np.random.default_rng(int(tau * 10))
    spikes = (rng.random((6, 40, 12)) < rng.random((6, 1, 12)) * 0.4).astype(np.uint8)
    spikes[:, :, 0] = 0  # a silent neuron: its distance to a train is that train's norm
    spikes[0, -1, 1] = 1  # a spike in the last step (the tail after it is integrated to infinity)
    total = np.zeros((12, 12))
    for b in range(spikes.shape[0]):
        want = elephant_van_rossum(spikes[b], tau)
        got = van_rossum_matrix(spikes[b : b + 1], tau=tau, metric="continuous")
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)
        total += want
    np.testing.assert_allclose(
        van_rossum_matrix(spikes, tau=tau, metric="continuous"), total / spikes.shape[0], rtol=1e-9, atol=0
    )


def test_continuous_metric_by_hand():
    # One spike against none: 1 by elephant's normalisation, at any tau and at any step.
    spikes = np.zeros((1, 5, 2), dtype=np.uint8)
    spikes[0, 2, 0] = 1
    for tau in (0.5, 1.0, 7.0):
        assert van_rossum_matrix(spikes, tau=tau, metric="continuous")[0, 1] == pytest.approx(1.0, rel=1e-14)
    # Spikes at 0 and 1 (tau = 1): D^2 = 2 - 2 exp(-1)
    spikes = np.array([[[1, 0], [0, 1], [0, 0]]], dtype=np.uint8)
    want = math.sqrt(2 - 2 * math.exp(-1))
    assert van_rossum_matrix(spikes, metric="continuous")[0, 1] == pytest.approx(want, rel=1e-14)
