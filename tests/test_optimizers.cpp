// Optimizer steps against values worked out by hand, and learning-rate schedules at known steps.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/schedule.h"
#include "runtime/ops.h"

using namespace quill;

namespace {

struct OneParam {
  Tensor param = Tensor::empty(Shape{1}, DType::F64);
  Tensor grad = Tensor::empty(Shape{1}, DType::F64);
  Tensor slot1 = Tensor::zeros(Shape{1}, DType::F64);
  Tensor slot2 = Tensor::zeros(Shape{1}, DType::F64);
  explicit OneParam(double p) { param.fill(p); }
  double value() const { return param.item(); }
};

// Hand-derived values are exact to ~1e-15 in double; 1e-12 leaves room for operation order.
constexpr double kExact = 1e-12;

}  // namespace

TEST_CASE("optimizers: SGD with momentum, two steps") {
  OneParam w(1.0);
  SgdConfig cfg;
  cfg.lr = 0.1;
  cfg.momentum = 0.9;
  w.grad.fill(0.5);
  ops::sgd_step(Backend::Cpu, cfg, w.param, w.grad, w.slot1);
  CHECK(w.value() == doctest::Approx(0.95).epsilon(kExact));  // v = 0.5; p = 1 - 0.1*0.5
  ops::sgd_step(Backend::Cpu, cfg, w.param, w.grad, w.slot1);
  CHECK(w.value() == doctest::Approx(0.855).epsilon(kExact));  // v = 0.9*0.5 + 0.5 = 0.95; p = 0.95 - 0.095
}

TEST_CASE("optimizers: SGD with Nesterov momentum and weight decay, two steps") {
  OneParam w(1.0);
  SgdConfig cfg;
  cfg.lr = 0.1;
  cfg.momentum = 0.9;
  cfg.nesterov = true;
  cfg.weight_decay = 0.1;
  w.grad.fill(0.5);
  // g = 0.5 + 0.1*1 = 0.6; v = 0.6; step = 0.6 + 0.9*0.6 = 1.14; p = 1 - 0.114 = 0.886
  ops::sgd_step(Backend::Cpu, cfg, w.param, w.grad, w.slot1);
  CHECK(w.value() == doctest::Approx(0.886).epsilon(kExact));
  // g = 0.5 + 0.0886 = 0.5886; v = 0.54 + 0.5886 = 1.1286; step = 0.5886 + 1.01574 = 1.60434; p = 0.725566
  ops::sgd_step(Backend::Cpu, cfg, w.param, w.grad, w.slot1);
  CHECK(w.value() == doctest::Approx(0.725566).epsilon(kExact));
}

TEST_CASE("optimizers: plain SGD needs no velocity") {
  OneParam w(2.0);
  SgdConfig cfg;
  cfg.lr = 0.5;
  cfg.momentum = 0.0;
  w.grad.fill(-1.0);
  ops::sgd_step(Backend::Cpu, cfg, w.param, w.grad, w.slot1);
  CHECK(w.value() == doctest::Approx(2.5).epsilon(kExact));
}

TEST_CASE("optimizers: Adam, two steps with bias correction") {
  OneParam w(1.0);
  AdamConfig cfg;
  cfg.lr = 0.1;
  w.grad.fill(0.5);
  // m = 0.05, v = 0.00025; m^ = 0.5, v^ = 0.25; p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002
  ops::adam_step(Backend::Cpu, cfg, 1, w.param, w.grad, w.slot1, w.slot2);
  CHECK(w.value() == doctest::Approx(0.900000002).epsilon(kExact));
  w.grad.fill(-0.25);
  // m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225;
  // m^ = 0.02 / 0.19 = 0.105263157894737, v^ = 0.00031225 / 0.001999 = 0.156203101550778;
  // p = 0.900000002 - 0.1 * 0.105263157894737 / (0.395225381 + 1e-8) = 0.873366298707846
  ops::adam_step(Backend::Cpu, cfg, 2, w.param, w.grad, w.slot1, w.slot2);
  CHECK(w.value() == doctest::Approx(0.873366298707846).epsilon(kExact));
}

TEST_CASE("optimizers: Adam with L2 weight decay versus AdamW's decoupled decay") {
  OneParam l2(1.0), decoupled(1.0);
  AdamConfig cfg;
  cfg.lr = 0.1;
  cfg.weight_decay = 0.1;
  l2.grad.fill(0.5);
  decoupled.grad.fill(0.5);
  // L2: g = 0.5 + 0.1 = 0.6; m^ = 0.6, v^ = 0.36; p = 1 - 0.1 * 0.6 / (0.6 + 1e-8)
  ops::adam_step(Backend::Cpu, cfg, 1, l2.param, l2.grad, l2.slot1, l2.slot2);
  CHECK(l2.value() == doctest::Approx(1 - 0.1 * 0.6 / (0.6 + 1e-8)).epsilon(kExact));
  // AdamW: p = 1 * (1 - 0.1*0.1) = 0.99, then - 0.1 * 0.5 / (0.5 + 1e-8)
  cfg.decoupled_weight_decay = true;
  ops::adam_step(Backend::Cpu, cfg, 1, decoupled.param, decoupled.grad, decoupled.slot1, decoupled.slot2);
  CHECK(decoupled.value() == doctest::Approx(0.99 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(kExact));
}

TEST_CASE("schedules: values at known steps") {
  ScheduleConfig cfg;
  cfg.lr = 0.1;

  cfg.kind = "constant";
  CHECK(LrSchedule(cfg, 100).at(57) == 0.1);

  cfg.kind = "step";
  cfg.step_size = 10;
  cfg.gamma = 0.5;
  LrSchedule step(cfg, 100);
  CHECK(step.at(9) == doctest::Approx(0.1));
  CHECK(step.at(10) == doctest::Approx(0.05));
  CHECK(step.at(35) == doctest::Approx(0.0125));

  cfg.kind = "cosine";
  cfg.min_lr = 0.001;
  LrSchedule cosine(cfg, 101);
  CHECK(cosine.at(0) == doctest::Approx(0.1));
  CHECK(cosine.at(50) == doctest::Approx((0.1 + 0.001) / 2));
  CHECK(cosine.at(100) == doctest::Approx(0.001));

  cfg.kind = "onecycle";
  cfg.warmup = 0.3;
  cfg.div_factor = 25;
  cfg.final_div = 1e4;
  LrSchedule one(cfg, 101);  // warm-up ends at step 0.3*101 - 1 = 29.3
  CHECK(one.at(0) == doctest::Approx(0.1 / 25));
  CHECK(one.at(29) < 0.1);
  CHECK(one.at(29) > 0.099);
  CHECK(one.at(30) < 0.1);
  CHECK(one.at(100) == doctest::Approx(0.1 / 25 / 1e4));
  for (int s = 1; s <= 29; ++s) CHECK(one.at(s) > one.at(s - 1));   // rising
  for (int s = 31; s <= 100; ++s) CHECK(one.at(s) < one.at(s - 1));  // falling
}

TEST_CASE("schedules: bad settings are refused") {
  ScheduleConfig cfg;
  cfg.kind = "linear";
  CHECK_THROWS_WITH_AS(LrSchedule(cfg, 10), doctest::Contains("unknown learning-rate schedule 'linear'"), Error);
  cfg.kind = "cosine";
  cfg.lr = -1;
  CHECK_THROWS_WITH_AS(LrSchedule(cfg, 10), doctest::Contains("must be positive"), Error);
}
