"""cocotb testbench: the generated core in the :mod:`fxsnn.sim.wrapper` harness, checked against the emulator.

Structure (STYLE.md): the **driver** and **monitors** are the harness's Verilog (stimulus memory with LFSR
idle gaps, LFSR back-pressure on ``results``/``trace``, capture files), so no Python runs per clock cycle;
the **model** is the emulator's full trace (:func:`fxsnn.emulator.simulate` with ``trace=True``); the
**checker** is :class:`fxsnn.sim.checker.Checker`. Python only works per chunk of samples: write the
stimulus, raise ``start``, await ``done``, parse the captures, compare.

The job (network, events, options) comes from the pickle named by the ``FXSNN_SIM_JOB`` environment
variable, written by :func:`fxsnn.sim.runner.verify`. Each entry of ``job["runs"]`` (e.g. steady input with
no stalls, and random idle gaps with random back-pressure) becomes one cocotb test through
``@cocotb.parametrize``; each writes ``summary-<run>.json`` next to the job.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge, Timer, with_timeout

from fxsnn.emulator import simulate
from fxsnn.hdl.cycles import cycle_model

from .checker import Checker
from .streams import read_hex_columns, write_stimulus
from .wrapper import STIM_DEPTH_BITS, Field

CLOCK_NS = 10  # the harness toggles clk every 5 ns


def _load_job() -> dict:
    path = os.environ.get("FXSNN_SIM_JOB")
    if not path:
        raise RuntimeError("FXSNN_SIM_JOB is not set: run this bench through fxsnn.sim.runner.verify")
    with open(path, "rb") as handle:
        job = pickle.load(handle)
    job["dir"] = Path(path).parent
    return job


JOB = _load_job()


def _chunks(offsets: np.ndarray, max_samples: int, max_words: int):
    """Split samples into consecutive chunks that fit the stimulus memory."""
    n, start = offsets.size - 1, 0
    while start < n:
        stop = start + 1
        while stop < n and stop - start < max_samples and offsets[stop + 1] - offsets[start] <= max_words:
            stop += 1
        if offsets[stop] - offsets[start] > max_words:
            raise RuntimeError(
                f"sample {start} needs {offsets[stop] - offsets[start]} stimulus words, "
                f"more than the harness memory ({max_words})"
            )
        yield start, stop
        start = stop


@cocotb.test()
@cocotb.parametrize(run=[r["name"] for r in JOB["runs"]])
async def verify_against_emulator(dut, run: str) -> None:
    """Stream every sample through the core and compare every trace beat and result with the emulator."""
    options = next(r for r in JOB["runs"] if r["name"] == run)
    net, events, words, offsets = JOB["network"], JOB["events"], JOB["words"], JOB["offsets"]
    fields = JOB["fields"]
    has_trace = "trace" in fields
    steady = options["idle_threshold"] == 0 and options["stall_threshold"] == 0
    log = dut._log
    workdir = Path.cwd()

    dut.start.value = 0
    dut.seed.value = int(options["seed"]) & 0xFFFFFFFF
    dut.idle_threshold.value = int(options["idle_threshold"])
    dut.stall_threshold.value = int(options["stall_threshold"])
    await Timer(20 * CLOCK_NS, "ns")  # the harness holds the core in reset for its first 4 cycles

    checker = Checker(net)
    cycles_total = 0
    model_mismatches, model_first = 0, None
    sample_cycles_all = []
    wall0 = time.perf_counter()
    t_model = t_sim = t_check = 0.0
    result_fields = [*JOB["result_fields"], Field("sample_cycles", 0, 64), Field("cycle", 0, 64)]
    trace_fields = JOB["trace_fields"]
    for start, stop in _chunks(offsets, JOB["chunk_samples"], 1 << STIM_DEPTH_BITS):
        t0 = time.perf_counter()
        chunk = events.select(slice(start, stop))
        expected = simulate(net, chunk, trace=has_trace)
        chunk_words = words[offsets[start] : offsets[stop]]
        write_stimulus(workdir / "stim.hex", chunk_words, JOB["events_width"])
        n = stop - start
        n_trace = n * net.num_steps * sum(layer.n_out for layer in net.layers) if has_trace else 0
        predicted = sum(
            cycle_model(
                net,
                JOB["lanes"],
                int(expected.input_events[b]),
                [int(c[b].sum()) for c in expected.spike_counts],
                trace=has_trace,
            )
            for b in range(n)
        )
        # Generous: random gaps and stalls slow the core down, but never by more than ~10x at <= 50%.
        timeout_ns = (predicted * 20 + 10_000) * CLOCK_NS
        t1 = time.perf_counter()
        dut.n_words.value = int(chunk_words.size)
        dut.n_results.value = n
        dut.n_trace.value = n_trace
        cycle_before = int(dut.cycle.value)
        dut.start.value = 1
        try:
            await with_timeout(RisingEdge(dut.done), timeout_ns, "ns")
        except TimeoutError:
            raise AssertionError(
                f"samples {start}..{stop - 1}: the core did not deliver {n} results and {n_trace} trace "
                f"beats within {timeout_ns // CLOCK_NS} cycles (cycle model: {predicted}); protocol_error="
                f"{int(dut.protocol_error.value)}"
            ) from None
        dut.start.value = 0
        cycles_total += int(dut.cycle.value) - cycle_before
        # Let the harness see start low on a clock edge, or the next chunk's start would be no edge at all
        # (Python below runs while simulated time stands still).
        await Timer(3 * CLOCK_NS, "ns")
        t2 = time.perf_counter()
        res = read_hex_columns(workdir / "results.hex", result_fields)
        k = len(JOB["result_fields"]) - 1
        checker.check_results(start, expected, np.stack(res[1 : 1 + k], axis=1), res[0])
        sample_cycles = res[1 + k]
        sample_cycles_all.append(sample_cycles)
        if has_trace:
            cols = read_hex_columns(workdir / "trace.hex", trace_fields)
            names = ("layer", "neuron", "spike", "current", "membrane")
            checker.check_trace(start, expected, dict(zip(names, cols, strict=True)))
        if steady:  # without stalls the cycle model is exact, sample by sample
            for b in range(min(n, sample_cycles.size)):
                want = cycle_model(
                    net,
                    JOB["lanes"],
                    int(expected.input_events[b]),
                    [int(c[b].sum()) for c in expected.spike_counts],
                    trace=has_trace,
                )
                if int(sample_cycles[b]) != want:
                    model_mismatches += 1
                    if model_first is None:
                        model_first = {"sample": start + b, "expected": want, "actual": int(sample_cycles[b])}
        t3 = time.perf_counter()
        t_model += t1 - t0
        t_sim += t2 - t1
        t_check += t3 - t2
        log.info(
            "%s: samples %d..%d checked, %d mismatches so far (%.1f s simulated)",
            run,
            start,
            stop - 1,
            checker.mismatches,
            t2 - t1,
        )

    await Timer(200 * CLOCK_NS, "ns")  # anything the core emits after the last expected beat is an error
    extra = int(dut.extra_beats.value)
    protocol_error = int(dut.protocol_error.value)
    wall = time.perf_counter() - wall0
    all_cycles = np.concatenate(sample_cycles_all) if sample_cycles_all else np.zeros(0, np.int64)
    summary = {
        "run": run,
        "simulator": JOB["simulator"],
        "lanes": JOB["lanes"],
        "seed": options["seed"],
        "idle_threshold": options["idle_threshold"],
        "stall_threshold": options["stall_threshold"],
        "samples": checker.samples,
        "steps": checker.samples * net.num_steps,
        "trace_beats": checker.trace_beats,
        "mismatches": checker.mismatches + extra + protocol_error,
        "first_mismatch": checker.first.to_dict() if checker.first else None,
        "extra_beats": extra,
        "protocol_error": bool(protocol_error),
        "cycle_model_checked": steady,
        "cycle_model_mismatches": model_mismatches,
        "cycle_model_first_mismatch": model_first,
        "cycles_per_sample_mean": float(all_cycles.mean()) if all_cycles.size else 0.0,
        "simulated_cycles": cycles_total,
        "wall_time_s": round(wall, 3),
        "simulation_time_s": round(t_sim, 3),
        "model_time_s": round(t_model, 3),
        "check_time_s": round(t_check, 3),
        "cycles_per_s": round(cycles_total / t_sim, 1) if t_sim > 0 else 0.0,
    }
    out = JOB["dir"] / f"summary-{run}.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2))
    os.replace(tmp, out)
    first = checker.first.describe() if checker.first else None
    assert checker.mismatches == 0, f"{checker.mismatches} mismatching values; first: {first}"
    assert extra == 0, f"the core emitted {extra} beats beyond the expected results and trace"
    assert not protocol_error, "the core raised protocol_error on a well-formed event stream"
