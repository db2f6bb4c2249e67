"""Golden trajectories worked out by hand from docs/fixed-point.md, checked on the reference AND the emulator.

Every expected integer below is written out with its arithmetic in the comments; nothing is computed by
the code under test. Notation: I[t], V[t] hidden current and membrane; F[t], U[t] readout; lists give
the values written at the end of steps 0, 1, 2, ... (that is I[1], I[2], ...), as traces record them
(section 4.6). Multiply mode uses the paper's constants d_syn = 3354, d_mem = 3706 at F = 12
(x -> sign(x) * ((|x| * d) >> 12)).
"""

from __future__ import annotations

import numpy as np
import pytest

from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch
from fxsnn.network import Layer, LayerParams, Network, neuron_types
from fxsnn.reference import run_sample


def both(net: Network, steps: list[int], indices: list[int]):
    """Run one sample through the reference and the emulator; return per-layer trajectories of each."""
    events = EventBatch(
        np.array(steps, np.int32),
        np.array(indices, np.int32),
        np.array([0, len(steps)]),
        net.num_steps,
        net.n_inputs,
    )
    ref = run_sample(net, steps, indices)
    emu = simulate(net, events, trace=True)
    runs = []
    # reference
    runs.append(
        {
            "spikes": [
                [[s[k][j] for s in (st.spikes for st in ref.trace)] for j in range(layer.n_out)]
                for k, layer in enumerate(net.hidden)
            ],
            "current": [
                [[st.layers[k].current[j] for st in ref.trace] for j in range(layer.n_out)]
                for k, layer in enumerate(net.layers)
            ],
            "membrane": [
                [[st.layers[k].membrane[j] for st in ref.trace] for j in range(layer.n_out)]
                for k, layer in enumerate(net.layers)
            ],
            "scores": list(ref.scores),
            "prediction": ref.prediction,
            "counts": [list(c) for c in ref.spike_counts],
            "name": "reference",
        }
    )
    runs.append(
        {
            "spikes": [a[0].T.tolist() for a in emu.trace.spikes],
            "current": [a[0].T.tolist() for a in emu.trace.current],
            "membrane": [a[0].T.tolist() for a in emu.trace.membrane],
            "scores": emu.scores[0].tolist(),
            "prediction": int(emu.predictions[0]),
            "counts": [c[0].tolist() for c in emu.spike_counts],
            "name": "emulator",
        }
    )
    return runs


MULTIPLY = dict(decay_mode="multiply", frac_bits=12, syn_decay=3354, mem_decay=3706)


def one_neuron_net(reset: str) -> Network:
    """1 input -> 1 excitatory hidden neuron (threshold 100) -> 3 readout neurons, T = 6."""
    hidden = LayerParams(weight_bits=8, state_bits=16, threshold=100, reset=reset, **MULTIPLY)
    readout = LayerParams(weight_bits=8, state_bits=16, threshold=0, **MULTIPLY)
    return Network(
        (
            Layer(hidden, np.array([[200]]), neuron_types(1, 1.0)),
            Layer(readout, np.array([[40, 50, 50]]), np.zeros(3, np.int8)),
        ),
        num_steps=6,
    )


def test_spike_with_reset_to_zero_and_readout_tie():
    runs = both(one_neuron_net("zero"), steps=[0], indices=[0])
    # Hidden neuron, input w = 200 at t = 0 only, theta = 100, reset zero.
    # t=0: s=0 (V=0);  I1 = 0 + 200 = 200;                  V1 = 0 + I0 = 0
    # t=1: s=0 (0);    I2 = 200*3354 = 670800 >> 12 = 163;  V2 = 0 + I1 = 200
    # t=2: s=1 (200>100); I3 = 163*3354 = 546702 >> 12 = 133; V3 = 0 (reset to zero discards the step)
    # t=3: s=0 (0);    I4 = 133*3354 = 446082 >> 12 = 108;  V4 = 0 + I3 = 133
    # t=4: s=1 (133);  I5 = 108*3354 = 362232 >> 12 = 88;   V5 = 0
    # t=5: s=0;        I6 = 88*3354 = 295152 >> 12 = 72;    V6 = 0 + I5 = 88
    spikes = [0, 0, 1, 0, 1, 0]
    current = [200, 163, 133, 108, 88, 72]
    membrane = [0, 200, 0, 133, 0, 88]
    # Readout k with weight m, hidden spikes at t = 2 and 4.
    # m = 50: t=2: F3 = 50, U3 = 0 + F2 = 0
    #         t=3: F4 = 50*3354 = 167700 >> 12 = 40;    U4 = 0 + F3 = 50
    #         t=4: F5 = 40*3354 = 134160 >> 12 = 32, + 50 = 82; U5 = 50*3706 = 185300 >> 12 = 45, + F4 40 = 85
    #         t=5: F6 = 82*3354 = 275028 >> 12 = 67;    U6 = 85*3706 = 315010 >> 12 = 76, + F5 82 = 158
    # m = 40: t=2: F3 = 40; U3 = 0.  t=3: F4 = 134160 >> 12 = 32; U4 = 40
    #         t=4: F5 = 32*3354 = 107328 >> 12 = 26, + 40 = 66; U5 = 40*3706 = 148240 >> 12 = 36, + 32 = 68
    #         t=5: F6 = 66*3354 = 221364 >> 12 = 54;    U6 = 68*3706 = 252008 >> 12 = 61, + 66 = 127
    f40, u40 = [0, 0, 40, 32, 66, 54], [0, 0, 0, 40, 68, 127]
    f50, u50 = [0, 0, 50, 40, 82, 67], [0, 0, 0, 50, 85, 158]
    for run in runs:
        who = run["name"]
        assert run["spikes"][0] == [spikes], who
        assert run["current"][0] == [current], who
        assert run["membrane"][0] == [membrane], who
        assert run["counts"] == [[2]], who
        assert run["current"][1] == [f40, f50, f50], who
        assert run["membrane"][1] == [u40, u50, u50], who
        # scores = max(U[0..T]) = [127, 158, 158]: classes 1 and 2 tie, the lowest index wins
        assert run["scores"] == [127, 158, 158], who
        assert run["prediction"] == 1, who


def test_spike_with_reset_by_subtraction():
    runs = both(one_neuron_net("subtract"), steps=[0], indices=[0])
    # Same current as above. Reset subtracts theta = 100 from the integrated membrane instead:
    # t=2: s=1 (200>100); V3 = 200*3706 = 741200 >> 12 = 180, + I2 163 - 100 = 243
    # t=3: s=1 (243);     V4 = 243*3706 = 900558 >> 12 = 219, + I3 133 - 100 = 252
    # t=4: s=1 (252);     V5 = 252*3706 = 933912 >> 12 = 228, + I4 108 - 100 = 236
    # t=5: s=1 (236);     V6 = 236*3706 = 874616 >> 12 = 213, + I5 88 - 100 = 201
    for run in runs:
        assert run["spikes"][0] == [[0, 0, 1, 1, 1, 1]], run["name"]
        assert run["current"][0] == [[200, 163, 133, 108, 88, 72]], run["name"]
        assert run["membrane"][0] == [[0, 200, 243, 252, 236, 201]], run["name"]
        assert run["counts"] == [[4]], run["name"]


def test_negative_current_decays_toward_zero_and_saturates_at_minimum():
    """Two inhibitory hidden neurons spike once; the readout goes negative. Scores stay 0 (U[0] = 0)."""
    hidden = LayerParams(weight_bits=8, state_bits=16, threshold=0, reset="zero", **MULTIPLY)
    readout = LayerParams(weight_bits=7, state_bits=8, threshold=0, **MULTIPLY)
    net = Network(
        (
            Layer(hidden, np.array([[1, 1]]), neuron_types(2, 0.0)),  # both inhibitory
            Layer(readout, np.array([[7, 127], [0, 127]]), np.zeros(2, np.int8)),
        ),
        num_steps=7,
    )
    runs = both(net, steps=[0], indices=[0])
    # Hidden (both neurons alike): I1 = 1; I2 = 1*3354 >> 12 = 0. V1 = 0; V2 = 0 + I1 = 1;
    # t=2: s = 1 (1 > 0), V3 = 0. Nothing after: one spike each, at t = 2.
    # Readout 0: weight term -7 (inhibitory presynaptic neuron 0; neuron 1's weight is 0).
    #   t=2: F3 = -7;                                  U3 = 0
    #   t=3: F4 = -(7*3354 = 23478 >> 12 = 5) = -5     U4 = 0 + F3 = -7
    #        (rounding toward zero; a floor, -23478/4096 = -5.73 -> -6, would leak negative states faster)
    #   t=4: F5 = -(5*3354 = 16770 >> 12) = -4;        U5 = -(7*3706 = 25942 >> 12 = 6) + F4 = -6 - 5 = -11
    #   t=5: F6 = -(4*3354 = 13416 >> 12) = -3;        U6 = -(11*3706 = 40766 >> 12 = 9) - 4 = -13
    #   t=6: F7 = -(3*3354 = 10062 >> 12) = -2;        U7 = -(13*3706 = 48178 >> 12 = 11) - 3 = -14
    # Readout 1: weight terms -127, -127: acc = -254.
    #   t=2: F3 = sat(-254) = -128 (8-bit minimum);    U3 = 0
    #   t=3: F4 = -(128*3354 = 429312 >> 12) = -104;   U4 = sat(0 + F3) = -128
    #   t=4: F5 = -(104*3354 = 348816 >> 12) = -85;    U5 = sat(-(128*3706 = 474368 >> 12 = 115) - 104) = -128
    #   t=5: F6 = -(85*3354 = 285090 >> 12) = -69;     U6 = sat(-115 - 85 = -200) = -128
    #   t=6: F7 = -(69*3354 = 231426 >> 12) = -56;     U7 = sat(-115 - 69 = -184) = -128
    # Scores: max(U[0] = 0, negative values...) = 0 for both; the tie goes to class 0.
    for run in runs:
        who = run["name"]
        assert run["spikes"][0] == [[0, 0, 1, 0, 0, 0, 0]] * 2, who
        assert run["current"][0] == [[1, 0, 0, 0, 0, 0, 0]] * 2, who
        assert run["membrane"][0] == [[0, 1, 0, 0, 0, 0, 0]] * 2, who
        assert run["current"][1] == [[0, 0, -7, -5, -4, -3, -2], [0, 0, -128, -104, -85, -69, -56]], who
        assert run["membrane"][1] == [[0, 0, 0, -7, -11, -13, -14], [0, 0, 0, -128, -128, -128, -128]], who
        assert run["scores"] == [0, 0], who
        assert run["prediction"] == 0, who


def test_shift_mode_saturation_strict_threshold_and_negative_shift_decay():
    hidden = LayerParams(
        weight_bits=7,
        state_bits=8,
        decay_mode="shift",
        syn_decay=1,
        mem_decay=2,
        threshold=100,
        reset="subtract",
    )
    readout = LayerParams(
        weight_bits=7, state_bits=8, decay_mode="shift", syn_decay=1, mem_decay=1, threshold=0
    )
    net = Network(
        (
            Layer(hidden, np.array([[100]]), neuron_types(1, 0.0)),  # one inhibitory hidden neuron
            Layer(readout, np.array([[7]]), np.zeros(1, np.int8)),
        ),
        num_steps=7,
    )
    runs = both(net, steps=[0, 1, 2], indices=[0, 0, 0])
    # Hidden: input w = 100 at t = 0, 1, 2; 8-bit state in [-128, 127]; D_syn(m) = m - (m >> 1),
    # D_mem(m) = m - (m >> 2); theta = 100, reset subtract.
    # t=0: s=0;  I1 = 100;                                       V1 = 0
    # t=1: s=0;  I2 = sat(100 - 50 + 100 = 150) = 127;           V2 = 0 + I1 = 100
    # t=2: s=0 (100 > 100 is false: strict);
    #            I3 = sat(127 - 63 + 100 = 164) = 127;           V3 = sat(100 - 25 + I2 127 = 202) = 127
    # t=3: s=1;  I4 = 127 - 63 = 64;                             V4 = 127 - 31 + I3 127 - 100 = 123
    # t=4: s=1;  I5 = 64 - 32 = 32;                              V5 = 123 - 30 + I4 64 - 100 = 57
    # t=5: s=0;  I6 = 32 - 16 = 16;                              V6 = 57 - 14 + I5 32 = 75
    # t=6: s=0;  I7 = 16 - 8 = 8;                                V7 = 75 - 18 + I6 16 = 73
    # Readout: weight term -7 (inhibitory), spikes at t = 3, 4; D(m) = m - (m >> 1) on the magnitude.
    # t=3: F4 = -7;                              U4 = 0 + F3 = 0
    # t=4: F5 = -(7 - 3) - 7 = -11;              U5 = 0 + F4 = -7
    #      (an arithmetic shift of the negative value would give -7 - (-7 >> 1) = -7 + 4 = -3, not -4)
    # t=5: F6 = -(11 - 5) = -6;                  U6 = -(7 - 3) + F5 = -4 - 11 = -15
    # t=6: F7 = -(6 - 3) = -3;                   U7 = -(15 - 7) + F6 = -8 - 6 = -14
    for run in runs:
        who = run["name"]
        assert run["spikes"][0] == [[0, 0, 0, 1, 1, 0, 0]], who
        assert run["current"][0] == [[100, 127, 127, 64, 32, 16, 8]], who
        assert run["membrane"][0] == [[0, 100, 127, 123, 57, 75, 73]], who
        assert run["current"][1] == [[0, 0, 0, -7, -11, -6, -3]], who
        assert run["membrane"][1] == [[0, 0, 0, 0, -7, -15, -14]], who
        assert run["scores"] == [0], who


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_reference_accepts_events_in_any_order(order):
    """The sum of a step's weights is exact, so event order cannot matter (section 2)."""
    net = one_neuron_net("zero")
    two = Network(
        (Layer(net.layers[0].params, np.array([[120], [80]]), neuron_types(1, 1.0)), net.layers[1]), 6
    )
    steps, indices = [0, 0], [0, 1]
    if order == "reversed":
        steps, indices = steps[::-1], indices[::-1]
    # 120 + 80 = 200 at t = 0: the same trajectory as a single weight of 200
    assert run_sample(two, steps, indices).trace[5].layers[0].membrane == (88,)
