// The test runner: registers every backend (the op registry starts empty), then runs doctest.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "kernels/backends.h"

int main(int argc, char** argv) {
  quill::init_backends();
  doctest::Context context(argc, argv);
  return context.run();
}
