#!/usr/bin/env bash
# Surveys of the built-in coder, too slow for the test suite: every model family's draft on every bundled
# task (graded against the hidden answers and compared with each task's baseline), and every improve move.
# Usage: bench/builtin-survey.sh [families|moves]   (SURVEY_TASK=<name> limits the moves survey to a task)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-families}" in
  families) test=every_family_on_every_task ;;
  moves) test=every_improve_move_runs ;;
  *) echo "usage: $0 [families|moves]" >&2; exit 2 ;;
esac
cargo test --release -p mlm-coder --test builtin_scripts "$test" -- --ignored --nocapture
