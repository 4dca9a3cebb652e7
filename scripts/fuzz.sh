#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan and UBSan) in build-fuzz/ and runs them.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   fuzz each target for SECONDS (default 60), starting from
#                                           tests/fuzz/corpus/<target>; new inputs go to build-fuzz/corpus/
#   scripts/fuzz.sh --replay [TARGET...]    run every committed corpus input once (a regression check)
# A crash leaves its input as build-fuzz/artifacts/<target>-crash-* (or -oom-, -timeout-): copy it into
# tests/fuzz/corpus/<target>/ with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
replay=0
seconds=60
if [ "${1:-}" = "--replay" ]; then replay=1; shift; elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in tests/fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi
scripts/install-deps.sh clang libclang-rt-dev libomp-dev  # libFuzzer and clang's OpenMP
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUILL_CUDA=OFF -DQUILL_CUDNN=OFF \
  -DQUILL_BUILD_TESTS=OFF -DQUILL_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"
# A one-page input that allocates gigabytes, or takes seconds, is a bug like a crash.
options=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for t in "${targets[@]}"; do
  if [ "$replay" = 1 ]; then
    echo "== $t: replaying $(ls tests/fuzz/corpus/"$t" | wc -l) inputs"
    if ! log=$(build-fuzz/tests/fuzz/"$t" "${options[@]}" -runs=0 tests/fuzz/corpus/"$t"/* 2>&1); then
      echo "$log" | tail -40
      exit 1
    fi
  else
    echo "== $t: fuzzing for $seconds s"
    mkdir -p build-fuzz/corpus/"$t" build-fuzz/artifacts
    rm -f build-fuzz/artifacts/"$t"-*
    build-fuzz/tests/fuzz/"$t" "${options[@]}" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix=build-fuzz/artifacts/"$t"- build-fuzz/corpus/"$t" tests/fuzz/corpus/"$t" 2>&1 |
      grep -E "^#[0-9]+ *DONE|^stat::number_of_executed_units|ERROR|SUMMARY|runtime error" || true
    if ls build-fuzz/artifacts/"$t"-* 2>/dev/null; then exit 1; fi
  fi
done
echo "fuzz.sh: no crashes"
