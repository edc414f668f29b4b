#!/usr/bin/env bash
# The GPU check, sized for one device call of a few minutes on a machine with an NVIDIA GPU: GPU
# discovery, a run whose two slots share one GPU, a node whose script sees its GPU (torch's device name
# in its output), and the image recipe's CNN node timed on the GPU against the same script on the CPU.
# The device machine has PyTorch, pandas and scikit-learn but not LightGBM: pass its interpreter, and
# carry a stripped release binary (`cargo build --release -p mlm-cli && strip target/release/ml-master`).
# Usage: bench/gpu-check.sh [PYTHON]   (ML_MASTER=path/to/ml-master, default target/release/ml-master)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${ML_MASTER:-$PWD/target/release/ml-master}"
python="${1:-$(command -v python3)}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export ML_MASTER_HOME="$scratch/home"

echo "--- discovery: what nvidia-smi lists"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

echo "--- the image-files recipe"
"$binary" prepare tasks/digit-images --out "$scratch/digit-images" --python "$python" 2>&1 | grep '^Prepared' 

echo "--- a run whose two slots share the GPU (a CNN draft and an MLP draft at once)"
"$binary" run --task "$scratch/digit-images" --python "$python" --slots 2 --workers 2 --steps 2 \
    --time-limit 400 --run-dir "$scratch/run" > "$scratch/run.log" 2>&1 || { cat "$scratch/run.log"; exit 1; }
grep -E '^(Running|Each script|Sandbox|Selected)' "$scratch/run.log"
network_node="$(dirname "$(grep -l '^import torch' "$scratch"/run/nodes/*/solution.py | head -1)")"
echo "--- the CNN node's own output: its device and its epochs"
grep -E '^(device|epoch|stopping|Validation)' "$network_node/output.txt"

echo "--- the same CNN script on the GPU and on the CPU (ml-master exec, all cores)"
for gpus in 0 none; do
    flags=()
    [ "$gpus" = none ] || flags=(--gpus "$gpus")
    "$binary" exec --task "$scratch/digit-images" "$network_node/solution.py" --python "$python" \
        --timeout 600 --node-dir "$scratch/exec-$gpus" --json "${flags[@]}" > "$scratch/exec-$gpus.json" \
        2> "$scratch/exec-$gpus.log" || { cat "$scratch/exec-$gpus.log"; exit 1; }
    "$python" - "$scratch/exec-$gpus.json" "$gpus" <<'PYTHON'
import json, re, sys
result = json.load(open(sys.argv[1]))
output = result["output"]
epochs = re.findall(r"^epoch (\d+): .*\(([\d.]+) s\)$", output, re.M)
device = re.search(r"^device: (.*)$", output, re.M)
print(f"--gpus {sys.argv[2]}: {device.group(1) if device else '?'}: {result['duration_s']:.1f} s in all, "
      f"{len(epochs)} epochs in {float(epochs[-1][1]) if epochs else float('nan'):.1f} s, status {result.get('status')}")
PYTHON
done
