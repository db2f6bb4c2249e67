"""The event-driven, time-multiplexed spiking core (CONTRACTS.md, "Hardware core").

Storage, per layer ``l`` with ``N_in`` inputs, ``N`` neurons, ``P`` lanes and ``G = ceil(N / P)`` groups:

- weights: ``N_in * G`` words of ``P`` magnitudes (word ``row * G + g`` holds neurons ``g*P .. g*P+P-1`` of
  input ``row``; lanes past ``N`` hold 0), one read per cycle;
- accumulator: ``G`` words of ``P`` signed ``A``-bit exact input sums (section 2/4.1), cleared when read by
  the update pass;
- current and membrane: ``G`` words of ``P`` signed ``B``-bit values each;
- hidden layers also keep a ``G*P``-bit spike vector of the current step; the readout keeps ``K`` running
  maximum scores in registers.

The schedule, its cycle counts and the reasons are written at the top of :meth:`SpikingCore.elaborate`, and
the exact count is :func:`fxsnn.hdl.cycle_model`.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from fxsnn.errors import UsageError
from fxsnn.network import Network

from .cycles import groups
from .datapath import NeuronDatapath
from .spram import SpramWeights, spram_geometry

__all__ = ["SpikingCore", "MAX_LANES", "WEIGHT_STORAGES", "port_layouts"]

#: Where the first layer's weights can live (see SpikingCore).
WEIGHT_STORAGES = ("memory", "ice40_spram", "ice40_spram_model")

#: A generous bound on the lanes parameter (every lane is a full neuron datapath).
MAX_LANES = 1024


def _width(count: int) -> int:
    """Bits of an index in ``range(count)`` (at least 1, as CONTRACTS.md fixes)."""
    return max(1, ceil_log2(count))


def _state_depth(groups_: int) -> int:
    """Depth of the per-group memories: G, but at least 2 (a 1-deep memory has a zero-width address, which
    Amaranth writes as an ascending ``[-1:0]`` range that Verilog tools warn about)."""
    return max(2, groups_)


def port_layouts(network: Network) -> dict:
    """The payload layouts of the core's streams for ``network`` (independent of lanes and options)."""
    layers = network.layers
    n_layers = len(layers)
    layer_field = unsigned(_width(n_layers))
    max_neurons = max(layer.n_out for layer in layers)
    max_rows = max(layer.n_in for layer in layers)
    state_max = max(layer.params.state_bits for layer in layers)
    return {
        "events": data.StructLayout({
            "index": unsigned(_width(network.n_inputs)),
            "end_of_step": 1,
            "end_of_sample": 1,
        }),
        "results": data.StructLayout({
            "prediction": unsigned(_width(network.n_outputs)),
            "scores": data.ArrayLayout(signed(network.readout.params.state_bits), network.n_outputs),
        }),
        "trace": data.StructLayout({
            "layer": layer_field,
            "neuron": unsigned(_width(max_neurons)),
            "spike": 1,
            "current": signed(state_max),
            "membrane": signed(state_max),
        }),
        "weights": data.StructLayout({
            "layer": layer_field,
            "row": unsigned(_width(max_rows)),
            "column": unsigned(_width(max_neurons)),
            "magnitude": unsigned(max(layer.params.weight_bits for layer in layers)),
        }),
    }


def weight_words(weights: np.ndarray, lanes: int, weight_bits: int) -> list[int]:
    """Pack a layer's ``(n_in, n_out)`` magnitudes into the weight memory's words (module docstring)."""
    n_in, n_out = weights.shape
    g = groups(n_out, lanes)
    padded = np.zeros((n_in, g * lanes), dtype=object)
    padded[:, :n_out] = weights.astype(np.int64).astype(object)
    padded = padded.reshape(n_in * g, lanes)
    words = [0] * (n_in * g)
    for k in range(lanes):
        column = padded[:, k]
        for address in np.flatnonzero(column):
            words[address] |= int(column[address]) << (k * weight_bits)
    return words


class SpikingCore(wiring.Component):
    """A spiking core computing ``network`` bit-exactly (docs/fixed-point.md), ``lanes`` neurons per cycle.

    Parameters
    ----------
    network : Network
        Any network the emulator runs; its weights initialise the weight memories.
    lanes : int
        P: neurons updated, and weight magnitudes read, per cycle (1 .. max layer size, at most 1024).
    writable_weights : bool
        Add the ``weights`` stream: between samples, a beat ``(layer, row, column, magnitude)`` overwrites one
        stored magnitude (``layer`` = len(hidden) addresses the readout).
    weight_storage : {"memory", "ice40_spram", "ice40_spram_model"}
        Where the first layer's weights live. ``memory``: an Amaranth memory initialised from the network
        (block RAM). ``ice40_spram``: iCE40UP5K ``SB_SPRAM256KA`` primitives (:mod:`fxsnn.hdl.spram`); they
        start empty, so this needs ``writable_weights`` and the host loads the weights.
        ``ice40_spram_model``: the same logic with a behavioural SPRAM model, for simulation.
    trace : bool
        Add the ``trace`` stream: one beat per neuron per step, docs/fixed-point.md section 4.6 order.

    Attributes
    ----------
    events : In(stream.Signature(...))
        ``index``, ``end_of_step``, ``end_of_sample``; see CONTRACTS.md.
    results : Out(stream.Signature(...))
        ``prediction`` and ``scores``, one beat per sample.
    trace : Out(stream.Signature(...))
        ``layer``, ``neuron``, ``spike``, ``current``, ``membrane`` (only if ``trace``).
    weights : In(stream.Signature(...))
        ``layer``, ``row``, ``column``, ``magnitude`` (only if ``writable_weights``).
    protocol_error : Out(1)
        Sticky: an ``end_of_sample`` flag on the wrong beat, an input index out of range, or a weight write
        out of range (dropped). Cleared only by reset.
    """

    def __init__(self, network: Network, *, lanes: int = 1, writable_weights: bool = False,
                 trace: bool = True, weight_storage: str = "memory"):
        try:
            self._validate(network, lanes, writable_weights, trace)
            if weight_storage not in WEIGHT_STORAGES:
                raise UsageError(f"weight_storage must be one of {WEIGHT_STORAGES}, not {weight_storage!r}")
            if weight_storage != "memory":
                if not writable_weights:
                    raise UsageError(f"weight_storage={weight_storage!r} starts with empty weights (SPRAM "
                                     "has no bitstream initialisation): it needs writable_weights=True")
                first = network.layers[0]
                spram_geometry(first.n_in * groups(first.n_out, lanes), lanes * first.params.weight_bits,
                               first.params.weight_bits)
        except UsageError:
            self._MustUse__silence = True  # rejected, never elaborated: no "created but never used" warning
            raise
        self.network = network
        self.lanes = int(lanes)
        self.writable_weights = writable_weights
        self.has_trace = trace
        self.weight_storage = weight_storage
        self.layouts = port_layouts(network)
        members = {
            "events": In(stream.Signature(self.layouts["events"])),
            "results": Out(stream.Signature(self.layouts["results"])),
            "protocol_error": Out(1),
        }
        if trace:
            members["trace"] = Out(stream.Signature(self.layouts["trace"]))
        if writable_weights:
            members["weights"] = In(stream.Signature(self.layouts["weights"]))
        super().__init__(members)

    @staticmethod
    def _validate(network, lanes, writable_weights, trace) -> None:
        if not isinstance(network, Network):
            raise UsageError(f"network must be an fxsnn.network.Network, not {network!r}")
        if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)):
            raise UsageError(f"lanes must be an integer, not {lanes!r}")
        largest = max(layer.n_out for layer in network.layers)
        if not 1 <= lanes <= min(largest, MAX_LANES):
            raise UsageError(
                f"lanes must be in [1, {min(largest, MAX_LANES)}] (the largest layer has {largest} neurons), "
                f"not {lanes!r}"
            )
        if not isinstance(writable_weights, bool):
            raise UsageError(f"writable_weights must be True or False, not {writable_weights!r}")
        if not isinstance(trace, bool):
            raise UsageError(f"trace must be True or False, not {trace!r}")

    # -- geometry, shared with the manifest ---------------------------------------------------------------

    def memory_plan(self) -> list[dict]:
        """Every memory the core instantiates: name, depth, width (bits) and total bits."""
        plan = []
        for index, layer in enumerate(self.network.layers):
            p = layer.params
            g = groups(layer.n_out, self.lanes)
            acc_bits = self.network.accumulator_bits(index)
            for kind, depth, width in (
                ("weights", layer.n_in * g, self.lanes * p.weight_bits),
                ("accumulator", _state_depth(g), self.lanes * acc_bits),
                ("current", _state_depth(g), self.lanes * p.state_bits),
                ("membrane", _state_depth(g), self.lanes * p.state_bits),
            ):
                entry = {"name": f"layer{index}_{kind}", "layer": index, "kind": kind, "depth": depth,
                         "width": width, "bits": depth * width,
                         "writable": kind != "weights" or self.writable_weights, "storage": "memory"}
                if index == 0 and kind == "weights" and self.weight_storage != "memory":
                    geometry = spram_geometry(depth, width, p.weight_bits)
                    entry["storage"] = f"SB_SPRAM256KA x {geometry['blocks']} (no initial contents)"
                    entry.update(geometry)
                plan.append(entry)
        return plan

    def elaborate(self, platform):
        # Schedule (one FSM; P = lanes, G_l = ceil(N_l / P), all cycle counts without back-pressure):
        #
        # CLEAR     after reset: zero every accumulator word (max G_l cycles), once.
        # WAIT      accept one event. A spike event on input i issues the reads of weight word i*G_0 and
        #           accumulator word 0 of layer 0 and goes to ACC_0. An end-of-step event issues the reads of
        #           group 0 of layer 0's state and accumulator and goes to UPD_0.
        # ACC_l     one cycle per group g: the weight word and accumulator word of g are on the memories'
        #           outputs; write acc[g] + sign * (w << S) for the P lanes and issue the reads of g+1. On the
        #           last group, ACC_0 already accepts the next event (so an input event costs exactly G_0
        #           cycles), and ACC_l (l > 0) clears the spike it consumed and issues the next spike of layer
        #           l-1 (lowest index first) or, when none is left, the update pass of layer l.
        #           The accumulator's read port is transparent, so reading a word in the cycle it is written
        #           (G = 1, back-to-back events) sees the new sum.
        # UPD_l     one cycle per group: I, V and acc of group g are on the memories' outputs (I, V forced to
        #           0 in step 0, so no clear pass is needed between samples); P NeuronDatapaths compute spike,
        #           I', V'; write I', V', clear acc[g], record the spikes (hidden) or the running max score
        #           (readout); issue the reads of g+1. With the trace stream the results are latched and
        #           TRACE_l emits one beat per neuron of the group first (back-pressure just waits there).
        # PROP_l    (hidden l, one cycle) issue the first spike of layer l into ACC_{l+1}, or, if layer l did
        #           not spike, the update pass of layer l+1.
        # after the readout's update pass: next step (WAIT), or after step T-1: ARGMAX (K cycles, strict >
        #           so a tie keeps the lowest index), RESULT (until accepted; then scores := 0, step := 0).
        # WW_*      (writable weights, only between samples) find the word and lane of the column by repeated
        #           subtraction, then write the one magnitude with a lane write-enable.
        m = Module()
        net = self.network
        lanes = self.lanes
        layers = net.layers
        n_layers = len(layers)
        readout_index = n_layers - 1
        num_steps = net.num_steps
        group_counts = [groups(layer.n_out, lanes) for layer in layers]
        max_groups = max(group_counts)

        # ---- storage ----------------------------------------------------------------------------------
        weight_read, weight_write = [], []
        acc_read, acc_write = [], []
        current_read, current_write, membrane_read, membrane_write = [], [], [], []
        acc_widths = []
        for index, layer in enumerate(layers):
            p = layer.params
            g = group_counts[index]
            acc_bits = net.accumulator_bits(index)
            acc_widths.append(acc_bits)
            if index == 0 and self.weight_storage != "memory":
                store = SpramWeights(layer.n_in * g, lanes, p.weight_bits,
                                     primitive=self.weight_storage == "ice40_spram")
                m.submodules[f"layer{index}_weights"] = store
                weight_read.append(SimpleNamespace(addr=store.read_addr, data=store.read_data))
                weight_write.append(SimpleNamespace(addr=store.write_addr, data=store.write_data,
                                                    en=store.write_en))
            else:
                weights = memory.Memory(shape=unsigned(lanes * p.weight_bits), depth=layer.n_in * g,
                                        init=weight_words(layer.weights, lanes, p.weight_bits))
                m.submodules[f"layer{index}_weights"] = weights
                weight_write.append(
                    weights.write_port(granularity=p.weight_bits) if self.writable_weights else None)
                weight_read.append(weights.read_port())
            acc = memory.Memory(shape=unsigned(lanes * acc_bits), depth=_state_depth(g), init=[])
            m.submodules[f"layer{index}_accumulator"] = acc
            acc_write.append(acc.write_port())
            acc_read.append(acc.read_port(transparent_for=(acc_write[-1],)))
            for kind, reads, writes in (("current", current_read, current_write),
                                        ("membrane", membrane_read, membrane_write)):
                mem = memory.Memory(shape=unsigned(lanes * p.state_bits), depth=_state_depth(g), init=[])
                m.submodules[f"layer{index}_{kind}"] = mem
                writes.append(mem.write_port())
                reads.append(mem.read_port())

        # ---- control registers ------------------------------------------------------------------------
        step = Signal(range(max(2, num_steps)), name="step")
        group = Signal(range(max(2, max_groups)), name="group")
        row = Signal(range(max(2, max(layer.n_in for layer in layers))), name="row")
        weight_words_max = max(layer.n_in * g for layer, g in zip(layers, group_counts, strict=True))
        weight_address = Signal(range(max(2, weight_words_max)), name="weight_address")
        in_sample = Signal(name="in_sample")
        protocol_error = Signal(name="protocol_error_flag")
        m.d.comb += self.protocol_error.eq(protocol_error)

        spikes = [Signal(g * lanes, name=f"layer{index}_spikes")
                  for index, g in enumerate(group_counts[:-1])]
        # ``remaining[l]``: layer l's spikes still to propagate, after the one consumed this cycle.
        remaining = [Signal(len(s), name=f"layer{index}_remaining") for index, s in enumerate(spikes)]
        next_spike = [Signal(range(max(2, layers[index].n_out)), name=f"layer{index}_next_spike")
                      for index in range(len(spikes))]
        for index, (vector, rest, first) in enumerate(zip(spikes, remaining, next_spike, strict=True)):
            m.d.comb += rest.eq(vector)
            # Lowest set bit of the real neurons (padding lanes never spike: their state stays 0).
            with m.Switch(rest[:layers[index].n_out]):
                for j in range(layers[index].n_out):
                    pattern = "-" * (layers[index].n_out - j - 1) + "1" + "0" * j
                    with m.Case(pattern):
                        m.d.comb += first.eq(j)

        readout = layers[readout_index]
        score_bits = readout.params.state_bits
        scores = Array(Signal(signed(score_bits), name=f"score{k}") for k in range(readout.n_out))
        best_index = Signal(range(max(2, readout.n_out)), name="best_index")
        best_score = Signal(signed(score_bits), name="best_score")
        argmax_index = Signal(range(max(2, readout.n_out)), name="argmax_index")

        # ---- datapaths --------------------------------------------------------------------------------
        lane_outputs = []  # per layer: list of (spike, new_current, new_membrane) per lane
        for index, layer in enumerate(layers):
            p = layer.params
            bits = p.state_bits
            acc_bits = acc_widths[index]
            outs = []
            for k in range(lanes):
                dp = NeuronDatapath(p, acc_bits, readout=index == readout_index)
                m.submodules[f"layer{index}_lane{k}"] = dp
                old_current = current_read[index].data[k * bits:(k + 1) * bits].as_signed()
                old_membrane = membrane_read[index].data[k * bits:(k + 1) * bits].as_signed()
                m.d.comb += [
                    dp.current.eq(Mux(step == 0, 0, old_current)),
                    dp.membrane.eq(Mux(step == 0, 0, old_membrane)),
                    dp.acc.eq(acc_read[index].data[k * acc_bits:(k + 1) * acc_bits].as_signed()),
                ]
                outs.append((dp.spike, dp.new_current, dp.new_membrane))
            lane_outputs.append(outs)

        if self.has_trace:
            max_bits = max(layer.params.state_bits for layer in layers)
            latched = [(Signal(name=f"trace_spike{k}"), Signal(signed(max_bits), name=f"trace_current{k}"),
                        Signal(signed(max_bits), name=f"trace_membrane{k}")) for k in range(lanes)]
            trace_lane = Signal(range(max(2, lanes)), name="trace_lane")
            trace_neuron = Signal(range(max(2, max(layer.n_out for layer in layers))), name="trace_neuron")

        # ---- helpers that drive the memory ports for the *next* cycle ---------------------------------
        def issue_accumulate(index, row_value):
            """Read group 0 of weight row ``row_value`` and of the accumulator of layer ``index``."""
            address = row_value * group_counts[index]
            m.d.comb += [weight_read[index].addr.eq(address), acc_read[index].addr.eq(0)]
            m.d.sync += [row.eq(row_value), group.eq(0), weight_address.eq(address)]
            m.next = f"ACC_{index}"

        def issue_update(index):
            m.d.comb += [current_read[index].addr.eq(0), membrane_read[index].addr.eq(0),
                         acc_read[index].addr.eq(0)]
            m.d.sync += group.eq(0)
            if self.has_trace:
                m.d.sync += trace_neuron.eq(0)
            m.next = f"UPD_{index}"

        def issue_next_group(index):
            m.d.comb += [current_read[index].addr.eq(group + 1), membrane_read[index].addr.eq(group + 1),
                         acc_read[index].addr.eq(group + 1)]
            m.d.sync += group.eq(group + 1)
            m.next = f"UPD_{index}"

        def after_update(index):
            if index < readout_index:
                m.next = f"PROP_{index}"
            else:
                with m.If(step == num_steps - 1):
                    m.d.sync += argmax_index.eq(0)
                    m.next = "ARGMAX"
                with m.Else():
                    m.d.sync += step.eq(step + 1)
                    m.next = "WAIT"

        def accept_event():
            """Accept the beat on ``events`` (the caller has raised ``ready`` and checked ``valid``)."""
            payload = self.events.payload
            m.d.sync += in_sample.eq(1)
            with m.If(payload.end_of_step):
                with m.If(payload.end_of_sample != (step == num_steps - 1)):
                    m.d.sync += protocol_error.eq(1)
                issue_update(0)
            with m.Elif(payload.end_of_sample | (payload.index >= net.n_inputs)):
                m.d.sync += protocol_error.eq(1)  # dropped
                m.next = "WAIT"
            with m.Else():
                issue_accumulate(0, payload.index)

        # ---- the FSM ----------------------------------------------------------------------------------
        with m.FSM(init="CLEAR"):
            with m.State("CLEAR"):
                for index, g in enumerate(group_counts):
                    with m.If(group < g):
                        m.d.comb += [acc_write[index].addr.eq(group), acc_write[index].data.eq(0),
                                     acc_write[index].en.eq(1)]
                m.d.sync += group.eq(group + 1)
                with m.If(group == max_groups - 1):
                    m.d.sync += group.eq(0)
                    m.next = "WAIT"

            with m.State("WAIT"):
                if self.writable_weights:
                    write_first = ~in_sample & self.weights.valid
                    m.d.comb += [self.weights.ready.eq(~in_sample), self.events.ready.eq(~write_first)]
                    with m.If(write_first):
                        self._accept_weight_write(m, protocol_error)
                    with m.Elif(self.events.valid):
                        accept_event()
                else:
                    m.d.comb += self.events.ready.eq(1)
                    with m.If(self.events.valid):
                        accept_event()

            for index, layer in enumerate(layers):
                p = layer.params
                g = group_counts[index]
                acc_bits = acc_widths[index]
                bits = p.state_bits

                with m.State(f"ACC_{index}"):
                    if index == 0:
                        negative = Const(0, 1)
                    else:
                        types = layers[index - 1].types
                        type_bits = sum(1 << j for j, t in enumerate(types) if t)
                        negative = Const(type_bits, len(types)).bit_select(row, 1)
                    words = []
                    for k in range(lanes):
                        magnitude = weight_read[index].data[k * p.weight_bits:(k + 1) * p.weight_bits]
                        term = magnitude << p.weight_shift
                        old = acc_read[index].data[k * acc_bits:(k + 1) * acc_bits].as_signed()
                        words.append((old + Mux(negative, -term, term))[:acc_bits])
                    m.d.comb += [acc_write[index].addr.eq(group), acc_write[index].en.eq(1),
                                 acc_write[index].data.eq(Cat(*words))]
                    with m.If(group != g - 1):
                        m.d.comb += [weight_read[index].addr.eq(weight_address + 1),
                                     acc_read[index].addr.eq(group + 1)]
                        m.d.sync += [group.eq(group + 1), weight_address.eq(weight_address + 1)]
                    with m.Else():
                        if index == 0:
                            m.d.comb += self.events.ready.eq(1)
                            with m.If(self.events.valid):
                                accept_event()
                            with m.Else():
                                m.next = "WAIT"
                        else:
                            source = index - 1
                            m.d.comb += remaining[source].bit_select(row, 1).eq(0)
                            m.d.sync += spikes[source].eq(remaining[source])
                            with m.If(remaining[source] != 0):
                                issue_accumulate(index, next_spike[source])
                            with m.Else():
                                issue_update(index)

                with m.State(f"UPD_{index}"):
                    outs = lane_outputs[index]
                    m.d.comb += [
                        current_write[index].addr.eq(group), current_write[index].en.eq(1),
                        current_write[index].data.eq(Cat(*[o[1] for o in outs])),
                        membrane_write[index].addr.eq(group), membrane_write[index].en.eq(1),
                        membrane_write[index].data.eq(Cat(*[o[2] for o in outs])),
                        acc_write[index].addr.eq(group), acc_write[index].en.eq(1),
                        acc_write[index].data.eq(0),
                    ]
                    if index < readout_index:
                        m.d.sync += spikes[index].word_select(group, lanes).eq(Cat(*[o[0] for o in outs]))
                    else:
                        for k in range(layer.n_out):
                            new_u = outs[k % lanes][2]
                            with m.If((group == k // lanes) & (new_u > scores[k])):
                                m.d.sync += scores[k].eq(new_u)
                    if self.has_trace:
                        for (spike, current, membrane), (s, i, v) in zip(latched, outs, strict=True):
                            m.d.sync += [spike.eq(s), current.eq(i), membrane.eq(v)]
                        m.d.sync += trace_lane.eq(0)
                        m.next = f"TRACE_{index}"
                    else:
                        with m.If(group != g - 1):
                            issue_next_group(index)
                        with m.Else():
                            after_update(index)

                if self.has_trace:
                    with m.State(f"TRACE_{index}"):
                        lane_spike = Array(s for s, _, _ in latched)[trace_lane]
                        lane_current = Array(i for _, i, _ in latched)[trace_lane]
                        lane_membrane = Array(v for _, _, v in latched)[trace_lane]
                        payload = self.trace.payload
                        m.d.comb += [
                            self.trace.valid.eq(1),
                            payload.layer.eq(index),
                            payload.neuron.eq(trace_neuron),
                            payload.spike.eq(lane_spike),
                            payload.current.eq(lane_current),
                            payload.membrane.eq(lane_membrane),
                        ]
                        last_of_group = (trace_lane == lanes - 1) | (trace_neuron == layer.n_out - 1)
                        with m.If(self.trace.ready):
                            m.d.sync += [trace_neuron.eq(trace_neuron + 1), trace_lane.eq(trace_lane + 1)]
                            with m.If(last_of_group):
                                with m.If(group != g - 1):
                                    issue_next_group(index)
                                with m.Else():
                                    after_update(index)

                if index < readout_index:
                    with m.State(f"PROP_{index}"):
                        with m.If(spikes[index] != 0):
                            issue_accumulate(index + 1, next_spike[index])
                        with m.Else():
                            issue_update(index + 1)

            with m.State("ARGMAX"):
                candidate = scores[argmax_index]
                with m.If((argmax_index == 0) | (candidate > best_score)):
                    m.d.sync += [best_index.eq(argmax_index), best_score.eq(candidate)]
                m.d.sync += argmax_index.eq(argmax_index + 1)
                with m.If(argmax_index == readout.n_out - 1):
                    m.next = "RESULT"

            with m.State("RESULT"):
                m.d.comb += [self.results.valid.eq(1), self.results.payload.prediction.eq(best_index)]
                for k in range(readout.n_out):
                    m.d.comb += self.results.payload.scores[k].eq(scores[k])
                with m.If(self.results.ready):
                    m.d.sync += [step.eq(0), in_sample.eq(0)]
                    m.d.sync += [score.eq(0) for score in scores]
                    m.next = "WAIT"

            if self.writable_weights:
                self._weight_write_states(m, weight_write, group_counts, protocol_error)
        return m

    # ---- writable weights ---------------------------------------------------------------------------

    def _accept_weight_write(self, m, protocol_error):
        payload = self.weights.payload
        layers = self.network.layers
        ww = self._ww_registers
        in_range = Signal(name="weight_write_in_range")
        with m.Switch(payload.layer):
            for index, layer in enumerate(layers):
                with m.Case(index):
                    m.d.comb += in_range.eq((payload.row < layer.n_in) & (payload.column < layer.n_out)
                                            & (payload.magnitude <= layer.params.weight_max))
        m.d.sync += [ww["layer"].eq(payload.layer), ww["row"].eq(payload.row),
                     ww["column"].eq(payload.column), ww["magnitude"].eq(payload.magnitude),
                     ww["group"].eq(0)]
        with m.If(in_range):
            m.next = "WW_DIVIDE"
        with m.Else():
            m.d.sync += protocol_error.eq(1)
            m.next = "WAIT"

    @property
    def _ww_registers(self):
        if not hasattr(self, "_ww_signals"):
            layout = self.layouts["weights"]
            self._ww_signals = {
                "layer": Signal(layout["layer"].shape, name="ww_layer"),
                "row": Signal(layout["row"].shape, name="ww_row"),
                "column": Signal(layout["column"].shape, name="ww_column"),
                "magnitude": Signal(layout["magnitude"].shape, name="ww_magnitude"),
                "group": Signal(layout["column"].shape, name="ww_group"),
            }
        return self._ww_signals

    def _weight_write_states(self, m, weight_write, group_counts, protocol_error):
        ww = self._ww_registers
        lanes = self.lanes
        with m.State("WW_DIVIDE"):
            # column -> (group, lane) by repeated subtraction: at most G cycles, only between samples.
            with m.If(ww["column"] >= lanes):
                m.d.sync += [ww["column"].eq(ww["column"] - lanes), ww["group"].eq(ww["group"] + 1)]
            with m.Else():
                m.next = "WW_WRITE"
        with m.State("WW_WRITE"):
            with m.Switch(ww["layer"]):
                for index, layer in enumerate(self.network.layers):
                    port = weight_write[index]
                    bits = layer.params.weight_bits
                    with m.Case(index):
                        m.d.comb += [
                            port.addr.eq(ww["row"] * group_counts[index] + ww["group"]),
                            port.data.eq(Cat(*[ww["magnitude"][:bits]] * lanes)),
                            port.en.eq(Const(1, lanes) << ww["column"]),
                        ]
            m.next = "WAIT"
