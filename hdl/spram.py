"""First-layer weights in iCE40UP5K SPRAM (``SB_SPRAM256KA``: 16384 x 16 bits each, four on the device).

The paper's W1 (784 x 100 x 8 bits = 627 kbit) is five times the UP5K's block RAM (30 x 4 kbit) but fits its
1 Mbit of SPRAM. SPRAM cannot be initialised by the bitstream, so this storage needs the writable-weights
stream: the host loads the weights after configuration (one beat per magnitude).

Packing: a core weight word (``P`` magnitudes, ``P * Bw <= 16`` bits) is one of ``per_word`` slots of a
16-bit SPRAM word (``per_word`` = the largest power of two with ``per_word * P * Bw <= 16``); core word ``a``
lives in SPRAM word ``a >> log2(per_word)`` (block ``>> 14``), slot ``a % per_word``. Writes use the
primitive's nibble write mask, so ``Bw`` must be a multiple of 4. Reads have the one-cycle latency of an
Amaranth synchronous read port, so the core's schedule is unchanged.

``primitive=False`` builds a behavioural model of ``SB_SPRAM256KA`` (for Amaranth's simulator, which cannot
run a black-box ``Instance``); ``primitive=True`` instantiates the primitive for synthesis.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from fxsnn.errors import UsageError

__all__ = ["SpramWeights", "Spram256kModel", "spram_geometry", "SPRAM_WORDS", "SPRAM_BLOCKS"]

SPRAM_WORDS = 16384
SPRAM_BLOCKS = 4


def spram_geometry(words: int, word_width: int, weight_bits: int) -> dict:
    """Packing of ``words`` core words of ``word_width`` bits; raises UsageError when it cannot fit."""
    if weight_bits % 4:
        raise UsageError(f"ice40_spram weight storage needs weight_bits a multiple of 4 (nibble write mask), "
                         f"not {weight_bits!r}")
    if word_width > 16:
        raise UsageError(f"ice40_spram weight storage needs lanes * weight_bits <= 16 (one SPRAM word), "
                         f"not {word_width!r}")
    per_word = 1
    while per_word * 2 * word_width <= 16:
        per_word *= 2
    spram_words = -(-words // per_word)
    blocks = -(-spram_words // SPRAM_WORDS)
    if blocks > SPRAM_BLOCKS:
        raise UsageError(f"the first layer's weights need {blocks} SPRAM blocks ({spram_words} words of 16 "
                         f"bits); the iCE40UP5K has {SPRAM_BLOCKS}")
    return {"per_word": per_word, "spram_words": spram_words, "blocks": blocks}


class Spram256kModel(wiring.Component):
    """Behavioural ``SB_SPRAM256KA``: registered read when selected and not writing; nibble-masked write."""

    def __init__(self):
        super().__init__({"ADDRESS": In(14), "DATAIN": In(16), "MASKWREN": In(4), "WREN": In(1),
                          "CHIPSELECT": In(1), "DATAOUT": Out(16)})

    def elaborate(self, platform):
        # Cycle c: ADDRESS/WREN/MASKWREN sampled; a write updates the selected nibbles, a read (CHIPSELECT
        # without WREN) puts the word on DATAOUT in cycle c+1, which then holds until the next read.
        m = Module()
        m.submodules.storage = storage = memory.Memory(shape=unsigned(16), depth=SPRAM_WORDS, init=[])
        write = storage.write_port(granularity=4)
        read = storage.read_port()
        m.d.comb += [
            write.addr.eq(self.ADDRESS), write.data.eq(self.DATAIN),
            write.en.eq(Cat(*[self.CHIPSELECT & self.WREN & self.MASKWREN[n] for n in range(4)])),
            read.addr.eq(self.ADDRESS), read.en.eq(self.CHIPSELECT & ~self.WREN),
            self.DATAOUT.eq(read.data),
        ]
        return m


class SpramWeights(wiring.Component):
    """A weight store with the interface of a memory read port plus a lane-granular write port.

    ``read_addr`` / ``read_data`` behave like ``lib.memory`` synchronous read-port ``addr`` / ``data``;
    ``write_addr``, ``write_data`` (the magnitude replicated in every lane), ``write_en`` (one bit per lane)
    like a write port with ``granularity = weight_bits``. A write cycle must not also need read data.
    """

    def __init__(self, words: int, lanes: int, weight_bits: int, *, primitive: bool):
        self.words = words
        self.lanes = lanes
        self.weight_bits = weight_bits
        self.word_width = lanes * weight_bits
        self.primitive = primitive
        self.geometry = spram_geometry(words, self.word_width, weight_bits)
        address = ceil_log2(max(2, words))
        super().__init__({
            "read_addr": In(address), "read_data": Out(self.word_width),
            "write_addr": In(address), "write_data": In(self.word_width), "write_en": In(lanes),
        })

    def elaborate(self, platform):
        # Cycle c: the address (write address in a write cycle, else the read address) goes to every block;
        # cycle c+1: the addressed block's DATAOUT, shifted by the slot registered in cycle c, is read_data.
        m = Module()
        per_word = self.geometry["per_word"]
        slot_bits = ceil_log2(per_word)
        width = self.word_width
        writing = self.write_en.any()
        address = Signal.like(self.read_addr, name="spram_core_address")
        m.d.comb += address.eq(self.read_addr)
        with m.If(writing):
            m.d.comb += address.eq(self.write_addr)
        slot = address[:slot_bits] if slot_bits else Const(0, 1)
        word = address[slot_bits:]
        local = word[:14]
        block = word[14:] if len(word) > 14 else Const(0, 1)
        read_slot = Signal(max(1, slot_bits), name="spram_read_slot")
        read_block = Signal(max(1, len(block)), name="spram_read_block")
        m.d.sync += [read_slot.eq(slot), read_block.eq(block)]

        data_in = Signal(16, name="spram_data_in")
        mask = Signal(4, name="spram_nibble_mask")
        with m.Switch(slot):
            for s in range(per_word):
                with m.Case(s):
                    m.d.comb += data_in.eq(self.write_data << (s * width))
                    nibbles = []
                    for n in range(4):
                        # nibble n holds bits 4n..4n+3: lane k of slot s when its Bw bits start at or below
                        owner = (4 * n - s * width) // self.weight_bits
                        inside = 0 <= 4 * n - s * width and owner < self.lanes
                        nibbles.append(self.write_en[owner] if inside else Const(0))
                    m.d.comb += mask.eq(Cat(*nibbles))

        outputs = []
        for b in range(self.geometry["blocks"]):
            data_out = Signal(16, name=f"spram{b}_data_out")
            write_enable = writing & (block == b)
            if self.primitive:
                m.submodules[f"spram{b}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=local, i_DATAIN=data_in, i_MASKWREN=mask, i_WREN=write_enable,
                    i_CHIPSELECT=Const(1), i_CLOCK=ClockSignal(), i_STANDBY=Const(0), i_SLEEP=Const(0),
                    i_POWEROFF=Const(1), o_DATAOUT=data_out,
                )
            else:
                model = Spram256kModel()
                m.submodules[f"spram{b}"] = model
                m.d.comb += [model.ADDRESS.eq(local), model.DATAIN.eq(data_in), model.MASKWREN.eq(mask),
                             model.WREN.eq(write_enable), model.CHIPSELECT.eq(1), data_out.eq(model.DATAOUT)]
            outputs.append(data_out)
        selected = Signal(16, name="spram_selected")
        with m.Switch(read_block):
            for b, data_out in enumerate(outputs):
                with m.Case(b):
                    m.d.comb += selected.eq(data_out)
        with m.Switch(read_slot):
            for s in range(per_word):
                with m.Case(s):
                    m.d.comb += self.read_data.eq(selected[s * width:(s + 1) * width])
        return m
