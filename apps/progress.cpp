#include "apps/progress.h"

#include <unistd.h>

#include <cmath>

namespace quill {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%lds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  return buf;
}

std::string format_count(double n) {
  std::string s = std::to_string(std::llround(n));
  const size_t first = s[0] == '-' ? 1 : 0;
  for (int i = int(s.size()) - 3; i > int(first); i -= 3) s.insert(size_t(i), ",");
  return s;
}

ProgressPrinter::ProgressPrinter(std::FILE* out) : out_(out), tty_(::isatty(::fileno(out)) != 0) {}

void ProgressPrinter::clear_bar() {
  if (!bar_shown_) return;
  std::fputs("\r\033[K", out_);
  bar_shown_ = false;
}

void ProgressPrinter::step(const StepReport& r) {
  const double fraction = r.batches ? double(r.batch) / double(r.batches) : 0;
  // Only for a line that is printed: reading the loss waits for a GPU to finish the step.
  auto stats_text = [&r] {
    char stats[160];
    std::snprintf(stats, sizeof stats, "loss %.4f  acc %.2f%%  %s img/s  ETA %s", r.loss(), 100 * r.accuracy(),
                  format_count(r.images_per_second).c_str(), format_duration(r.eta_seconds).c_str());
    return std::string(stats);
  };
  if (tty_) {
    const auto now = std::chrono::steady_clock::now();
    if (r.batch != r.batches && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const std::string stats = stats_text();
    constexpr int kWidth = 24;
    const int filled = int(fraction * kWidth);
    std::string bar(size_t(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(out_, "\r\033[Kepoch %lld/%lld [%s] %3d%%  %s", (long long)r.epoch, (long long)r.epochs,
                 bar.c_str(), int(fraction * 100), stats.c_str());
    bar_shown_ = true;
    std::fflush(out_);
    return;
  }
  const int64_t decile = int64_t(fraction * 10);
  if (r.epoch == last_epoch_ && decile == last_decile_) return;
  if (decile == 0 && r.batch != r.batches) return;
  last_epoch_ = r.epoch;
  last_decile_ = decile;
  std::fprintf(out_, "epoch %lld/%lld %3d%%  %s\n", (long long)r.epoch, (long long)r.epochs, int(decile * 10),
               stats_text().c_str());
  std::fflush(out_);
}

void ProgressPrinter::epoch(const EpochRecord& r, int64_t epochs) {
  clear_bar();
  std::fprintf(out_, "epoch %lld/%lld  train loss %.4f acc %.2f%%", (long long)r.epoch, (long long)epochs,
               r.train_loss, 100 * r.train_accuracy);
  if (std::isfinite(r.val_accuracy))
    std::fprintf(out_, "  |  validation loss %.4f acc %.2f%%", r.val_loss, 100 * r.val_accuracy);
  std::fprintf(out_, "  |  %s, %s img/s, lr %.3g\n", format_duration(r.seconds).c_str(),
               format_count(r.images_per_second).c_str(), r.learning_rate);
  std::fflush(out_);
}

void ProgressPrinter::note(const std::string& line) {
  clear_bar();
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace quill
