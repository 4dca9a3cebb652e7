#include "apps/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/drawing.h"
#include "data/png_io.h"

namespace quill {
namespace {

constexpr int kText = 2;  // font scale for labels: 10x14-pixel characters

std::string format(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

struct Series {
  std::vector<double> values;  // per epoch; NaN where missing
  Color color;
  std::string label;
};

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` intervals over `range`.
double nice_step(double range, int ticks) {
  const double raw = range / ticks, power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * power) return m * power;
  return 10 * power;
}

int decimals_for(double step) { return step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9)); }

// One chart: title and legend above a framed plot area, y ticks at nice values, epoch ticks, a line with
// markers per series. The y range [lo, hi] is widened to whole ticks.
void draw_chart(RgbImage& img, int x, int y, int w, int h, const std::string& title, const std::vector<Series>& series,
                double lo, double hi) {
  const int left = x + 80, right = x + w - 20, top = y + 44, bottom = y + h - 45;
  const double step = nice_step(std::max(hi - lo, 1e-9), 5);
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  if (hi <= lo) hi = lo + step;
  draw_text(img, left, y + 14, title, colors::kBlack, kText);
  int legend_x = right;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {  // right-aligned, in series order
    legend_x -= text_width(it->label, kText);
    draw_text(img, legend_x, y + 14, it->label, colors::kBlack, kText);
    legend_x -= 26;
    fill_rect(img, legend_x, y + 17, 18, 8, it->color);
    legend_x -= 16;
  }
  fill_rect(img, left, top, right - left, bottom - top, colors::kWhite);
  const int epochs = series.empty() ? 0 : int(series[0].values.size());
  auto px = [&](double epoch_index) {
    return epochs <= 1 ? (left + right) / 2.0 : left + 10 + (right - left - 20) * epoch_index / (epochs - 1);
  };
  auto py = [&](double v) { return bottom - (bottom - top) * (v - lo) / (hi - lo); };
  for (double v = lo; v <= hi + step / 2; v += step) {  // horizontal grid and y labels
    const int yy = int(std::lround(py(v)));
    draw_line(img, left, yy, right, yy, colors::kLightGrey);
    const std::string label = format(v, decimals_for(step));
    draw_text(img, left - 8 - text_width(label, kText), yy - text_height(kText) / 2, label, colors::kBlack, kText);
  }
  const int label_every = std::max(1, (epochs + 9) / 10);
  for (int e = 0; e < epochs; ++e) {
    if (e % label_every != 0 && e != epochs - 1) continue;
    const int xx = int(std::lround(px(e)));
    draw_line(img, xx, bottom, xx, bottom + 5, colors::kBlack);
    const std::string label = std::to_string(e + 1);
    draw_text(img, xx - text_width(label, kText) / 2, bottom + 10, label, colors::kBlack, kText);
  }
  draw_text(img, (left + right - text_width("epoch", kText)) / 2, bottom + 28, "epoch", colors::kGrey, kText);
  draw_line(img, left, top, left, bottom, colors::kBlack, 2);
  draw_line(img, left, bottom, right, bottom, colors::kBlack, 2);
  for (const Series& s : series)
    for (int e = 0; e < epochs; ++e) {
      const double v = s.values[size_t(e)];
      if (!std::isfinite(v)) continue;
      const double vx = px(e), vy = py(std::clamp(v, lo, hi));
      fill_rect(img, int(vx) - 3, int(vy) - 3, 7, 7, s.color);
      if (e > 0 && std::isfinite(s.values[size_t(e) - 1]))
        draw_line(img, px(e - 1), py(std::clamp(s.values[size_t(e) - 1], lo, hi)), vx, vy, s.color, 3);
    }
}

std::pair<double, double> value_range(const std::vector<Series>& series) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Series& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return {0, 1};
  return {lo, hi};
}

}  // namespace

void write_learning_curves(const std::string& path, const std::vector<EpochRecord>& history) {
  Series train_loss{{}, colors::kBlue, "train"}, val_loss{{}, colors::kOrange, "validation"};
  Series train_acc = train_loss, val_acc = val_loss;
  for (const EpochRecord& e : history) {
    train_loss.values.push_back(e.train_loss);
    val_loss.values.push_back(e.val_loss);
    train_acc.values.push_back(100 * e.train_accuracy);
    val_acc.values.push_back(100 * e.val_accuracy);
  }
  RgbImage img(1100, 460);
  fill_rect(img, 0, 0, img.width, img.height, Color{245, 245, 245});

  const double loss_hi = value_range({train_loss, val_loss}).second;
  draw_chart(img, 0, 0, 550, 460, "loss", {train_loss, val_loss}, 0.0, loss_hi > 0 ? loss_hi : 1.0);
  const double acc_lo = value_range({train_acc, val_acc}).first;
  draw_chart(img, 550, 0, 550, 460, "accuracy %", {train_acc, val_acc}, std::min(acc_lo, 99.0), 100.0);
  write_png(path, img);
}

int write_misclassified_grid(const std::string& path, const Dataset& data, const std::vector<int32_t>& predictions,
                             int max_images) {
  std::vector<int64_t> wrong;
  for (size_t i = 0; i < predictions.size() && int(wrong.size()) < max_images; ++i)
    if (predictions[i] != data.labels[i]) wrong.push_back(int64_t(i));
  int64_t total_wrong = 0;
  for (size_t i = 0; i < predictions.size(); ++i) total_wrong += predictions[i] != data.labels[i];

  constexpr int kScale = 2, kColumns = 10, kPad = 8;
  const int cell_w = data.cols * kScale + kPad, cell_h = data.rows * kScale + kPad + text_height(kText) + 6;
  const int rows = std::max(1, int((wrong.size() + kColumns - 1) / kColumns));
  const int header = 40;
  RgbImage img(std::max(kColumns * cell_w + kPad, 560), header + rows * cell_h + kPad);
  fill_rect(img, 0, 0, img.width, img.height, colors::kWhite);
  const std::string title = "misclassified: true>predicted (" + std::to_string(wrong.size()) + " of " +
                            std::to_string(total_wrong) + ")";
  draw_text(img, kPad, 12, title, colors::kBlack, kText);
  for (size_t k = 0; k < wrong.size(); ++k) {
    const int64_t i = wrong[k];
    const int x = kPad + int(k % kColumns) * cell_w, y = header + int(k / kColumns) * cell_h;
    draw_sample(img, x, y, data.image(i), data.rows, data.cols, kScale);
    const std::string truth = data.classes[size_t(data.labels[size_t(i)])];
    const std::string guess = data.classes[size_t(predictions[size_t(i)])];
    int tx = x;
    const int ty = y + data.rows * kScale + 4;
    draw_text(img, tx, ty, truth, colors::kGreen, kText);
    tx += text_width(truth, kText) + kText;  // the next character cell
    draw_text(img, tx, ty, ">", colors::kGrey, kText);
    tx += text_width(">", kText) + kText;
    draw_text(img, tx, ty, guess, colors::kRed, kText);
  }
  if (wrong.empty()) draw_text(img, kPad, header + 10, "none", colors::kGrey, kText);
  write_png(path, img);
  return int(wrong.size());
}

void write_confusion_matrix(const std::string& path, const ConfusionMatrix& matrix,
                            const std::vector<std::string>& classes) {
  const int k = int(matrix.size());
  QUILL_CHECK(k > 0 && k == int(classes.size()), "confusion matrix: ", k, " rows for ", classes.size(), " classes");
  const int cell = std::clamp(640 / k, 10, 48);
  const int scale = cell >= 24 ? 2 : 1;
  size_t longest = 1;
  for (const std::string& c : classes) longest = std::max(longest, c.size());
  const int label_w = text_width(std::string(longest, 'W'), scale) + 12;
  const int left = label_w + 24, top = 40 + text_height(scale) + 8;
  const std::string title = "rows: true class, columns: predicted";
  RgbImage img(std::max(left + k * cell + 20, text_width(title, 2) + 16), top + k * cell + 20);
  fill_rect(img, 0, 0, img.width, img.height, colors::kWhite);
  draw_text(img, 8, 10, title, colors::kBlack, 2);
  const bool show_counts = cell >= 36;
  for (int t = 0; t < k; ++t) {
    int64_t row_total = 0;
    for (int64_t c : matrix[size_t(t)]) row_total += c;
    const std::string& name = classes[size_t(t)];
    draw_text(img, left - 8 - text_width(name, scale), top + t * cell + (cell - text_height(scale)) / 2, name,
              colors::kBlack, scale);
    draw_text(img, left + t * cell + (cell - text_width(name, scale)) / 2, top - text_height(scale) - 6, name,
              colors::kBlack, scale);
    for (int p = 0; p < k; ++p) {
      const int64_t n = matrix[size_t(t)][size_t(p)];
      const double share = row_total ? double(n) / double(row_total) : 0.0;
      fill_rect(img, left + p * cell, top + t * cell, cell - 1, cell - 1, heat_color(std::sqrt(share)));
      if (show_counts && n > 0) {
        const std::string s = std::to_string(n);
        const int s_scale = text_width(s, 2) <= cell - 4 ? 2 : 1;
        draw_text(img, left + p * cell + (cell - text_width(s, s_scale)) / 2,
                  top + t * cell + (cell - text_height(s_scale)) / 2, s,
                  std::sqrt(share) > 0.6 ? colors::kWhite : colors::kBlack, s_scale);
      }
    }
  }
  write_png(path, img);
}

std::string report_path(const std::string& model_path, const std::string& suffix) {
  const size_t slash = model_path.find_last_of('/');
  const size_t dot = model_path.find_last_of('.');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash + 1);
  return (has_ext ? model_path.substr(0, dot) : model_path) + "." + suffix;
}

}  // namespace quill
