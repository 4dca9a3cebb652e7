#pragma once
// Learning-rate schedules as functions of the step (0-based) over a run of total_steps.
#include <string>

namespace quill {

struct ScheduleConfig {
  std::string kind = "onecycle";  // constant, step, cosine, onecycle
  double lr = 1e-3;               // base (constant, step, cosine) or peak (onecycle) rate
  double min_lr = 0.0;            // cosine floor
  int64_t step_size = 1000;       // step: decay every step_size steps ...
  double gamma = 0.1;             // ... by this factor
  double warmup = 0.3;            // onecycle: fraction of the run spent warming up
  double div_factor = 25.0;       // onecycle: starts at lr / div_factor
  double final_div = 1e4;         // onecycle: ends at lr / (div_factor * final_div)
};

class LrSchedule {
 public:
  LrSchedule(const ScheduleConfig& cfg, int64_t total_steps);
  double at(int64_t step) const;
  const ScheduleConfig& config() const { return cfg_; }

 private:
  ScheduleConfig cfg_;
  int64_t total_;
};

}  // namespace quill
