#!/usr/bin/env bash
# Execution-slot utilisation of the engine with a scripted operator of latency L and scripts of E
# seconds, for 1, 2, 4 and 8 slots. Usage: bench/utilisation.sh [L] [E] [NODES_PER_SLOT]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p mlm-engine --example utilisation -- "${1:-0.2}" "${2:-0.2}" "${3:-12}"
