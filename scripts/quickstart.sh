#!/usr/bin/env bash
# Set everything up, then run fxsnn's main job on the built-in digits data (scikit-learn's 8x8 digits,
# no download): make a model file with the paper's initialisation (calibrated to a low initial firing
# rate), show what it holds, and run it on the test split with the bit-exact integer emulator.
# Outputs go to runs/quickstart/ (override with QUICKSTART_OUT=DIR).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

out="${QUICKSTART_OUT:-runs/quickstart}"
mkdir -p "$out"
model="$out/digits.fxsnn"

step() { printf '\n[quickstart] + %s\n' "$*"; "$@"; }

start=$(date +%s)
step fxsnn init --dataset digits --hidden 100 --ratio 0.8 --target-rate 10 --seed 0 --out "$model"
step fxsnn info "$model"
step fxsnn simulate "$model" --dataset digits --split test --trace "$out/trace.npz" --limit 50
step fxsnn simulate "$model" --dataset digits --split test --json > "$out/simulate.json"
printf '\n[quickstart] main job done in %s s; results in %s/ (digits.fxsnn, trace.npz, simulate.json)\n' \
    "$(( $(date +%s) - start ))" "$out"
