#!/usr/bin/env bash
# A Ray cluster of one node on this machine: starts a head on 127.0.0.1 with the cluster profile's `ray`
# (bounded CPUs, the dashboard on loopback only), runs a small suite through `--executor ray`, and stops
# the head, also when the bench fails. The bench directory is local, which one node shares with itself.
# Usage: bench/ray-local.sh [SUITE] [OUT]   (CPUS=2 by default; DASHBOARD_PORT=8265, GCS_PORT=6379)
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-bench/suites/ray-local.toml}"
out="${2:-bench-out/ray-local}"
cpus="${CPUS:-2}"
dashboard_port="${DASHBOARD_PORT:-8265}"
gcs_port="${GCS_PORT:-6379}"

cargo build --quiet -p mlm-cli
ml_master="$PWD/target/debug/ml-master"
"$ml_master" env setup --profile cluster
"$ml_master" env setup
ray="${ML_MASTER_HOME:-$HOME/.cache/ml-master}/envs/cluster/bin/ray"

# Set before the start, so that a start that fails half-way is stopped too.
trap '"$ray" stop' EXIT
# Ray gives its dashboard 60 s to come up, which a loaded machine overruns.
export RAY_DASHBOARD_STARTUP_TIMEOUT_S="${RAY_DASHBOARD_STARTUP_TIMEOUT_S:-300}"
"$ray" start --head --node-ip-address 127.0.0.1 --port "$gcs_port" \
    --dashboard-host 127.0.0.1 --dashboard-port "$dashboard_port" --include-dashboard true \
    --num-cpus "$cpus" --disable-usage-stats

"$ml_master" bench --suite "$suite" --out "$out" --slots 1 --concurrency "$cpus" \
    --executor ray --ray-address "http://127.0.0.1:$dashboard_port"
