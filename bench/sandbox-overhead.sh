#!/usr/bin/env bash
# Per-node cost of the sandbox: wall time of `ml-master exec` running `print(1)` on a tiny task, 20 runs
# per binary, interleaved so that the machine's load falls on each alike. Compare two builds with
# `bench/sandbox-overhead.sh OLD_BINARY NEW_BINARY`; with no argument it builds and times this checkout.
# Usage: bench/sandbox-overhead.sh [BINARY...]   (RUNS=20 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    cargo build --quiet -p mlm-cli
    set -- "$PWD/target/debug/ml-master"
fi
runs="${RUNS:-20}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
task="$scratch/task"
mkdir -p "$task/prepared/public" "$task/prepared/private"
cat > "$task/task.toml" <<'TOML'
id = "tiny"
name = "Tiny"

[grading]
metric = "accuracy"
answers = "prepared/private/answers.csv"
sample_submission = "prepared/public/sample_submission.csv"
id_column = "id"
TOML
printf 'id,y\n1,0\n2,1\n' > "$task/prepared/public/train.csv"
printf 'id\n3\n' > "$task/prepared/public/test.csv"
printf 'id,y\n3,0\n' > "$task/prepared/public/sample_submission.csv"
printf 'id,y\n3,1\n' > "$task/prepared/private/answers.csv"
echo "# tiny" > "$task/prepared/public/description.md"
echo "print(1)" > "$scratch/print.py"
for run in $(seq "$runs"); do
    index=0
    for binary in "$@"; do
        index=$((index + 1))
        start=$(date +%s%N)
        "$binary" exec --task "$task" "$scratch/print.py" --node-dir "$scratch/nodes/$index-$run" >/dev/null 2>&1 \
            || echo "run $run of $binary failed" >&2
        end=$(date +%s%N)
        echo "$index $(( (end - start) / 100000 ))"
    done
done > "$scratch/times"
index=0
for binary in "$@"; do
    index=$((index + 1))
    grep "^$index " "$scratch/times" | cut -d' ' -f2 | sort -n | awk -v name="$binary" \
        '{t[NR] = $1; sum += $1} END {printf "%s: min %.1f ms, median %.1f ms, mean %.1f ms (%d runs)\n", name, t[1] / 10, t[int((NR + 1) / 2)] / 10, sum / NR / 10, NR}'
done
