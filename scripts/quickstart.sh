#!/usr/bin/env bash
# Set everything up, then run fxsnn's main job on the built-in digits data (scikit-learn's 8x8 digits,
# no download): train a 64-100-10 network with an 80:20 E:I hidden layer on the integer forward pass,
# evaluate it with the bit-exact emulator, generate its hardware core, and verify that core on Verilator
# against the emulator, every neuron at every step.
# Outputs go to runs/quickstart/ (override with QUICKSTART_OUT=DIR).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

out="${QUICKSTART_OUT:-runs/quickstart}"
mkdir -p "$out"
model="$out/model.fxsnn"

step() { printf '\n[quickstart] + %s\n' "$*"; "$@"; }

start=$(date +%s)
step fxsnn train --config configs/digits.toml --out "$out"
step fxsnn eval "$model"
step fxsnn info "$model"
step fxsnn hdl generate "$model" --out "$out/core" --lanes 10
step fxsnn hdl verify "$model" --sim verilator --samples 100 --lanes 10 --build-dir "$out/sim_build"
printf '\n[quickstart] main job done in %s s; results in %s/ (model.fxsnn, history.jsonl, core/, sim_build/)\n' \
    "$(( $(date +%s) - start ))" "$out"
