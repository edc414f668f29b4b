#!/usr/bin/env bash
# Execution-slot utilisation of the engine with a scripted operator of latency L and scripts of E
# seconds, for 1, 2, 4 and 8 slots, with two workers per slot or, given `auto`, `workers = "auto"`.
# Usage: bench/utilisation.sh [L] [E] [NODES_PER_SLOT] [auto]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p mlm-engine --example utilisation -- "${1:-0.2}" "${2:-0.2}" "${3:-12}" ${4:+"$4"}
