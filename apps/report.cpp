#include "apps/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/plot/canvas.h"
#include "runtime/error.h"

namespace quill {
namespace {

using plot::Canvas;
using plot::Color;
using plot::Font;
using plot::HAlign;
using plot::TextStyle;
using plot::VAlign;
namespace colors = plot::colors;

const Font kTitleFont{15}, kAxisFont{13}, kTickFont{12}, kSmallFont{12};

std::string format(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

TextStyle style(Font font, HAlign h, VAlign v, Color color = colors::kText) {
  TextStyle s;
  s.font = font, s.h = h, s.v = v, s.color = color;
  return s;
}

TextStyle upward(Font font, Color color = colors::kText) {
  TextStyle s = style(font, HAlign::kCenter, VAlign::kMiddle, color);
  s.upward = true;
  return s;
}

// ---- learning curves

struct Series {
  std::vector<double> values;  // per epoch; NaN where missing
  Color color;
  std::string label;
  bool any() const {
    return std::any_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
  }
};

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` intervals over `range`.
double nice_step(double range, int ticks) {
  const double raw = range / ticks, power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * power) return m * power;
  return 10 * power;
}

int decimals_for(double step) { return step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9)); }

enum class Corner { kTopRight, kBottomRight };

struct Chart {
  std::string title, y_title;
  std::vector<Series> series;
  std::vector<int64_t> epochs;  // the x labels
  double lo = 0, hi = 1;        // widened to whole ticks
  Corner legend = Corner::kTopRight;
};

// A legend box of line-and-marker samples, inside the plot area's corner.
void draw_legend(Canvas& c, const std::vector<const Series*>& shown, double top, double right,
                 double bottom, Corner corner) {
  if (shown.empty()) return;
  constexpr double kPad = 8, kRow = 20, kSample = 26;
  double label_w = 0;
  for (const Series* s : shown) label_w = std::max(label_w, c.text_width(s->label, kTickFont));
  const double w = kPad + kSample + 8 + label_w + kPad, h = 2 * kPad + kRow * double(shown.size()) - 4;
  const double x = std::round(right - 10 - w);
  const double y = std::round(corner == Corner::kTopRight ? top + 10 : bottom - 10 - h);
  c.fill_rect(x, y, w, h, Color{255, 255, 255, 0.85});
  c.stroke_rect(x, y, w, h, Color{204, 204, 204});
  for (size_t i = 0; i < shown.size(); ++i) {
    const double cy = y + kPad + kRow * double(i) + 8;
    c.line(x + kPad, cy, x + kPad + kSample, cy, shown[i]->color, 2);
    c.circle(x + kPad + kSample / 2, cy, 3.5, shown[i]->color, colors::kWhite, 1);
    c.text(x + kPad + kSample + 8, cy, shown[i]->label, style(kTickFont, HAlign::kLeft, VAlign::kMiddle));
  }
}

// One chart in the box (x, y, w, h): a title, a framed plot area with a light grid at the ticks, tick
// labels, axis titles, a line with markers per series and a legend.
void draw_chart(Canvas& c, double x, double y, double w, double h, Chart chart) {
  const double left = x + 80, right = x + w - 22, top = y + 44, bottom = y + h - 60;
  const double step = nice_step(std::max(chart.hi - chart.lo, 1e-9), 5);
  double lo = std::floor(chart.lo / step + 1e-9) * step, hi = std::ceil(chart.hi / step - 1e-9) * step;
  if (hi <= lo) hi = lo + step;
  const int n = int(chart.epochs.size());
  auto px = [&](int i) { return n <= 1 ? (left + right) / 2 : left + 18 + (right - left - 36) * i / double(n - 1); };
  auto py = [&](double v) { return bottom - (bottom - top) * (std::clamp(v, lo, hi) - lo) / (hi - lo); };

  c.text((left + right) / 2, y + 28, chart.title, style(kTitleFont, HAlign::kCenter, VAlign::kBaseline));
  c.fill_rect(left, top, right - left, bottom - top, colors::kWhite);
  // Horizontal grid and y labels.
  const int y_ticks = int(std::lround((hi - lo) / step));
  for (int t = 0; t <= y_ticks; ++t) {
    const double v = lo + t * step, yy = py(v);
    if (t > 0 && t < y_ticks) c.line(left, yy, right, yy, colors::kGrid);
    c.line(left - 4, yy, left, yy, colors::kAxis);
    c.text(left - 7, std::floor(yy) + 0.5, format(v, decimals_for(step)),
           style(kTickFont, HAlign::kRight, VAlign::kMiddle));
  }
  // Vertical grid and epoch labels: the first epoch and every multiple of a nice step, about ten in all.
  const int label_every = n <= 12 ? 1 : int(nice_step(n - 1, 8));
  for (int i = 0; i < n; ++i) {
    if (i != 0 && chart.epochs[size_t(i)] % label_every != 0) continue;
    const double xx = px(i);
    c.line(xx, top, xx, bottom, colors::kGrid);
    c.line(xx, bottom, xx, bottom + 4, colors::kAxis);
    c.text(xx, bottom + 7, std::to_string(chart.epochs[size_t(i)]), style(kTickFont, HAlign::kCenter, VAlign::kTop));
  }
  c.text((left + right) / 2, bottom + 30, "epoch", style(kAxisFont, HAlign::kCenter, VAlign::kTop));
  c.text(x + 22, (top + bottom) / 2, chart.y_title, upward(kAxisFont));
  c.stroke_rect(left, top, right - left + 1, bottom - top + 1, colors::kAxis);

  std::vector<const Series*> shown;
  for (const Series& s : chart.series) {
    if (!s.any()) continue;
    shown.push_back(&s);
    std::vector<plot::Point> run;  // a line through consecutive values, broken where one is missing
    auto flush = [&] {
      c.polyline(run, s.color, 2);
      run.clear();
    };
    for (int i = 0; i < n; ++i) {
      const double v = s.values[size_t(i)];
      if (std::isfinite(v)) run.push_back({px(i), py(v)});
      else flush();
    }
    flush();
    for (int i = 0; i < n; ++i)
      if (std::isfinite(s.values[size_t(i)])) c.circle(px(i), py(s.values[size_t(i)]), 3.5, s.color, colors::kWhite, 1);
  }
  draw_legend(c, shown, top, right, bottom, chart.legend);
}

std::pair<double, double> value_range(const std::vector<Series>& series) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Series& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return {0, 1};
  return {lo, hi};
}

// ---- confusion matrix

// A white-to-blue colour ramp for heat maps, t in [0, 1]: white, light blue, dark blue.
constexpr Color kHeatLow{255, 255, 255}, kHeatMid{107, 174, 214}, kHeatHigh{8, 48, 107};

Color heat_color(double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto mix = [](Color a, Color b, double u) {
    return Color{uint8_t(std::lround(a.r + (b.r - a.r) * u)), uint8_t(std::lround(a.g + (b.g - a.g) * u)),
                 uint8_t(std::lround(a.b + (b.b - a.b) * u))};
  };
  return t < 0.5 ? mix(kHeatLow, kHeatMid, t * 2) : mix(kHeatMid, kHeatHigh, (t - 0.5) * 2);
}

}  // namespace

void write_learning_curves(const std::string& path, const std::vector<EpochRecord>& history) {
  Series train_loss{{}, colors::kBlue, "training"}, val_loss{{}, colors::kOrange, "validation"};
  Series train_acc = train_loss, val_acc = val_loss;
  std::vector<int64_t> epochs;
  for (const EpochRecord& e : history) {
    epochs.push_back(e.epoch > 0 ? e.epoch : int64_t(epochs.size()) + 1);
    train_loss.values.push_back(e.train_loss);
    val_loss.values.push_back(e.val_loss);
    train_acc.values.push_back(100 * e.train_accuracy);
    val_acc.values.push_back(100 * e.val_accuracy);
  }
  Canvas c(1100, 460, Color{250, 250, 250});
  c.set_title("learning curves: loss and accuracy per epoch");

  const double loss_hi = value_range({train_loss, val_loss}).second;
  draw_chart(c, 0, 0, 550, 460,
             Chart{"loss", "loss (cross-entropy)", {train_loss, val_loss}, epochs, 0.0, loss_hi > 0 ? loss_hi : 1.0,
                   Corner::kTopRight});
  const double acc_lo = value_range({train_acc, val_acc}).first;
  draw_chart(c, 550, 0, 550, 460,
             Chart{"accuracy", "accuracy (%)", {train_acc, val_acc}, epochs, std::min(acc_lo, 99.0), 100.0,
                   Corner::kBottomRight});
  c.write(path);
}

int write_misclassified_grid(const std::string& path, const Dataset& data, const std::vector<int32_t>& predictions,
                             int max_images) {
  std::vector<int64_t> wrong;
  for (size_t i = 0; i < predictions.size() && int(wrong.size()) < max_images; ++i)
    if (predictions[i] != data.labels[i]) wrong.push_back(int64_t(i));
  int64_t total_wrong = 0;
  for (size_t i = 0; i < predictions.size(); ++i) total_wrong += predictions[i] != data.labels[i];

  constexpr int kScale = 2, kColumns = 10, kPad = 16, kGap = 12, kHeader = 62, kLabel = 22;
  const int sample_w = data.cols * kScale, sample_h = data.rows * kScale;
  const int cell_w = sample_w + kGap, cell_h = sample_h + kLabel + kGap;
  const int rows = std::max(1, int((wrong.size() + kColumns - 1) / kColumns));
  Canvas c(std::max(2 * kPad + kColumns * cell_w - kGap, 600), kHeader + rows * cell_h + kPad - kGap);
  c.set_title("misclassified test images, true>predicted");
  const std::string title = "misclassified: true>predicted (" + std::to_string(wrong.size()) + " of " +
                            std::to_string(total_wrong) + ")";
  c.text(kPad, 26, title, style(kTitleFont, HAlign::kLeft, VAlign::kBaseline));
  // A key to the label colours.
  double kx = kPad;
  const double ky = 46;
  for (auto [text, color] : {std::pair<std::string, Color>{"true class", colors::kGreen},
                             {" > ", colors::kGrey},
                             {"predicted class", colors::kRed}}) {
    c.text(kx, ky, text, style(kSmallFont, HAlign::kLeft, VAlign::kBaseline, color));
    kx += c.text_width(text, kSmallFont);
  }
  for (size_t k = 0; k < wrong.size(); ++k) {
    const int64_t i = wrong[k];
    const int x = kPad + int(k % kColumns) * cell_w, y = kHeader + int(k / kColumns) * cell_h;
    c.gray_image(x, y, data.image(i), data.rows, data.cols, kScale, true);
    c.stroke_rect(x - 1, y - 1, sample_w + 2, sample_h + 2, Color{210, 210, 210});
    const std::string truth = data.classes[size_t(data.labels[size_t(i)])];
    const std::string guess = data.classes[size_t(predictions[size_t(i)])];
    Font font = kAxisFont;
    const double natural = c.text_width(truth + ">" + guess, font);
    if (natural > cell_w - 2) font.size = std::max(7.0, font.size * (cell_w - 2) / natural);
    const double wt = c.text_width(truth, font), wg = c.text_width(">", font);
    double tx = x + sample_w / 2.0 - c.text_width(truth + ">" + guess, font) / 2;
    const double ty = y + sample_h + 5;
    c.text(tx, ty, truth, style(font, HAlign::kLeft, VAlign::kTop, colors::kGreen));
    c.text(tx + wt, ty, ">", style(font, HAlign::kLeft, VAlign::kTop, colors::kGrey));
    c.text(tx + wt + wg, ty, guess, style(font, HAlign::kLeft, VAlign::kTop, colors::kRed));
  }
  if (wrong.empty()) c.text(kPad, kHeader + 20, "none", style(kAxisFont, HAlign::kLeft, VAlign::kBaseline, colors::kGrey));
  c.write(path);
  return int(wrong.size());
}

void write_confusion_matrix(const std::string& path, const ConfusionMatrix& matrix,
                            const std::vector<std::string>& classes) {
  const int k = int(matrix.size());
  QUILL_CHECK(k > 0 && k == int(classes.size()), "confusion matrix: ", k, " rows for ", classes.size(), " classes");
  const int cell = std::clamp(640 / k, 10, 48);
  const Font label_font{std::clamp(cell * 0.55, 7.0, 13.0)};
  Canvas c(1, 1);  // measures text for the layout; the image is drawn on `image` below
  double label_w = 0;
  for (const std::string& name : classes) label_w = std::max(label_w, c.text_width(name, label_font));
  const bool upright_columns = label_w <= cell - 2;
  const double column_labels_h =
      upright_columns ? c.ascent(label_font) + c.descent(label_font) : label_w;

  const std::string title = "confusion matrix", subtitle = "rows: true class, columns: predicted; shade: share of the row (square root)";
  constexpr double kMargin = 16, kAxisTitle = 24;
  const double left = std::ceil(kMargin + kAxisTitle + label_w + 8);
  const double top = std::ceil(kMargin + 52 + kAxisTitle + column_labels_h + 6);
  const double side = double(k * cell);
  const double bar_x = left + side + 24, bar_w = 16;
  double tick_w = c.text_width("100%", kTickFont);
  const double right = bar_x + bar_w + 6 + tick_w + 8 + kAxisTitle;
  const int width = int(std::ceil(std::max({right + kMargin, kMargin + c.text_width(subtitle, kSmallFont) + kMargin,
                                            kMargin + c.text_width(title, kTitleFont) + kMargin})));
  Canvas image(width, int(top + side + kMargin));
  image.set_title("confusion matrix: rows true class, columns predicted");
  image.text(kMargin, kMargin + 14, title, style(kTitleFont, HAlign::kLeft, VAlign::kBaseline));
  image.text(kMargin, kMargin + 34, subtitle, style(kSmallFont, HAlign::kLeft, VAlign::kBaseline, colors::kGrey));
  image.text(left + side / 2, top - column_labels_h - 10, "predicted class",
             style(kAxisFont, HAlign::kCenter, VAlign::kBottom));
  image.text(kMargin + 10, top + side / 2, "true class", upward(kAxisFont));

  image.fill_rect(left, top, side, side, Color{232, 232, 232});  // shows between the cells
  const bool show_counts = cell >= 30;
  for (int t = 0; t < k; ++t) {
    int64_t row_total = 0;
    for (int64_t n : matrix[size_t(t)]) row_total += n;
    const std::string& name = classes[size_t(t)];
    image.text(left - 6, top + t * cell + cell / 2.0, name, style(label_font, HAlign::kRight, VAlign::kMiddle));
    if (upright_columns)
      image.text(left + t * cell + cell / 2.0, top - 6, name, style(label_font, HAlign::kCenter, VAlign::kBottom));
    else {
      TextStyle s = style(label_font, HAlign::kLeft, VAlign::kMiddle);
      s.upward = true;
      image.text(left + t * cell + cell / 2.0, top - 6, name, s);
    }
    for (int p = 0; p < k; ++p) {
      const int64_t n = matrix[size_t(t)][size_t(p)];
      const double shade = std::sqrt(row_total ? double(n) / double(row_total) : 0.0);
      image.fill_rect(left + p * cell, top + t * cell, cell - 1, cell - 1, heat_color(shade));
      if (show_counts && n > 0) {
        const std::string s = std::to_string(n);
        Font font{12};
        const double w = image.text_width(s, font);
        if (w > cell - 5) font.size = std::max(7.0, font.size * (cell - 5) / w);
        image.text(left + p * cell + (cell - 1) / 2.0, top + t * cell + (cell - 1) / 2.0, s,
                   style(font, HAlign::kCenter, VAlign::kMiddle, shade > 0.6 ? colors::kWhite : colors::kText));
      }
    }
  }
  image.stroke_rect(left - 1, top - 1, side + 1, side + 1, colors::kAxis);

  // The colour bar: the ramp against the share of the row, on the same square-root scale as the cells.
  image.vertical_gradient(bar_x, top, bar_w, side, {{0, kHeatLow}, {0.5, kHeatMid}, {1, kHeatHigh}});
  image.stroke_rect(bar_x, top, bar_w, side, colors::kAxis);
  for (double share : {0.0, 0.05, 0.25, 0.5, 1.0}) {
    const double yy = top + side - side * std::sqrt(share);
    image.line(bar_x + bar_w, yy, bar_x + bar_w + 4, yy, colors::kAxis);
    image.text(bar_x + bar_w + 6, std::clamp(yy, top + 5, top + side - 5), format(100 * share, 0) + "%",
               style(kTickFont, HAlign::kLeft, VAlign::kMiddle));
  }
  image.text(bar_x + bar_w + 6 + tick_w + 8 + kAxisTitle / 2, top + side / 2, "share of the row", upward(kAxisFont));
  image.write(path);
}

std::string report_path(const std::string& model_path, const std::string& suffix) {
  const size_t slash = model_path.find_last_of('/');
  const size_t dot = model_path.find_last_of('.');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash + 1);
  return (has_ext ? model_path.substr(0, dot) : model_path) + "." + suffix;
}

}  // namespace quill
