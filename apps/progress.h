#pragma once
// Training progress on stderr. On a terminal: one bar redrawn in place (at most ~10 times a second);
// otherwise (logs, pipes, CI): a plain line at every 10% of an epoch, so logs stay readable.
#include <chrono>
#include <cstdio>
#include <string>

#include "engine/trainer.h"

namespace quill {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::FILE* out = stderr);
  void step(const StepReport& r);
  void epoch(const EpochRecord& r, int64_t epochs);
  // A message on its own line (clears a bar in progress first).
  void note(const std::string& line);

 private:
  void clear_bar();
  std::FILE* out_;
  bool tty_;
  bool bar_shown_ = false;
  int64_t last_decile_ = -1, last_epoch_ = -1;
  std::chrono::steady_clock::time_point last_draw_{};
};

std::string format_duration(double seconds);  // "42s", "3m07s", "1h02m"
std::string format_count(double n);           // "12,345"

}  // namespace quill
