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
#include "tests/training_data.h"

using namespace quill;
namespace fs = std::filesystem;

namespace {

constexpr int kSteps = 50, kBatch = 32;

Dataset training_images() { return test::digits_for_training(kSteps * kBatch, 7); }

struct Run {
  std::vector<double> losses;  // per step
  std::vector<float> weights;  // all parameters at the end
};

Run train(const Dataset& data, Device device, Backend backend) {
  TrainOptions o;
  o.model_description = test::model_description_text("cnn.txt");
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

// A run that diverges stops with the trainer's error on every GPU backend too, where the loss is summed on
// the device and checked when the sums are read (here at the epoch's end: no observer reads them sooner).
// The CPU runs the same case first, so that machines without a GPU check that it does diverge.
TEST_CASE("gpu training: a diverging run stops with an error on every gpu backend, as on the cpu") {
  std::vector<Backend> backends = test_gpu::gpu_backends();
  backends.insert(backends.begin(), Backend::Cpu);
  const Dataset data = training_images();
  for (Backend backend : backends) {
    CAPTURE(backend_name(backend));
    TrainOptions o;
    o.model_description = test::model_description_text("small.txt");
    o.epochs = 1;
    o.batch_size = kBatch;
    o.optimizer.kind = "sgd";
    o.schedule.kind = "constant";
    o.schedule.lr = 1e4;
    o.device = backend == Backend::Cpu ? Device::cpu() : Device::cuda();
    o.backend = backend;
    Trainer trainer(o, data, nullptr);
    CHECK_THROWS_WITH_AS(trainer.run(), doctest::Contains("training diverged"), Error);
    CHECK(trainer.history().empty());
  }
}
