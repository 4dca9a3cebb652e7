#pragma once
// The one way a test case says it cannot run here (no CUDA device, a data set that is absent), so that a
// skip is never counted as a pass. skip_test_case(reason) marks the case skipped and prints why; the case
// returns right after. The runner (tests/main.cpp) then prints a "quill_tests: skipped" line per reason and,
// when every case it ran was skipped, exits with kSkipExitCode, which ctest reports as "Skipped"
// (SKIP_RETURN_CODE in tests/CMakeLists.txt); scripts/test-summary.sh tallies the reasons of a ctest run.
// A case that runs but leaves a part out (the cuDNN half of a GPU test) says so with skip_part instead: it
// still counts as passed, and the runner lists what was left out.
#include <string>

namespace quill::test {

constexpr int kSkipExitCode = 77;  // automake's "skipped" status, which ctest's SKIP_RETURN_CODE takes

// Marks the running test case as skipped because of `reason` (e.g. "no CUDA device"); return right after.
void skip_test_case(const std::string& reason);

// Says that the running case leaves `part` out because of `reason`; the rest of the case runs and counts.
void skip_part(const std::string& part, const std::string& reason);

// For the runner: given doctest's exit status, prints the skip lines and returns the run's exit status:
// kSkipExitCode when every case that ran was skipped and none failed; 1 when a run (not a listing) ran no
// case at all, as when ctest runs a name that matches none.
int exit_status_with_skips(int doctest_status);

}  // namespace quill::test
