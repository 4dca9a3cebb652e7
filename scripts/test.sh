#!/usr/bin/env bash
# Builds Quill (scripts/build.sh: on a machine without a GPU, the CUDA backend for the CPU emulation of CUDA)
# and runs the whole test suite, then says how many tests passed, were skipped and why, and failed. Tests that
# need the real data find it through QUILL_DATA (default: ../shared/data beside the checkout, else the
# ./data-cache that scripts/run.sh or scripts/get-data.sh filled); without it, or without the data set they
# need, they are reported as skipped. In the emulation build the GPU tests run every custom kernel on the CPU,
# on every 4th shape of their grids and a quarter of the training steps (QUILL_TEST_SAMPLE=4; set
# QUILL_TEST_SAMPLE=1 for all of them, about 25 minutes more).
#   scripts/test.sh [extra cmake arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh "$@"
if [ -z "${QUILL_DATA:-}" ]; then
  if [ -d ../shared/data ]; then
    export QUILL_DATA=$(cd ../shared/data && pwd)
  elif [ -d data-cache ]; then
    export QUILL_DATA=$PWD/data-cache
  fi
fi
echo "QUILL_DATA=${QUILL_DATA:-<unset: data tests will be skipped>}"
if grep -qE '^QUILL_CUDA_EMULATION:BOOL=ON' build/CMakeCache.txt; then
  export QUILL_TEST_SAMPLE=${QUILL_TEST_SAMPLE:-4} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
  echo "CUDA emulation: GPU tests on the CPU, thread order ${QUILL_CUDA_EMULATION_ORDER:-forward}, QUILL_TEST_SAMPLE=$QUILL_TEST_SAMPLE"
fi
status=0
ctest --test-dir build --output-on-failure -j"$(nproc)" || status=$?
scripts/test-summary.sh build
exit $status
