// Training recipes (engine/recipe.h) and scoring a model on coarser classes (fold_classes in engine/evaluate.h):
// parsing and its errors, and `quill train` applying a recipe under command-line overrides.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/evaluate.h"
#include "engine/recipe.h"
#include "data/emnist.h"
#include "runtime/error.h"
#include "tests/real_data.h"
#include "tests/temp_files.h"

using namespace quill;
using test_files::TempDir;
namespace fs = std::filesystem;

TEST_CASE("recipe: options, values and comments are parsed in order") {
  const Recipe r = parse_recipe("# a comment\n\nepochs 15   # peak\n  augment affine\nlabel-smoothing 0.1\n", "r.txt");
  REQUIRE(r.settings.size() == 3);
  CHECK(r.settings[0].option == "epochs");
  CHECK(r.settings[0].value == "15");
  CHECK(r.settings[0].line == 3);
  CHECK(r.settings[2].option == "label-smoothing");
  CHECK(r.settings[2].value == "0.1");
  CHECK(describe(r) == "epochs 15, augment affine, label-smoothing 0.1");
}

TEST_CASE("recipe: bad lines are one-line errors naming file and line") {
  auto message = [](const std::string& text) {
    try {
      parse_recipe(text, "r.txt");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("epochs 3\nseed 4\n").find("r.txt:2: unknown recipe option 'seed'") == 0);
  CHECK(message("epochs\n").find("r.txt:1: 'epochs' has no value") == 0);
  CHECK(message("augment affine elastic\n").find("r.txt:1: 'augment' takes one value") == 0);
  CHECK(message("epochs 3\nepochs 4\n").find("r.txt:2: 'epochs' is already set on line 1") == 0);
  CHECK(message("device cuda\n").find("unknown recipe option 'device'") != std::string::npos);
}

TEST_CASE("recipe: every built-in recipe parses and is found by its dataset's name") {
  for (const char* name : {"mnist", "emnist-byclass", "emnist-letters", "emnist-digits"}) {
    const std::string path = builtin_recipe_for(name);
    REQUIRE_MESSAGE(!path.empty(), name);
    CHECK(find_recipe(name) == path);
    const Recipe r = read_recipe(path);
    CHECK(r.settings.size() >= 5);
  }
  CHECK(builtin_recipe_for("mnist-offline").empty());
  CHECK_THROWS_AS(find_recipe("no-such-recipe"), Error);
}

TEST_CASE("fold: ByClass scores as merged by case, and incompatible class sets are refused") {
  const auto byclass = emnist_class_names(EmnistLabelSet::ByClass);
  const auto merged = emnist_class_names(EmnistLabelSet::Merged);
  const ClassFold fold = fold_classes(byclass, merged);
  REQUIRE(fold.size() == 62);
  auto index_of = [](const std::vector<std::string>& v, const std::string& s) {
    return int32_t(std::find(v.begin(), v.end(), s) - v.begin());
  };
  CHECK(fold[size_t(index_of(byclass, "c"))] == index_of(merged, "C"));  // merged in ByMerge
  CHECK(fold[size_t(index_of(byclass, "C"))] == index_of(merged, "C"));
  CHECK(fold[size_t(index_of(byclass, "a"))] == index_of(merged, "a"));  // kept: its own class
  CHECK(fold[size_t(index_of(byclass, "7"))] == index_of(merged, "7"));
  // Letters have no digit classes, so a ByClass model's digit predictions could not be scored.
  CHECK_THROWS_AS(fold_classes(byclass, emnist_class_names(EmnistLabelSet::Letters)), Error);
  // A dataset class no model class reaches.
  CHECK_THROWS_AS(fold_classes({"0", "1"}, {"0", "1", "2"}), Error);
}

namespace {
struct Run {
  int status = -1;
  std::string err;
};
Run quill_train(const std::string& args, const fs::path& dir) {
  const fs::path err = dir / "stderr";
  const std::string command = std::string("timeout 180 ") + QUILL_BINARY + " train " + args + " >/dev/null 2>" +
                              err.string() + " </dev/null";
  const int raw = std::system(command.c_str());
  std::ifstream f(err);
  std::stringstream ss;
  ss << f.rdbuf();
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : 128, ss.str()};
}
}  // namespace

// The official MNIST files: the offline digits (--dataset mnist-offline) have no built-in recipe.
TEST_CASE("recipe: quill train applies the dataset's recipe and the command line wins") {
  const std::string mnist = test::official_mnist_dir_or_skip();
  if (mnist.empty()) return;
  TempDir dir("quill-test-recipe");
  const std::string common = "--dataset mnist --data-dir " + test::data_root() +
                             " --train-limit 240 --test-limit 60 --device cpu --no-report --out " +
                             (dir.path() / "m.quill").string();

  // The built-in recipe, with the model and epochs overridden.
  Run r = quill_train(common + " --model small --epochs 1", dir.path());
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.find("recipe: ") != std::string::npos);
  CHECK(r.err.find("models/recipes/mnist.txt") != std::string::npos);
  CHECK(r.err.find("from the command line: --model, --epochs") != std::string::npos);
  CHECK(r.err.find("training: 1 epoch(s)") != std::string::npos);       // --epochs 1 won over the recipe's
  CHECK(r.err.find("affine augmentation") != std::string::npos);        // from the recipe
  CHECK(r.err.find("label smoothing 0.1") != std::string::npos);        // from the recipe
}

// Official MNIST, or the offline digits when that is all QUILL_DATA holds.
TEST_CASE("recipe: quill train takes a recipe file or none, bad values fail, and --out folders are made") {
  const test::TrainData data = test::real_digits_train_data_or_skip();
  if (data.empty()) return;
  TempDir dir("quill-test-recipe");
  const std::string common = data.options() + " --train-limit 240 --test-limit 60 --device cpu --no-report --out " +
                             (dir.path() / "m.quill").string();

  // A recipe file of one's own; --recipe none.
  const fs::path mine = dir.path() / "mine.txt";
  std::ofstream(mine) << "model small\nepochs 1\nbatch 40\naugment elastic\n";
  Run r = quill_train(common + " --recipe " + mine.string(), dir.path());
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.find("batches of 40") != std::string::npos);
  CHECK(r.err.find("elastic augmentation") != std::string::npos);
  r = quill_train(common + " --recipe none --model small --epochs 1", dir.path());
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.find("recipe: ") == std::string::npos);
  CHECK(r.err.find("augmentation") == std::string::npos);

  // A value the option itself rejects: one line naming the recipe's file and line.
  std::ofstream(mine) << "model small\nepochs -2\n";
  r = quill_train(common + " --recipe " + mine.string(), dir.path());
  CHECK(r.status != 0);
  CHECK(r.err.find(mine.string() + ":2: epochs -2") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') <= 3);  // the data/validation notes, then the error
  r = quill_train(common + " --recipe " + (dir.path() / "missing.txt").string(), dir.path());
  CHECK(r.status != 0);
  CHECK(r.err.find("recipe '") != std::string::npos);

  // --out in folders that don't exist yet: they are made. Under a file: a one-line error, at once.
  const std::string all_but_out = data.options() + " --train-limit 240 --test-limit 60 --device cpu --no-report --model small --epochs 1";
  r = quill_train(all_but_out + " --out " + (dir.path() / "new" / "deeper" / "m.quill").string(), dir.path());
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(fs::exists(dir.path() / "new" / "deeper" / "m.quill"));
  r = quill_train(all_but_out + " --out " + (mine / "m.quill").string(), dir.path());
  CHECK(r.status != 0);
  CHECK(r.err.find("cannot create folder") != std::string::npos);
}
