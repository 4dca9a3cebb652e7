// The test runner: registers every backend (the op registry starts empty), then runs doctest. A run whose
// every case was skipped exits with quill::test::kSkipExitCode, so that ctest reports it as skipped (skip.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "kernels/backends.h"
#include "tests/skip.h"

int main(int argc, char** argv) {
  quill::init_backends();
  doctest::Context context(argc, argv);
  return quill::test::exit_status_with_skips(context.run());
}
