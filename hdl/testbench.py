"""Drive a :class:`SpikingCore` in Amaranth's Python simulator and compare it with the emulator.

Used by the unit tests (``tests/test_hdl_*.py``) and by ``bench/hdl_acceptance.py``. One testbench process
drives every stream cycle by cycle, so random back-pressure is reproducible from a seed:

- ``events`` (and ``weights``) beats are offered with probability ``1 - stall`` per cycle,
- ``results`` and ``trace`` are ready with probability ``1 - stall`` per cycle.

Cycles per sample are counted as :mod:`fxsnn.hdl.cycles` defines them: from the cycle that accepts the
sample's first event to the cycle that accepts its results beat, both included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from fxsnn.encode import EventBatch
from fxsnn.network import Network

from .core import SpikingCore
from .cycles import cycle_model

__all__ = ["CoreRun", "run_core", "event_beats", "expected_trace", "first_mismatch"]


@dataclass
class CoreRun:
    """What the core produced for a batch."""

    scores: np.ndarray  # int64 (n_samples, K)
    predictions: np.ndarray  # int64 (n_samples,)
    trace: list = field(default_factory=list)  # per sample: list of (layer, neuron, spike, current, membrane)
    cycles: list = field(default_factory=list)  # per sample
    protocol_error: bool = False
    total_cycles: int = 0


def event_beats(events: EventBatch, sample: int) -> list[tuple[int, int, int]]:
    """The ``events`` stream beats ``(index, end_of_step, end_of_sample)`` of one sample."""
    steps, indices = events.sample(sample)
    beats = []
    position = 0
    for t in range(events.num_steps):
        while position < len(steps) and steps[position] == t:
            beats.append((int(indices[position]), 0, 0))
            position += 1
        beats.append((0, 1, int(t == events.num_steps - 1)))
    return beats


def expected_trace(trace, sample: int) -> list[tuple[int, int, int, int, int]]:
    """The trace beats the core must emit for ``sample``, from an emulator :class:`~fxsnn.emulator.Trace`."""
    hidden = len(trace.spikes)
    beats = []
    num_steps = trace.current[0].shape[1]
    for t in range(num_steps):
        for layer in range(len(trace.current)):
            current = trace.current[layer][sample, t]
            membrane = trace.membrane[layer][sample, t]
            spikes = trace.spikes[layer][sample, t] if layer < hidden else np.zeros(len(current), np.uint8)
            for j in range(len(current)):
                beats.append((layer, j, int(spikes[j]), int(current[j]), int(membrane[j])))
    return beats


def first_mismatch(expected: list, got: list, num_neurons_per_step: int | None = None) -> str | None:
    """``None`` if equal, else a message naming the first differing trace beat."""
    names = ("layer", "neuron", "spike", "current", "membrane")
    for position, (want, have) in enumerate(zip(expected, got, strict=False)):
        if want != have:
            where = f"beat {position}"
            if num_neurons_per_step:
                where += f" (step {position // num_neurons_per_step})"
            fields = ", ".join(f"{n}: expected {a}, got {b}"
                               for n, a, b in zip(names, want, have, strict=True) if a != b)
            return f"first trace mismatch at {where}, layer {want[0]} neuron {want[1]}: {fields}"
    if len(expected) != len(got):
        return f"trace length differs: expected {len(expected)} beats, got {len(got)}"
    return None


def run_core(network: Network, events: EventBatch, *, lanes: int = 1, trace: bool = True,
             writable_weights: bool = False, weight_writes=None, stall: float = 0.0, seed: int = 0,
             core: SpikingCore | None = None, max_cycles: int | None = None) -> CoreRun:
    """Simulate the core on every sample of ``events``.

    Parameters
    ----------
    weight_writes : dict, optional
        ``{sample: [(layer, row, column, magnitude), ...]}``: writes sent (on the weights stream) before that
        sample's events. Needs ``writable_weights``.
    stall : float
        Probability that a source withholds ``valid`` or a sink withholds ``ready`` in any cycle.
    max_cycles : int, optional
        Give up (RuntimeError) after this many cycles; default: generous bound from the cycle model.
    """
    if core is None:
        core = SpikingCore(network, lanes=lanes, trace=trace, writable_weights=writable_weights)
    rng = np.random.default_rng(seed)
    weight_writes = weight_writes or {}
    items = []  # (stream, payload dict, sample)
    for b in range(events.n_samples):
        for write in weight_writes.get(b, []):
            fields = dict(zip(("layer", "row", "column", "magnitude"), write, strict=True))
            items.append(("weights", fields, b))
        for index, end_of_step, end_of_sample in event_beats(events, b):
            beat = {"index": index, "end_of_step": end_of_step, "end_of_sample": end_of_sample}
            items.append(("events", beat, b))
    n_samples = events.n_samples
    k_out = network.n_outputs
    out = CoreRun(scores=np.zeros((n_samples, k_out), np.int64), predictions=np.zeros(n_samples, np.int64),
                  trace=[[] for _ in range(n_samples)], cycles=[0] * n_samples)
    if max_cycles is None:
        # Every hidden neuron spiking at every step bounds the work; stalls stretch each cycle by 1/(1-stall).
        all_spikes = [layer.n_out * network.num_steps for layer in network.hidden]
        busiest = cycle_model(network, core.lanes, int(events.steps.size), all_spikes, trace=core.has_trace)
        max_cycles = int((busiest * n_samples + 1000) * 2 / (1.0 - min(stall, 0.95)))
    has_trace = core.has_trace
    stall = float(stall)

    async def testbench(ctx):
        # Every ctx.set makes the simulator settle the design again, so only changes are written.
        driven = {}

        def drive(signal, value):
            key = id(signal)
            if driven.get(key) != value:
                ctx.set(signal, value)
                driven[key] = value

        sources = ("events", "weights") if writable_weights else ("events",)
        position = 0
        sample_done = 0
        first_cycle = [None] * n_samples
        cycle = 0
        while sample_done < n_samples:
            if cycle >= max_cycles:
                raise RuntimeError(f"the core did not finish within {max_cycles} cycles "
                                   f"({sample_done} of {n_samples} samples done)")
            offering = None
            if position < len(items) and (stall == 0.0 or rng.random() >= stall):
                offering = items[position]
            for name in sources:
                port = getattr(core, name)
                if offering is not None and offering[0] == name:
                    if driven.get(id(port.payload)) != position:  # set each item's payload once
                        ctx.set(port.payload, offering[1])
                        driven[id(port.payload)] = position
                    drive(port.valid, 1)
                else:
                    drive(port.valid, 0)
            results_ready = stall == 0.0 or rng.random() >= stall
            drive(core.results.ready, int(results_ready))
            if has_trace:
                trace_ready = stall == 0.0 or rng.random() >= stall
                drive(core.trace.ready, int(trace_ready))
                if trace_ready and ctx.get(core.trace.valid):
                    beat = ctx.get(core.trace.payload)
                    out.trace[sample_done].append((int(beat.layer), int(beat.neuron), int(beat.spike),
                                                   int(beat.current), int(beat.membrane)))
            if offering is not None and ctx.get(getattr(core, offering[0]).ready):
                b = offering[2]
                if offering[0] == "events" and first_cycle[b] is None:
                    first_cycle[b] = cycle
                position += 1
            if results_ready and ctx.get(core.results.valid):
                beat = ctx.get(core.results.payload)
                out.predictions[sample_done] = int(beat.prediction)
                for k in range(k_out):
                    out.scores[sample_done, k] = int(beat.scores[k])
                out.cycles[sample_done] = cycle - first_cycle[sample_done] + 1
                sample_done += 1
            await ctx.tick()
            cycle += 1
        out.protocol_error = bool(ctx.get(core.protocol_error))
        out.total_cycles = cycle

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return out
