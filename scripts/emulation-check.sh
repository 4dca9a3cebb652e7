#!/usr/bin/env bash
# End to end on the CPU emulation of CUDA (a build configured with -DQUILL_CUDA_EMULATION=ON; scripts/build.sh
# makes one on a machine without a GPU): `quill train --device cuda` against the CPU, and the emulated kernels'
# determinism. It trains the small CNN for one epoch on 3,000 MNIST training digits and checks that
#  - the emulated CUDA run's test accuracy is within 0.2 points of the CPU run's (the trajectories of two
#    backends drift apart at float32 rounding, so not bit for bit; every step is checked against the CPU's in
#    tests/test_gpu_training.cpp);
#  - --cuda-graph on gives the bits of off, and the thread orders forward, reverse and random:SEED all give
#    the same bits (the kernels' reductions have fixed orders): `quill info` prints a crc32 of the weights;
#  - predict, read and eval on --device cuda give the CPU's answers (probabilities within 1e-5).
# It needs 5-10 minutes on two cores.
#   scripts/emulation-check.sh [BUILD_DIR [DATA_DIR [OUT_DIR]]]   (build, $QUILL_DATA, build/emulation-check)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=${2:-${QUILL_DATA:-../shared/data}}
out=${3:-$build/emulation-check}
Q=$build/apps/quill
[ -f "$data/mnist/train-images-idx3-ubyte.gz" ] || { echo "emulation-check: no MNIST under $data/mnist" >&2; exit 2; }
$Q info | grep -q "CUDA emulation" || { echo "emulation-check: $Q is not a CUDA emulation build ($($Q info | grep cuda))" >&2; exit 2; }
mkdir -p "$out"
export OMP_WAIT_POLICY=passive  # CPU threads that spin while idle would take the emulation's core
train() {  # train NAME DEVICE [more options]
  local name=$1 device=$2
  shift 2
  $Q train --model small --dataset mnist --data-dir "$data" --train-limit 3000 --epochs 1 --lr 0.01 --recipe none \
    --no-report --device "$device" --out "$out/$name.quill" "$@" | tail -1 | tee "$out/$name.log"
}
accuracy() { sed -E 's/^test accuracy: ([0-9.]+)%.*/\1/' "$out/$1.log"; }
fingerprint() { $Q info --model "$out/$1.quill" | grep '^weights:'; }
failed=0
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "PASS $1"; else echo "FAIL $1"; failed=1; fi
}

train cpu cpu
train cuda cuda
QUILL_CUDA_EMULATION_ORDER=reverse train cuda-reverse cuda
QUILL_CUDA_EMULATION_ORDER=random:7 train cuda-random cuda
train cuda-graph cuda --cuda-graph on
check "test accuracy on emulated cuda ($(accuracy cuda)%) within 0.2 points of the cpu ($(accuracy cpu)%)" \
  python3 -c "import sys; sys.exit(abs($(accuracy cuda) - $(accuracy cpu)) > 0.2)"
for run in cuda-reverse cuda-random cuda-graph; do
  check "$run has the bits of the forward-order run: $(fingerprint $run)" \
    test "$(fingerprint $run)" = "$(fingerprint cuda)"
done

python3 scripts/make-photos.py --data "$data/mnist" --out "$out/photos" --count 30 --lines 5 --seed 3 >/dev/null
for device in cpu cuda; do
  $Q predict --model "$out/cpu.quill" --device "$device" --json "$out/predict-$device.json" "$out"/photos/char-*.png >/dev/null
  $Q read --model "$out/cpu.quill" --device "$device" --json "$out/read-$device.json" "$out"/photos/line-*.png >/dev/null
  $Q eval --model "$out/cpu.quill" --device "$device" --data-dir "$data" | grep -v '^model:' >"$out/eval-$device.txt"
done
same_answers() {  # same_answers A.json B.json: same strings and integers, floats within 1e-5
  python3 - "$1" "$2" <<'EOF'
import json, sys
def walk(a, b, path):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(walk(a[k], b[k], path + "/" + k) for k in a if k not in ("device", "seconds"))
    if isinstance(a, list):
        return len(a) == len(b) and all(walk(x, y, path) for x, y in zip(a, b))
    if isinstance(a, float):
        return abs(a - b) <= 1e-5
    return a == b
sys.exit(0 if walk(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), "") else 1)
EOF
}
check "predict on emulated cuda gives the cpu's answers" same_answers "$out/predict-cpu.json" "$out/predict-cuda.json"
check "read on emulated cuda gives the cpu's lines" same_answers "$out/read-cpu.json" "$out/read-cuda.json"
check "eval on emulated cuda gives the cpu's report" cmp -s "$out/eval-cpu.txt" "$out/eval-cuda.txt"
exit $failed
