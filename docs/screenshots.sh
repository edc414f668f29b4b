#!/usr/bin/env bash
# Regenerates docs/dashboard.png (NODE selected) and docs/report.png (its grading, cost and configuration
# sections) from a run directory, in headless Chromium driven over the DevTools protocol by an ignored test.
# Usage: docs/screenshots.sh RUN_DIR NODE
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ML_MASTER_SCREENSHOT_RUN=$(realpath "$1") ML_MASTER_SCREENSHOT_NODE=$2 ML_MASTER_SCREENSHOT_OUT=$out \
    cargo test --quiet -p mlm-cli --test cli docs_screenshots -- --ignored >/dev/null
base64 -d "$out/dashboard.png.b64" > docs/dashboard.png
base64 -d "$out/report.png.b64" > docs/report.png
echo "wrote docs/dashboard.png and docs/report.png"
