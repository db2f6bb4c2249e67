"""The paper's initialisation, its integer image (docs/fixed-point.md section 5) and rate calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fxsnn.analysis import population_rates_hz
from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch
from fxsnn.init import LayerSpec, calibrate_s1, paper_init, quantize_network
from fxsnn.network import INHIBITORY
from fxsnn.quantize import (
    PAPER_ALPHA,
    PAPER_BETA,
    auto_weight_shift,
    make_layer_params,
    quantize_magnitudes,
    shift_constant,
    weight_lsb,
)


def test_paper_init_distributions_and_signs():
    rng = np.random.default_rng(0)
    net = paper_init(784, (100,), 10, ratio=0.8, s1=0.001, rng=rng)
    w1, w2 = net.weights
    assert w1.shape == (784, 100) and w2.shape == (100, 10)
    assert (w1 >= 0).all()
    # |N(0, s1)| has mean s1 * sqrt(2 / pi)
    assert w1.mean() == pytest.approx(0.001 * math.sqrt(2 / math.pi), rel=0.02)
    types = net.types[0]
    assert (types[:80] == 0).all() and (types[80:] == INHIBITORY).all()
    assert (w2[:80] >= 0).all() and (w2[80:] <= 0).all()
    std = 7 * (1 - PAPER_BETA) / math.sqrt(100)
    assert np.sqrt((w2**2).mean()) == pytest.approx(std, rel=0.1)
    # same seed, same draws
    again = paper_init(784, (100,), 10, ratio=0.8, s1=0.001, rng=np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, again.weights, strict=True))


def test_multilayer_init_uses_fan_in_and_presynaptic_types():
    net = paper_init(30, (40, 20), 5, ratio=0.5, s1=0.01, rng=np.random.default_rng(1))
    w2 = net.weights[1]
    assert (w2[:20] >= 0).all() and (w2[20:] <= 0).all()
    assert np.sqrt((w2**2).mean()) == pytest.approx(7 * (1 - PAPER_BETA) / math.sqrt(40), rel=0.15)
    w3 = net.weights[2]
    assert (w3[:10] >= 0).all() and (w3[10:] <= 0).all()


def test_section5_mapping():
    params, sigma = make_layer_params(weight_range=0.05, weight_bits=8, weight_shift=3)
    lsb = weight_lsb(0.05, 8)
    assert sigma == pytest.approx(8 / lsb)
    assert params.threshold == round(sigma)
    assert (params.syn_decay, params.mem_decay) == (3354, 3706)
    assert params.weight_shift == 3
    mags = quantize_magnitudes(np.array([0.0, lsb * 0.49, lsb * 0.51, -lsb * 2.2, 1.0]), lsb, 8)
    assert mags.tolist() == [0, 0, 1, 2, 255]
    # shift mode: the k whose 1 - 2^-k is closest
    assert (
        shift_constant(PAPER_ALPHA, 24) == 3 and shift_constant(0.5, 24) == 1 and shift_constant(0.0, 24) == 0
    )


def test_auto_shift_keeps_the_headroom():
    assert auto_weight_shift(1.0, 16, 24, headroom=512) == 0  # even S = 0 exceeds it: no extra bits
    for bits, rng_ in ((8, 0.05), (4, 0.03), (8, 2.0), (12, 1.0)):
        shift = auto_weight_shift(rng_, bits, 24, headroom=512)
        sigma = (1 << shift) / weight_lsb(rng_, bits)
        assert sigma * 512 <= 2**23 - 1
        if shift < 15:
            assert ((2 << shift) / weight_lsb(rng_, bits)) * 512 > 2**23 - 1 or (
                ((1 << bits) - 1) << (shift + 1)
            ) > 2**23 - 1


def test_quantized_network_applies_dale_projection():
    rng = np.random.default_rng(2)
    net = paper_init(20, (10,), 3, ratio=0.7, s1=0.05, rng=rng)
    net.weights[1] = rng.normal(0, 0.5, net.weights[1].shape)  # wrong-signed weights must become 0
    network, scales = quantize_network(net, [LayerSpec(0.2, 6), LayerSpec(1.0, 5)], 50)
    w = network.layers[1].weights
    lsb = weight_lsb(1.0, 5)
    expected = np.where(
        np.where(net.types[0] == INHIBITORY, -1, 1)[:, None] * net.weights[1] > 0,
        np.minimum(np.rint(np.abs(net.weights[1]) / lsb), 31),
        0,
    )
    np.testing.assert_array_equal(w, expected)
    assert scales[0] == pytest.approx((1 << network.layers[0].params.weight_shift) / weight_lsb(0.2, 6))


def test_calibration_hits_the_target_rate():
    rng = np.random.default_rng(3)
    events = EventBatch.from_dense((rng.random((64, 60, 40)) < 0.05).astype(np.uint8))
    specs = [LayerSpec(0.5, 8), LayerSpec(1.0, 8)]
    for target in (5.0, 20.0):
        s1, rate, net = calibrate_s1(
            target,
            events,
            hidden=(30,),
            n_outputs=4,
            ratio=0.8,
            specs=specs,
            rng=np.random.default_rng(9),
            tolerance=0.1,
        )
        assert abs(rate - target) <= 0.1 * target
        network, _ = quantize_network(net, specs, 60)
        counts = simulate(network, events).spike_counts[0]
        assert population_rates_hz(counts, network.layers[0].types, 60)["all"] == pytest.approx(rate)
        # the result is what paper_init draws with that s1 and the same seed
        again = paper_init(40, (30,), 4, ratio=0.8, s1=s1, rng=np.random.default_rng(9))
        assert np.array_equal(again.weights[0], net.weights[0])


def test_calibration_reports_unreachable_targets():
    from fxsnn.errors import FxsnnError

    events = EventBatch.from_dense(np.zeros((4, 10, 5), dtype=np.uint8))  # no input: always silent
    with pytest.raises(FxsnnError, match="below the target"):
        calibrate_s1(
            10.0,
            events,
            hidden=(6,),
            n_outputs=2,
            ratio=0.5,
            specs=[LayerSpec(0.5), LayerSpec(1.0)],
            rng=np.random.default_rng(0),
        )
