// Whole-network training on the GPU against the CPU reference: the default CNN trained for 50 steps on each
// GPU backend tracks the CPU run's loss step by step, and two GPU runs end with bit-identical weights.
//
// Tolerance: every op matches the CPU within float32 rounding (1e-5 relative, test_gpu_backends.cpp), but
// sums in another order differ in the last bits, and training amplifies such differences step after step.
// Plain SGD with momentum (no Adam, whose per-weight normalisation turns a 1e-7 difference in a vanishing
// gradient into a full-size step) keeps that growth slow: 50 steps are allowed 1e-3 relative in the loss,
// about two orders of magnitude above float32 rounding of a 0.87M-parameter network's per-step sums.
// Dropout masks come from the same counter-based generator on both devices, so they agree exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/trainer.h"
#include "data/idx.h"
#include "runtime/rng.h"
#include "tests/gpu_backends.h"

using namespace quill;
namespace fs = std::filesystem;

namespace {

constexpr int kSteps = 50, kBatch = 32;

std::string default_cnn() {
  std::ifstream f(std::string(QUILL_SOURCE_DIR) + "/models/cnn.txt");
  REQUIRE(f);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// kSteps full batches: real MNIST training digits when QUILL_DATA has them, else a class-dependent bar on
// noise (what is learned doesn't matter here, only that both devices learn the same).
Dataset training_images() {
  const int n = kSteps * kBatch;
  const char* root = std::getenv("QUILL_DATA");
  if (root && *root) {
    const std::string dir = std::string(root) + "/mnist/";
    if (fs::exists(dir + "train-images-idx3-ubyte.gz"))
      return subset(load_idx_dataset(dir + "train-images-idx3-ubyte.gz", dir + "train-labels-idx1-ubyte.gz", 10), 0, n);
  }
  Dataset d;
  for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
  Rng rng(7, 0);
  for (int i = 0; i < n; ++i) {
    const int label = int(rng.below(10));
    d.labels.push_back(label);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) d.pixels.push_back(uint8_t((y / 3 == label ? 200 : 0) + rng.below(40)));
  }
  return d;
}

struct Run {
  std::vector<double> losses;  // per step
  std::vector<float> weights;  // all parameters at the end
};

Run train(const Dataset& data, Device device, Backend backend) {
  TrainOptions o;
  o.model_description = default_cnn();
  o.epochs = 1;
  o.batch_size = kBatch;
  o.optimizer.kind = "sgd";
  o.optimizer.weight_decay = 5e-4;
  o.schedule.kind = "constant";
  o.schedule.lr = 0.02;
  o.seed = 3;
  o.device = device;
  o.backend = backend;
  Trainer trainer(o, data, nullptr);
  Run run;
  TrainObserver observer;
  observer.on_step = [&](const StepReport& r) { run.losses.push_back(r.step_loss()); };
  REQUIRE(trainer.run(observer));
  const Tensor w = trainer.graph().flat_values().to(Device::cpu());
  run.weights.assign(w.data<float>(), w.data<float>() + w.numel());
  return run;
}

}  // namespace

TEST_CASE("gpu training: 50 steps of the default cnn track the cpu losses, and two gpu runs are identical") {
  const std::vector<Backend> backends = test_gpu::gpu_backends();
  if (backends.empty()) return;
  const Dataset data = training_images();
  const Run cpu = train(data, Device::cpu(), Backend::Cpu);
  REQUIRE(cpu.losses.size() == size_t(kSteps));
  CHECK(cpu.losses.back() < 0.8 * cpu.losses.front());  // it learns, so the comparison means something
  for (Backend backend : backends) {
    CAPTURE(backend_name(backend));
    const Run gpu = train(data, Device::cuda(), backend);
    REQUIRE(gpu.losses.size() == cpu.losses.size());
    double worst = 0;
    for (size_t s = 0; s < gpu.losses.size(); ++s) {
      CAPTURE(s);
      const double relative = std::abs(gpu.losses[s] - cpu.losses[s]) / std::abs(cpu.losses[s]);
      worst = std::max(worst, relative);
      CHECK(relative < 1e-3);
    }
    MESSAGE(backend_name(backend), ": largest relative loss difference from the cpu over ", kSteps,
            " steps: ", worst);
    const Run again = train(data, Device::cuda(), backend);
    CHECK(again.losses == gpu.losses);
    CHECK(std::memcmp(again.weights.data(), gpu.weights.data(), gpu.weights.size() * sizeof(float)) == 0);
  }
}
