"""One neuron lane: docs/fixed-point.md sections 3, 4.2 and 4.3 as combinational logic.

The widths are chosen so that nothing wraps before the single saturation of each stored value:

- ``|x|`` of a ``B``-bit state is held in ``B`` unsigned bits (``|MIN| = 2**(B-1)`` fits);
- multiply mode forms the exact product ``|x| * d`` (``B + bits(d)`` bits) and shifts it right by ``F``
  (a floor of a non-negative number: rounding toward zero once the sign is put back);
- shift mode forms ``|x| - (|x| >> k)``, which is never negative;
- the decayed value (``B + 1`` signed bits) plus the accumulator (``A`` bits) or plus ``I - s * theta`` is
  computed at full width and saturated to ``B`` bits exactly once.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fxsnn.network import LayerParams

__all__ = ["NeuronDatapath", "saturate", "decay"]


def saturate(value, bits: int) -> Value:
    """``sat(value)`` to the signed ``bits``-bit range (section 2); the result has shape ``signed(bits)``."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    value = Value.cast(value)
    return Mux(value > hi, hi, Mux(value < lo, lo, value))[:bits].as_signed()


def decay(m: Module, x: Value, constant: int, params: LayerParams, name: str) -> Value:
    """Section 3: ``sign(x) * D(|x|)``, built into ``m``; returns a ``signed(B + 1)`` signal."""
    bits = params.state_bits
    negative = x[-1]
    magnitude = Signal(unsigned(bits), name=f"{name}_magnitude")
    m.d.comb += magnitude.eq(Mux(negative, -x, x))  # -MIN = 2**(B-1) still fits B unsigned bits
    decayed = Signal(unsigned(bits), name=f"{name}_decayed_magnitude")
    if params.decay_mode == "multiply":
        # d <= 2**F, so (|x| * d) >> F <= |x| fits B bits.
        m.d.comb += decayed.eq((magnitude * constant) >> params.frac_bits)
    else:
        m.d.comb += decayed.eq(magnitude - (magnitude >> constant))
    result = Signal(signed(bits + 1), name=f"{name}_decayed")
    m.d.comb += result.eq(Mux(negative, -decayed, decayed))
    return result


class NeuronDatapath(wiring.Component):
    """Combinational update of one neuron (one lane) of a hidden LIF layer or of the readout.

    Hidden layer (section 4.2), with ``I``, ``V`` the state at the start of the step::

        spike       = V > threshold
        new_current = sat(decay_syn(I) + acc)
        new_membrane = 0 if spike and reset == "zero" else sat(decay_mem(V) + I - spike * threshold)

    Readout (section 4.3): ``spike = 0``, ``new_current = sat(decay_syn(F) + acc)``,
    ``new_membrane = sat(decay_mem(U) + F)``.

    Parameters
    ----------
    params : LayerParams
        The layer's constants (fixed at generation time).
    acc_bits : int
        Width of the signed accumulator input (``Network.accumulator_bits``).
    readout : bool
        Build the readout update (no spike, no reset) instead of the LIF update.

    Attributes
    ----------
    current, membrane : In(signed(state_bits))
    acc : In(signed(acc_bits))
    spike : Out(1)
    new_current, new_membrane : Out(signed(state_bits))
    """

    def __init__(self, params: LayerParams, acc_bits: int, *, readout: bool = False):
        if not isinstance(params, LayerParams):
            self._MustUse__silence = True  # rejected, never elaborated: no "created but never used" warning
            raise TypeError(f"params must be LayerParams, not {params!r}")
        if isinstance(acc_bits, bool) or not isinstance(acc_bits, int) or acc_bits < 1:
            self._MustUse__silence = True
            raise ValueError(f"acc_bits must be a positive integer, not {acc_bits!r}")
        self.params = params
        self.acc_bits = acc_bits
        self.readout = bool(readout)
        bits = params.state_bits
        super().__init__({
            "current": In(signed(bits)),
            "membrane": In(signed(bits)),
            "acc": In(signed(acc_bits)),
            "spike": Out(1),
            "new_current": Out(signed(bits)),
            "new_membrane": Out(signed(bits)),
        })

    def elaborate(self, platform):
        # Purely combinational: the core registers the result when it writes the state memories, in the same
        # cycle as the memories present the old state (see SpikingCore.elaborate).
        m = Module()
        p = self.params
        bits = p.state_bits
        syn = decay(m, self.current, p.syn_decay, p, "syn")
        mem = decay(m, self.membrane, p.mem_decay, p, "mem")
        m.d.comb += self.new_current.eq(saturate(syn + self.acc, bits))
        if self.readout:
            m.d.comb += [
                self.spike.eq(0),
                self.new_membrane.eq(saturate(mem + self.current, bits)),
            ]
        else:
            m.d.comb += self.spike.eq(self.membrane > p.threshold)
            integrated = saturate(mem + self.current - Mux(self.spike, p.threshold, 0), bits)
            if p.reset == "zero":
                m.d.comb += self.new_membrane.eq(Mux(self.spike, 0, integrated))
            else:
                m.d.comb += self.new_membrane.eq(integrated)
        return m
