#include "layers/schedule.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace quill {
namespace {
constexpr double kPi = 3.14159265358979323846;
// Cosine interpolation from a (t = 0) to b (t = 1).
double cosine(double a, double b, double t) { return b + (a - b) * 0.5 * (1.0 + std::cos(kPi * t)); }
}  // namespace

LrSchedule::LrSchedule(const ScheduleConfig& cfg, int64_t total_steps) : cfg_(cfg), total_(total_steps) {
  QUILL_CHECK(cfg.kind == "constant" || cfg.kind == "step" || cfg.kind == "cosine" || cfg.kind == "onecycle",
              "unknown learning-rate schedule '", cfg.kind, "' (expected constant, step, cosine or onecycle)");
  QUILL_CHECK(cfg.lr > 0 && std::isfinite(cfg.lr), "the learning rate must be positive, got ", cfg.lr);
  QUILL_CHECK(total_steps >= 1, "a schedule needs at least one step");
  QUILL_CHECK(cfg.warmup >= 0 && cfg.warmup < 1, "warm-up fraction must be in [0, 1)");
  QUILL_CHECK(cfg.step_size >= 1, "step schedule: step size must be at least 1");
}

double LrSchedule::at(int64_t step) const {
  step = std::clamp<int64_t>(step, 0, total_ - 1);
  if (cfg_.kind == "constant") return cfg_.lr;
  if (cfg_.kind == "step") return cfg_.lr * std::pow(cfg_.gamma, double(step / cfg_.step_size));
  if (cfg_.kind == "cosine") return cosine(cfg_.lr, cfg_.min_lr, total_ > 1 ? double(step) / (total_ - 1) : 0.0);
  // One-cycle (Smith 2018, as PyTorch's OneCycleLR with cosine annealing): warm up from lr/div to lr,
  // then anneal to lr/(div*final_div).
  const double start = cfg_.lr / cfg_.div_factor, end = start / cfg_.final_div;
  const double warm_steps = std::max(1.0, cfg_.warmup * total_ - 1.0);
  if (step <= warm_steps) return cosine(start, cfg_.lr, step / warm_steps);
  const double rest = std::max(1.0, (total_ - 1) - warm_steps);
  return cosine(cfg_.lr, end, (step - warm_steps) / rest);
}

}  // namespace quill
