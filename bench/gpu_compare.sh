#!/usr/bin/env bash
# Custom CUDA kernels vs cuDNN vs PyTorch on this machine's GPU, in one run (issues #4 and #5):
#   1. every op of one training step of the default character CNN, custom and cuDNN side by side, strict
#      float32 and TF32, batches 64, 256 and 1024 (`quill bench --ops`: CUDA events, L2 flushed, medians);
#   2. whole training steps, images/s: Quill custom and cuDNN backends, and PyTorch (bench/torch_train.py,
#      same network, batch and optimizer, data resident on the GPU, cudnn.benchmark on), in both math modes;
#   3. the targets checked by bench/gpu_report.py.
#   bench/gpu_compare.sh [--quick]
# Environment: QUILL_BIN (default build/apps/quill, built by scripts/build.sh when missing), PYTHON (a
# Python with CUDA PyTorch; default python3; PyTorch is skipped, and said so, when it has no CUDA).
# Writes bench/results/<gpu>-<date>-<commit>.{md,summary.json,ops.json,ops.md,ops.png} and the raw runs.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=20; steps=50; repeats=7; batches=64,256,1024
[ "${1:-}" = "--quick" ] && { runs=5; steps=10; repeats=3; batches=256; }
quill=${QUILL_BIN:-build/apps/quill}
[ -x "$quill" ] || scripts/build.sh
py=${PYTHON:-python3}

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
[ -n "$gpu" ] || { echo "gpu_compare: no NVIDIA GPU found (nvidia-smi lists none)" >&2; exit 1; }
slug=$(echo "$gpu" | tr '[:upper:]' '[:lower:]' | sed 's/nvidia //; s/[^a-z0-9]\+/-/g; s/-$//')
stamp="$(date -u +%Y-%m-%d)-${QUILL_COMMIT:-$(git rev-parse --short HEAD)}"  # QUILL_COMMIT: where the tree has no .git
out=bench/results/$slug-$stamp
raw=$out.raw; mkdir -p "$raw"
echo "gpu_compare: $gpu -> $out.*"

"$quill" bench --ops --model cnn --device cuda --backends custom,cudnn --math both --batches "$batches" \
    --runs "$runs" --json "$out.ops.json" --markdown "$out.ops.md" --chart "$out.ops.png" > /dev/null

e2e=()
for backend in custom cudnn; do
  for math in fp32 tf32; do
    f=$raw/quill-$backend-$math.json
    "$quill" bench --model cnn --device cuda --backend "$backend" --math "$math" --batch 256 \
        --steps "$steps" --repeats "$repeats" --json "$f"
    e2e+=("$f")
  done
done

torch_runs=()
if "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  for math in fp32 tf32; do
    f=$raw/torch-$math.json
    "$py" bench/torch_train.py --device cuda --batch 256 --steps "$steps" --repeats "$repeats" \
        $([ "$math" = tf32 ] && echo --tf32) --json "$f" > /dev/null
    torch_runs+=("$f")
  done
else
  echo "gpu_compare: $py has no CUDA PyTorch; the PyTorch column is left out" >&2
fi

python3 bench/gpu_report.py --ops "$out.ops.json" --e2e "${e2e[@]}" --torch "${torch_runs[@]}" \
    --batch 256 --out "$out"
