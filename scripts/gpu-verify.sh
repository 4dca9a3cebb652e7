#!/usr/bin/env bash
# Verifies the GPU backends on a machine with an NVIDIA GPU, in phases that each fit a 10-minute call of a
# lent GPU machine (the build folder build-gpu/ is kept between calls there while the machine stays warm):
#   scripts/gpu-verify.sh build      configure and build build-gpu/ (CUDA + cuDNN, sm_90 unless CUDA_ARCH)
#   scripts/gpu-verify.sh test       the whole suite with the GPU tests required (QUILL_REQUIRE_CUDA/CUDNN)
#   scripts/gpu-verify.sh sanitize   the GPU tests under compute-sanitizer memcheck, racecheck and synccheck
#   scripts/gpu-verify.sh bench      bench/gpu_compare.sh (custom vs cuDNN vs PyTorch, both math modes)
#   scripts/gpu-verify.sh profile    Nsight Compute on one training step of each backend at batch 256: per
#                                    kernel time, achieved FLOP/s and DRAM bandwidth (why a target is missed)
#   scripts/gpu-verify.sh train      MNIST with the recipe on the GPU: custom and cuDNN, fp32 and TF32, and
#                                    the custom backend with --cuda-graph on; test accuracy of each
#   scripts/gpu-verify.sh all        every phase in turn
#   scripts/gpu-verify.sh first      for a short lease, one call: build, the GPU test cases, one MNIST epoch
#                                    and the training throughput on each backend, then the sanitizers on the
#                                    GPU tests while time remains, all within QUILL_GPU_BUDGET seconds (540)
# Logs and results go to $OUT when set (the device tool's output folder), else out/gpu-verify/.
# Where Debian's libraries and the data were carried in .gpu-carry/ (../shared/scripts/prepare-gpu-carry.sh),
# the paths are taken from there; cuDNN is found in the CUDA toolkit or in Python's nvidia-cudnn-cu13 package.
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:?usage: scripts/gpu-verify.sh build|test|sanitize|bench|profile|train|all|first}
out=${OUT:-out/gpu-verify}
mkdir -p "$out"
py=${PYTHON:-python3}
build=build-gpu
quill=$build/apps/quill

if [ -d .gpu-carry/root/usr ]; then
  carry=$PWD/.gpu-carry/root/usr
  export CMAKE_PREFIX_PATH=$carry CPATH=$carry/include LIBRARY_PATH=$carry/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH=$carry/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  [ -d .gpu-carry/data ] && export QUILL_DATA=${QUILL_DATA:-$PWD/.gpu-carry/data}
fi
if [ -z "${CUDNN_ROOT:-}" ] && [ ! -f /usr/local/cuda/include/cudnn.h ]; then
  CUDNN_ROOT=$("$py" -c "import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))" 2>/dev/null || true)
fi
if [ -n "${CUDNN_ROOT:-}" ]; then
  export CUDNN_ROOT LD_LIBRARY_PATH=$CUDNN_ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
command -v compute-sanitizer >/dev/null || export PATH=$PATH:/usr/local/cuda/bin:/usr/local/cuda/compute-sanitizer

run_build() {
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQUILL_CUDA=ON -DQUILL_CUDNN=ON \
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" ${CUDNN_ROOT:+-DCUDNN_ROOT=$CUDNN_ROOT} > "$out/cmake.log" 2>&1 ||
      { tail -20 "$out/cmake.log"; exit 1; }
  cmake --build "$build" -j"$(nproc)" > "$out/build.log" 2>&1 || { grep -E "error|Error" "$out/build.log" | head -30; exit 1; }
  echo "build: $quill ($(grep -c warning "$out/build.log" || true) warnings)"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
}

run_tests() {
  QUILL_REQUIRE_CUDA=1 QUILL_REQUIRE_CUDNN=1 "$build/tests/quill_tests" > "$out/tests.log" 2>&1 && rc=0 || rc=$?
  grep -E "^\[doctest\] (test cases|assertions|Status)" "$out/tests.log"
  [ "$rc" = 0 ] || { grep -B2 -A12 "ERROR\|FATAL" "$out/tests.log" | head -60; exit "$rc"; }
}

run_sanitizer() {
  for tool in memcheck racecheck synccheck; do
    # Every 4th shape of the op grids (tests/test_gpu_backends.cpp): each launch is much slower under the tools.
    QUILL_TEST_SAMPLE=4 compute-sanitizer --tool "$tool" --error-exitcode 97 "$build/tests/quill_tests" \
        -tc="$gpu_tests" > "$out/sanitizer-$tool.log" 2>&1 && rc=0 || rc=$?
    echo "compute-sanitizer $tool: exit $rc, $(grep -E "ERROR SUMMARY" "$out/sanitizer-$tool.log" | tail -1)"
  done
}

run_bench() {
  QUILL_BIN=$quill PYTHON=$py bench/gpu_compare.sh > "$out/bench.log" 2>&1 || { tail -30 "$out/bench.log"; exit 1; }
  cp bench/results/*"${QUILL_COMMIT:-$(git rev-parse --short HEAD)}"* "$out/" 2>/dev/null || true
  tail -40 "$out/bench.log"
}

run_profile() {
  # Two eager steps (and the peak measurements after them): each kernel with its duration, SM and DRAM
  # throughput (% of peak) and achieved occupancy. ncu serialises and replays kernels, so its times are for
  # reading the mix, not for the comparison (that is bench).
  for backend in custom cudnn; do
    ncu --metrics gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active \
        --launch-count 400 --csv \
        "$quill" bench --model cnn --device cuda --backend "$backend" --batch 256 --warmup 1 --steps 1 --repeats 1 \
        > "$out/profile-$backend.csv" 2> "$out/profile-$backend.log" && rc=0 || rc=$?
    echo "ncu $backend: exit $rc, $(grep -c '"gpu__time_duration.sum"' "$out/profile-$backend.csv" || true) kernels profiled"
  done
}

run_training() {
  # The recipe (models/recipes/mnist.txt) sets everything but the device, backend, math and graph.
  echo "| backend | math | CUDA graph | test accuracy | loss | training time |" > "$out/train.md"
  echo "|---|---|---|---|---|---|" >> "$out/train.md"
  for config in "custom fp32 off" "cudnn fp32 off" "custom tf32 off" "cudnn tf32 off" "custom fp32 on"; do
    set -- $config
    name=mnist-$1-$2-graph-$3
    "$quill" train --dataset mnist --device cuda --backend "$1" --math "$2" --cuda-graph "$3" \
        --out "$out/$name.quill" > "$out/$name.log" 2>&1 || { tail -5 "$out/$name.log"; continue; }
    line=$(grep "test accuracy" "$out/$name.log")
    acc=$(echo "$line" | sed -n 's/.*test accuracy: \([0-9.]*%\).*/\1/p')
    loss=$(echo "$line" | sed -n 's/.*loss \([0-9.]*\).*/\1/p')
    took=$(echo "$line" | sed -n 's/.*trained in \(.*\)$/\1/p')
    echo "| $1 | $2 | $3 | $acc | $loss | $took |" >> "$out/train.md"
  done
  cat "$out/train.md"
}

# The GPU test cases: the rest of the suite runs in CI, without a GPU.
gpu_tests='gpu*,cuda graph gpu*,op bench: custom and cudnn*,cuda index maps*'

# Everything the first call on a GPU should learn, most important first, each step capped and under the time
# left: build, the GPU test cases, the MNIST recipe on the custom backend (issue #4's acceptance), the quick
# custom/cuDNN/PyTorch comparison, the recipe on cuDNN, then the sanitizers. A lent machine returns at most 8
# files, so everything is packed into $OUT/gpu-verify.tar.gz at the end (also when a step fails).
run_first() {
  local budget=${QUILL_GPU_BUDGET:-540} start=$SECONDS
  left() { echo $((budget - (SECONDS - start))); }
  capped() {  # capped MAX_SECONDS NEED_SECONDS COMMAND...: at most MAX and the time left, skipped under NEED
    local max=$1 need=$2 t
    shift 2
    t=$(left)
    if [ "$t" -lt "$need" ]; then echo "skipped, ${t}s left: $*"; return 0; fi
    [ "$t" -gt "$max" ] && t=$max
    timeout "$t" "$@" && echo "ok: $1 ($((SECONDS - start))s)" || echo "exit $? (cap ${t}s): $* ($((SECONDS - start))s)"
  }
  { nvidia-smi; nvcc --version; echo "commit ${QUILL_COMMIT:-?}"; } > "$out/machine.txt" 2>&1 || true
  run_build
  echo "build done ($((SECONDS - start))s)"
  QUILL_REQUIRE_CUDA=1 QUILL_REQUIRE_CUDNN=1 capped 150 30 "$build/tests/quill_tests" -tc="$gpu_tests" \
    > "$out/first-tests.log" 2>&1
  grep -E "^\[doctest\] (test cases|assertions|Status)|^(ok|exit|skipped)" "$out/first-tests.log" || true
  grep -m 16 -E "ERROR|FATAL" "$out/first-tests.log" | cut -c1-300 || true
  grep -B3 -A6 -m 6 "ERROR" "$out/first-tests.log" | cut -c1-300 | head -24 || true
  recipe() {  # the MNIST recipe (20 epochs, models/recipes/mnist.txt) on one backend
    capped "$2" 30 "$quill" train --dataset mnist --device cuda --backend "$1" --out "$out/mnist-$1.quill" \
      > "$out/mnist-recipe-$1.log" 2>&1
    grep -E "epoch|test accuracy|error|^(ok|exit|skipped)" "$out/mnist-recipe-$1.log" | tail -4 || true
  }
  recipe custom 150
  capped 100 40 env QUILL_BIN="$quill" PYTHON="$py" bench/gpu_compare.sh --quick > "$out/bench-quick.log" 2>&1
  tail -30 "$out/bench-quick.log" || true
  cp -r bench/results/*"${QUILL_COMMIT:-none}"* "$out/" 2>/dev/null || true
  recipe cudnn 100
  for tool in memcheck racecheck; do
    QUILL_TEST_SAMPLE=4 capped 200 45 compute-sanitizer --tool "$tool" --error-exitcode 97 \
      "$build/tests/quill_tests" -tc="$gpu_tests" > "$out/first-sanitizer-$tool.log" 2>&1
    grep -E "ERROR SUMMARY|^\[doctest\] Status|^(ok|exit|skipped)" "$out/first-sanitizer-$tool.log" | tail -3 || true
  done
  # What the backends said on the way: cuDNN configurations run by the custom kernels (and why), an older
  # cuDNN library than the build's, a training step that could not be recorded as a CUDA graph.
  echo "backend notes:"
  cat "$out"/*.log | grep -E "^quill: (cudnn|--cuda-graph):" | sort | uniq -c | sort -rn | head -20 | cut -c1-300 || true
}

pack_first() {  # the device tool brings back at most 8 files: one archive of the logs and results
  [ -n "${OUT:-}" ] || return 0
  rm -f "$out"/*.quill
  tar czf "$OUT/gpu-verify.tar.gz" -C "$out" . 2>/dev/null || true
  find "$OUT" -maxdepth 1 -type f ! -name gpu-verify.tar.gz -delete
}

case "$phase" in
  build) run_build ;;
  test) run_tests ;;
  sanitize) run_sanitizer ;;
  bench) run_bench ;;
  profile) run_profile ;;
  train) run_training ;;
  all) run_build; run_tests; run_sanitizer; run_bench; run_profile; run_training ;;
  first) [ -n "${OUT:-}" ] && out=$(mktemp -d); trap pack_first EXIT; run_first ;;
  *) echo "gpu-verify: unknown phase '$phase' (build, test, sanitize, bench, profile, train, all or first)" >&2; exit 2 ;;
esac
