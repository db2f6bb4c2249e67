"""ref vs rtl for one neuron lane: NeuronDatapath against the shared arithmetic (fxsnn._arith, which the
reference and emulator tests hold equal to docs/fixed-point.md), over extreme and random operands in every
decay and reset mode."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from amaranth.sim import Simulator

from fxsnn import reference
from fxsnn._arith import layer_constants, lif_update, readout_update
from fxsnn.hdl import NeuronDatapath
from fxsnn.network import LayerParams

CONFIGS = [
    # the paper's constants
    LayerParams(state_bits=24, decay_mode="multiply", frac_bits=12, syn_decay=3354, mem_decay=3706,
                threshold=256, reset="zero"),
    LayerParams(state_bits=24, decay_mode="multiply", frac_bits=12, syn_decay=3354, mem_decay=3706,
                threshold=256, reset="subtract"),
    # narrow state, d = 0 and d = 2**F (no decay at all), threshold 0
    LayerParams(weight_bits=4, state_bits=8, decay_mode="multiply", frac_bits=3, syn_decay=0, mem_decay=8,
                threshold=0, reset="subtract"),
    # F = 16, d = 2**16 - 1, threshold = MAX
    LayerParams(weight_bits=4, state_bits=10, decay_mode="multiply", frac_bits=16, syn_decay=65535,
                mem_decay=1, threshold=511, reset="zero"),
    # shift mode: k = 0 (everything decays to 0) and k = B - 1
    LayerParams(weight_bits=4, state_bits=8, decay_mode="shift", syn_decay=0, mem_decay=7, threshold=3,
                reset="subtract"),
    LayerParams(weight_bits=6, state_bits=12, decay_mode="shift", syn_decay=3, mem_decay=1, threshold=100,
                reset="zero"),
    # 32-bit state (|MIN| = 2**31 must decay exactly)
    LayerParams(weight_bits=16, state_bits=32, decay_mode="multiply", frac_bits=16, syn_decay=60000,
                mem_decay=65536, threshold=(1 << 31) - 1, reset="subtract"),
    LayerParams(weight_bits=16, state_bits=32, decay_mode="shift", syn_decay=31, mem_decay=2, threshold=12345,
                reset="zero"),
]


def operand_cases(params: LayerParams, acc_bits: int, rng: np.random.Generator, n_random: int):
    lo, hi = params.state_min, params.state_max
    acc_lo, acc_hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    theta = params.threshold
    states = sorted({lo, lo + 1, -2, -1, 0, 1, 2, hi - 1, hi, theta, theta + 1 if theta < hi else hi, -theta})
    accs = sorted({acc_lo, acc_lo + 1, -1, 0, 1, acc_hi, lo, hi})
    cases = [(i, v, a) for i, v in itertools.product(states, states) for a in (accs[0], 0, accs[-1])]
    cases += [(hi, hi, a) for a in accs] + [(lo, lo, a) for a in accs]
    for _ in range(n_random):
        cases.append((int(rng.integers(lo, hi, endpoint=True)), int(rng.integers(lo, hi, endpoint=True)),
                      int(rng.integers(acc_lo, acc_hi, endpoint=True))))
    return cases


def rtl_datapath(params: LayerParams, acc_bits: int, readout: bool, cases):
    dut = NeuronDatapath(params, acc_bits, readout=readout)
    results = []

    async def testbench(ctx):
        for current, membrane, acc in cases:
            ctx.set(dut.current, current)
            ctx.set(dut.membrane, membrane)
            ctx.set(dut.acc, acc)
            results.append((ctx.get(dut.spike), ctx.get(dut.new_current), ctx.get(dut.new_membrane)))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    return results


def ref_datapath(params: LayerParams, readout: bool, cases):
    constants = layer_constants(params)
    if readout:
        return [(0, *map(int, readout_update(i, v, a, constants))) for i, v, a in cases]
    return [tuple(map(int, lif_update(i, v, a, constants))) for i, v, a in cases]


@pytest.mark.parametrize("readout", [False, True], ids=["lif", "readout"])
@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_datapath_matches_reference(index, readout):
    params = CONFIGS[index]
    acc_bits = params.state_bits + 3  # wider than the state: saturation of decay + acc is exercised
    cases = operand_cases(params, acc_bits, np.random.default_rng(index), n_random=150)
    rtl = rtl_datapath(params, acc_bits, readout, cases)
    ref = ref_datapath(params, readout, cases)
    for case, want, have in zip(cases, ref, rtl, strict=True):
        assert have == want, f"{params} readout={readout}: (I, V, acc) = {case}: expected {want}, got {have}"


def test_datapath_agrees_with_plain_reference_decay():
    """The two renderings the test relies on agree where they overlap (decay and saturation)."""
    params = CONFIGS[2]
    cases = operand_cases(params, 11, np.random.default_rng(9), n_random=50)
    rtl = rtl_datapath(params, 11, False, cases)
    for (current, membrane, acc), (spike, new_current, new_membrane) in zip(cases, rtl, strict=True):
        assert spike == int(membrane > params.threshold)
        decayed = reference.decay(current, params.syn_decay, params)
        assert new_current == reference.saturate(decayed + acc, params.state_bits)
        integrated = reference.decay(membrane, params.mem_decay, params) + current - spike * params.threshold
        assert new_membrane == reference.saturate(integrated, params.state_bits)


def test_datapath_rejects_bad_parameters():
    with pytest.raises(TypeError, match="LayerParams"):
        NeuronDatapath({"state_bits": 8}, 10)
    with pytest.raises(ValueError, match="acc_bits must be a positive integer, not 0"):
        NeuronDatapath(CONFIGS[0], 0)
