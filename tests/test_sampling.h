#pragma once
// How much of the GPU tests' work to do. By default all of it: every shape of the op grids, full training
// runs. QUILL_TEST_SAMPLE=k keeps every k-th shape of a grid and 1/k of a training test's steps, for devices
// on which every launch is slow: compute-sanitizer on a GPU (scripts/gpu-verify.sh), and the CPU emulation of
// CUDA in CI (.ci/run), which runs each block's threads one after another. The special shapes each test
// adds, and what each test asserts, stay.
#include <cstdlib>
#include <vector>

namespace quill::test {

inline int test_sample() {
  const char* text = std::getenv("QUILL_TEST_SAMPLE");
  const long k = text != nullptr ? std::strtol(text, nullptr, 10) : 1;
  return k > 1 ? int(k) : 1;
}

// Every k-th shape of a grid.
template <class Geometry>
std::vector<Geometry> sampled(std::vector<Geometry> grid) {
  const int k = test_sample();
  if (k <= 1) return grid;
  std::vector<Geometry> out;
  for (size_t i = 0; i < grid.size(); i += size_t(k)) out.push_back(grid[i]);
  return out;
}

// `steps`, or 1/k of them but at least `at_least`.
inline int sampled_steps(int steps, int at_least) {
  const int k = test_sample();
  return k <= 1 ? steps : (steps / k > at_least ? steps / k : at_least);
}

}  // namespace quill::test
