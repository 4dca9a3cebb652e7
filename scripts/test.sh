#!/usr/bin/env bash
# Builds Quill and runs the whole test suite, then says how many tests passed, were skipped and why, and
# failed. Tests that need the real data find it through QUILL_DATA (default: ../shared/data beside the
# checkout, else the ./data-cache that scripts/run.sh or scripts/get-data.sh filled); without it, or
# without the data set they need, they are reported as skipped.
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
status=0
ctest --test-dir build --output-on-failure -j"$(nproc)" || status=$?
scripts/test-summary.sh build
exit $status
