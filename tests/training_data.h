#pragma once
// What the training tests share: the text of a shipped model description, and small labelled digit sets:
// real MNIST training digits when QUILL_DATA has them, else a class-dependent bar on noise (what is learned
// rarely matters in these tests, only that two runs learn the same).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "data/dataset.h"
#include "data/idx.h"
#include "runtime/rng.h"

namespace quill::test {

// The text of models/<name>, e.g. "cnn.txt".
inline std::string model_description_text(const std::string& name) {
  std::ifstream f(std::string(QUILL_SOURCE_DIR) + "/models/" + name);
  REQUIRE(f);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The first n MNIST training digits, or n synthetic ones drawn from `seed` without the data.
inline Dataset digits_for_training(int n, uint64_t seed) {
  const char* root = std::getenv("QUILL_DATA");
  if (root && *root) {
    const std::string dir = std::string(root) + "/mnist/";
    if (std::filesystem::exists(dir + "train-images-idx3-ubyte.gz"))
      return subset(load_idx_dataset(dir + "train-images-idx3-ubyte.gz", dir + "train-labels-idx1-ubyte.gz", 10), 0, n);
  }
  Dataset d;
  for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
  Rng rng(seed, 0);
  for (int i = 0; i < n; ++i) {
    const int label = int(rng.below(10));
    d.labels.push_back(label);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) d.pixels.push_back(uint8_t((y / 3 == label ? 200 : 0) + rng.below(40)));
  }
  return d;
}

}  // namespace quill::test
