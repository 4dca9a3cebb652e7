#!/usr/bin/env bash
# Says what the last ctest run in a build folder ran: how many tests passed, were skipped (and why) and
# failed. ctest itself counts a skipped test among the passed ("100% tests passed"); the reasons come from
# the lines the test runner prints when it skips (tests/skip.h).
#   scripts/test-summary.sh [build folder, default build]
set -euo pipefail
cd "$(dirname "$0")/.."
log="${1:-build}/Testing/Temporary/LastTest.log"
[ -f "$log" ] || { echo "test-summary: no ctest run in ${1:-build} ($log is missing)" >&2; exit 1; }
awk '
  /^[0-9]+\/[0-9]+ Test: /   { total++ }
  /^Test Passed\./            { passed++ }
  /^quill_tests: skipped [0-9]+ test case/ {
    n = $3; skipped += n
    reason = $0; sub(/^quill_tests: skipped [0-9]+ test cases?: /, "", reason); by_reason[reason] += n
  }
  /^quill_tests: partly skipped in [0-9]+ test case/ {
    part = $0; sub(/^quill_tests: partly skipped in [0-9]+ test cases?: /, "", part); parts[part] += $5
  }
  END {
    ran = passed - skipped
    printf "== tests: %d passed, %d skipped, %d failed (%d in all)\n", ran, skipped, total - passed, total
    for (r in by_reason) printf "   skipped %d: %s\n", by_reason[r], r | "sort -k2,2nr"
    close("sort -k2,2nr")
    for (p in parts) printf "   ran without a part, %d: %s\n", parts[p], p
  }' "$log"
