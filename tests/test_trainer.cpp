// The training loop: resuming from a checkpoint continues a run bit for bit, at an epoch boundary and
// in the middle of an epoch, a checkpoint of another run is refused, and a diverging run stops with an
// error before anything of it is saved.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "engine/trainer.h"
#include "data/idx.h"
#include "runtime/rng.h"
#include "tests/temp_files.h"

using namespace quill;
namespace fs = std::filesystem;

namespace {

std::string small_model() {
  std::ifstream f(std::string(QUILL_SOURCE_DIR) + "/models/small.txt");
  REQUIRE(f);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// 300 real MNIST training digits when QUILL_DATA has them, else 300 synthetic ones (a class-dependent
// bar on noise): the property under test does not depend on what the images show.
Dataset small_training_set() {
  const char* root = std::getenv("QUILL_DATA");
  if (root && *root) {
    const std::string dir = std::string(root) + "/mnist/";
    if (fs::exists(dir + "train-images-idx3-ubyte.gz"))
      return subset(load_idx_dataset(dir + "train-images-idx3-ubyte.gz", dir + "train-labels-idx1-ubyte.gz", 10), 0, 300);
  }
  Dataset d;
  for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
  Rng rng(5, 0);
  for (int i = 0; i < 300; ++i) {
    const int label = i % 10;
    d.labels.push_back(label);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x)
        d.pixels.push_back(uint8_t((y / 3 == label ? 200 : 0) + rng.below(40)));
  }
  return d;
}

TrainOptions options_for_test() {
  TrainOptions o;
  o.model_description = small_model();
  o.epochs = 2;
  o.batch_size = 32;  // 300 images: 9 full batches and one of 12
  o.optimizer.kind = "adamw";
  o.optimizer.weight_decay = 0.01;
  o.schedule.kind = "onecycle";
  o.schedule.lr = 3e-3;
  o.augment = "affine";  // exercises the loader's per-(seed, epoch, sample) augmentation on resume
  o.label_smoothing = 0.1;
  o.seed = 11;
  return o;
}

bool same_state(Trainer& a, Trainer& b) {
  Graph &ga = a.graph(), &gb = b.graph();
  if (std::memcmp(ga.flat_values().raw(), gb.flat_values().raw(), ga.flat_values().bytes()) != 0) return false;
  std::vector<Tensor*> ba = ga.buffers(), bb = gb.buffers();
  for (size_t i = 0; i < ba.size(); ++i)
    if (std::memcmp(ba[i]->raw(), bb[i]->raw(), ba[i]->bytes()) != 0) return false;
  return true;
}

// Trains with an interruption after `stop_at` steps: checkpoint to a file, a new trainer from the file.
void check_resume_is_exact(int64_t stop_at) {
  const Dataset train = small_training_set();
  const Dataset validation = subset(train, 0, 50);
  const std::string ckpt =
      (fs::temp_directory_path() / ("quill-test-resume-" + std::to_string(::getpid()) + ".ckpt")).string();

  Trainer uninterrupted(options_for_test(), train, &validation);
  REQUIRE(uninterrupted.run());

  TrainOptions first = options_for_test();
  first.checkpoint_path = ckpt;
  first.stop_after_steps = stop_at;
  Trainer before(first, train, &validation);
  CHECK_FALSE(before.run());
  CHECK(before.step() == stop_at);

  Trainer after(options_for_test(), train, &validation);
  after.restore(load_model_file(ckpt), ckpt);
  CHECK(after.step() == stop_at);
  REQUIRE(after.run());
  fs::remove(ckpt);

  CHECK(after.step() == uninterrupted.step());
  CHECK(same_state(after, uninterrupted));
  REQUIRE(after.history().size() == 2);
  for (size_t e = 0; e < 2; ++e) {
    CHECK(after.history()[e].train_loss == uninterrupted.history()[e].train_loss);
    CHECK(after.history()[e].val_accuracy == uninterrupted.history()[e].val_accuracy);
  }
}

}  // namespace

TEST_CASE("trainer: 1 epoch + checkpoint + resume for 1 equals 2 epochs, bit for bit") {
  const int64_t batches_per_epoch = 10;
  check_resume_is_exact(batches_per_epoch);
}

TEST_CASE("trainer: resuming in the middle of an epoch is exact too") { check_resume_is_exact(13); }

TEST_CASE("trainer: photo reframing is refused for data that is not 28x28 EMNIST") {
  Dataset mnist = small_training_set();  // MNIST framing
  TrainOptions o = options_for_test();
  o.augment = "shift-reframe";
  CHECK_THROWS_WITH_AS(Trainer(o, mnist, nullptr), "--augment shift-reframe frames samples as EMNIST photos are framed: it needs 28x28 EMNIST data",
                       Error);
  Dataset emnist = mnist;
  emnist.framing = FramingConvention::Emnist;
  CHECK_NOTHROW(Trainer(o, emnist, nullptr));
}

TEST_CASE("trainer: a checkpoint's run settings are read back, and a damaged copy is refused by name") {
  const TrainOptions o = options_for_test();
  const nlohmann::json training = {{"options", to_json(o)}};
  const TrainOptions back = checkpoint_train_options(training, "a.ckpt");
  CHECK(back.model_description == o.model_description);
  CHECK(back.epochs == o.epochs);
  CHECK(back.schedule.lr == o.schedule.lr);
  CHECK(back.seed == o.seed);
  CHECK(to_json(back) == to_json(o));  // every stored setting, nested ones included
  nlohmann::json without_beta2 = training;
  without_beta2["options"]["optimizer"].erase("beta2");
  CHECK_THROWS_WITH_AS(checkpoint_train_options(without_beta2, "a.ckpt"), doctest::Contains("beta2"), Error);
  CHECK_THROWS_WITH_AS(checkpoint_train_options(nlohmann::json::object(), "a.ckpt"),
                       "checkpoint 'a.ckpt' lacks its training settings (was it written by quill train?)", Error);
  CHECK_THROWS_WITH_AS(checkpoint_train_options(nlohmann::json::array(), "a.ckpt"),
                       doctest::Contains("lacks its training settings"), Error);
  nlohmann::json damaged = training;
  damaged["options"]["epochs"] = "twelve";
  CHECK_THROWS_WITH_AS(checkpoint_train_options(damaged, "a.ckpt"),
                       doctest::Contains("checkpoint 'a.ckpt': the training settings are incomplete"), Error);
}

TEST_CASE("trainer: a checkpoint of another run is refused") {
  const Dataset train = small_training_set();
  const std::string ckpt =
      (fs::temp_directory_path() / ("quill-test-other-" + std::to_string(::getpid()) + ".ckpt")).string();
  TrainOptions o = options_for_test();
  o.checkpoint_path = ckpt;
  o.stop_after_steps = 2;
  Trainer t(o, train, nullptr);
  t.run();
  const Dataset smaller = subset(train, 0, 200);
  Trainer other(options_for_test(), smaller, nullptr);
  std::string message;
  try {
    other.restore(load_model_file(ckpt), ckpt);
  } catch (const Error& e) {
    message = e.what();
  }
  fs::remove(ckpt);
  CHECK(message.find("was trained on 300 images, this run has 200") != std::string::npos);
}

TEST_CASE("trainer: training lowers the loss and the record holds the run") {
  const Dataset train = small_training_set();
  TrainOptions o = options_for_test();
  o.augment = "none";
  Trainer t(o, train, nullptr);
  REQUIRE(t.run());
  REQUIRE(t.history().size() == 2);
  CHECK(t.history()[1].train_loss < t.history()[0].train_loss);
  const ModelRecord r = t.model_record({{"note", "test"}});
  CHECK(r.classes == train.classes);
  CHECK(r.weights.numel() == t.graph().num_params());
  CHECK(r.metadata["note"] == "test");
  const ModelRecord c = t.checkpoint_record({});
  REQUIRE(c.checkpoint.has_value());
  CHECK(c.checkpoint->optimizer_steps == 20);
  CHECK(c.checkpoint->optimizer_state.size() == 2);  // AdamW's two moments
}

// The message of the quill::Error that f throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("trainer: a diverging run stops with a one-line error and saves no checkpoint") {
  const Dataset train = small_training_set();
  test_files::TempDir dir("diverge");
  TrainOptions o = options_for_test();
  o.optimizer.kind = "sgd";
  o.optimizer.weight_decay = 0;
  o.schedule.kind = "constant";
  o.schedule.lr = 1e4;  // diverges within the first epoch
  o.checkpoint_path = dir.file("run.ckpt");
  Trainer t(o, train, nullptr);
  const std::string message = error_of([&] { t.run(); });
  INFO("message: ", message);
  CHECK(message.find("training diverged: the loss became") != std::string::npos);
  CHECK(message.find("in epoch 1") != std::string::npos);
  CHECK(message.find("--lr") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
  CHECK(t.history().empty());
  CHECK(t.step() < t.batches_per_epoch());  // stopped at the step, not at the epoch's end
  CHECK_FALSE(fs::exists(o.checkpoint_path));
}

// Weights that turn non-finite in an epoch's last update, after its losses were all finite, are caught
// before the epoch's validation and checkpoint.
TEST_CASE("trainer: non-finite weights at an epoch's end stop the run before its checkpoint") {
  const Dataset train = small_training_set();
  test_files::TempDir dir("nanweights");
  TrainOptions o = options_for_test();
  o.checkpoint_path = dir.file("run.ckpt");
  Trainer t(o, train, nullptr);
  TrainObserver poison_last_step;
  poison_last_step.on_step = [&](const StepReport& r) {
    if (r.batch == r.batches) t.graph().flat_values().data<float>()[7] = std::numeric_limits<float>::quiet_NaN();
  };
  const std::string message = error_of([&] { t.run(poison_last_step); });
  INFO("message: ", message);
  CHECK(message.find("training diverged: the weights hold NaN or infinite values after epoch 1") != std::string::npos);
  CHECK(t.history().empty());
  CHECK_FALSE(fs::exists(o.checkpoint_path));
}

// The interrupt flag (what Ctrl-C sets in quill train) stops the run after the step in progress, with a
// checkpoint of that position in the middle of the epoch, from which the run continues.
TEST_CASE("trainer: the interrupt flag stops after the current step and checkpoints the position") {
  const Dataset train = small_training_set();
  test_files::TempDir dir("interrupt");
  TrainOptions o = options_for_test();
  o.checkpoint_path = dir.file("run.ckpt");
  std::atomic<bool> flag{false};
  Trainer t(o, train, nullptr);
  t.set_interrupt_flag(&flag);
  TrainObserver interrupt_at_4;
  interrupt_at_4.on_step = [&](const StepReport& r) {
    if (r.batch == 4) flag.store(true);
  };
  CHECK_FALSE(t.run(interrupt_at_4));
  CHECK(t.step() == 4);
  REQUIRE(fs::exists(o.checkpoint_path));

  Trainer resumed(options_for_test(), train, nullptr);
  resumed.restore(load_model_file(o.checkpoint_path), o.checkpoint_path);
  CHECK(resumed.step() == 4);
  CHECK(same_state(resumed, t));
  CHECK(resumed.run());
  CHECK(resumed.epochs_done() == 2);
}
