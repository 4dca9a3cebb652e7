// The op benchmark's bar chart: for each math mode and batch a panel with one row per op call and one bar
// per backend (median time, log scale, the min-max spread as a whisker), drawn with apps/drawing.h.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include "engine/atomic_file.h"
#include "apps/drawing.h"
#include "apps/bench/op_bench_report.h"
#include "data/png_io.h"

namespace quill {
namespace {

constexpr int kText = 2;  // font scale: 10x14-pixel characters
constexpr int kBar = 14, kBarGap = 2, kRowGap = 8;
constexpr int kPlotWidth = 560, kValueWidth = 96, kMargin = 16;
constexpr int kPanelTop = 56, kPanelBottom = 64, kHeader = 70;

const Color kPalette[] = {colors::kBlue, colors::kOrange, colors::kGreen, colors::kRed, Color{148, 103, 189}};
const Color kRowShade{246, 246, 246};

std::string ms_text(double v) {
  if (v <= 0 || !std::isfinite(v)) return "0";
  const int decimals = std::clamp(2 - int(std::floor(std::log10(v))), 0, 6);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// 10^d as a plain number: 0.001, 1, 100.
std::string decade_text(int d) {
  if (d >= 0) return "1" + std::string(size_t(d), '0');
  return "0." + std::string(size_t(-d - 1), '0') + "1";
}

struct Layout {
  int label_width = 0, row_height = 0, panel_width = 0, panel_height = 0;
  double log_lo = 0, log_hi = 1;  // decades of the time axis (ms)
};

Layout layout_of(const OpBenchReport& r) {
  Layout l;
  size_t rows = 0;
  double lo = INFINITY, hi = 0;
  for (const ModeResult& m : r.results) {
    rows = std::max(rows, m.cases.size());
    for (const CaseResult& c : m.cases) {
      l.label_width = std::max(l.label_width, text_width(c.label(), kText));
      for (const Timing& t : c.timings) {
        if (t.min_ms > 0) lo = std::min(lo, t.min_ms);
        hi = std::max(hi, t.max_ms);
      }
    }
  }
  if (!(lo > 0) || !(hi > 0)) lo = 1e-3, hi = 1;
  l.log_lo = std::floor(std::log10(lo));
  l.log_hi = std::max(std::ceil(std::log10(hi)), l.log_lo + 1);
  l.label_width += 16;
  const int bars = int(std::max<size_t>(1, r.backends.size()));
  l.row_height = bars * (kBar + kBarGap) - kBarGap + kRowGap;
  l.panel_width = kMargin + l.label_width + kPlotWidth + kValueWidth + kMargin;
  l.panel_height = kPanelTop + int(rows) * l.row_height + kPanelBottom;
  return l;
}

void draw_panel(RgbImage& img, int x0, int y0, const Layout& l, const ModeResult& m, const OpBenchReport& r) {
  const int left = x0 + kMargin + l.label_width, top = y0 + kPanelTop;
  const int bottom = top + int(m.cases.size()) * l.row_height;
  auto px = [&](double ms) {
    const double t = (std::log10(std::max(ms, 1e-12)) - l.log_lo) / (l.log_hi - l.log_lo);
    return left + int(std::lround(std::clamp(t, 0.0, 1.0) * kPlotWidth));
  };
  // Title and legend.
  draw_text(img, x0 + kMargin, y0 + 14, m.math + ", batch " + std::to_string(m.batch), colors::kBlack, kText);
  int legend_x = x0 + l.panel_width - kMargin;
  for (size_t i = r.backends.size(); i-- > 0;) {
    const std::string& label = r.backends[i].label;
    legend_x -= text_width(label, kText);
    draw_text(img, legend_x, y0 + 14, label, colors::kBlack, kText);
    legend_x -= 26;
    fill_rect(img, legend_x, y0 + 17, 18, 8, kPalette[i % std::size(kPalette)]);
    legend_x -= 20;
  }
  // Rows, gridlines, bars.
  for (size_t k = 0; k < m.cases.size(); ++k)
    if (k % 2) fill_rect(img, x0 + kMargin, top + int(k) * l.row_height - kRowGap / 2, l.panel_width - 2 * kMargin,
                         l.row_height, kRowShade);
  // A gridline per decade; labels on as many as fit without touching.
  const int decades = int(l.log_hi - l.log_lo);
  int widest = 0;
  for (int d = int(l.log_lo); d <= int(l.log_hi); ++d) widest = std::max(widest, text_width(decade_text(d), kText));
  const int label_every = std::max(1, int(std::ceil((widest + 12.0) * decades / kPlotWidth)));
  for (int d = int(l.log_lo); d <= int(l.log_hi); ++d) {
    const int x = px(std::pow(10.0, d));
    draw_line(img, x, top - 4, x, bottom, colors::kLightGrey);
    if ((d - int(l.log_lo)) % label_every != 0) continue;
    const std::string label = decade_text(d);
    draw_text(img, x - text_width(label, kText) / 2, bottom + 8, label, colors::kBlack, kText);
  }
  const std::string axis = "ms per call (median, log scale; whisker: min-max)";
  draw_text(img, left + (kPlotWidth - text_width(axis, kText)) / 2, bottom + 32, axis, colors::kGrey, kText);
  for (size_t k = 0; k < m.cases.size(); ++k) {
    const CaseResult& c = m.cases[k];
    const int row_y = top + int(k) * l.row_height;
    const int group = l.row_height - kRowGap;
    draw_text(img, left - 8 - text_width(c.label(), kText), row_y + (group - text_height(kText)) / 2, c.label(),
              colors::kBlack, kText);
    for (size_t i = 0; i < c.timings.size(); ++i) {
      const Timing& t = c.timings[i];
      const int y = row_y + int(i) * (kBar + kBarGap), end = std::max(px(t.median_ms), left + 2);
      fill_rect(img, left, y, end - left, kBar, kPalette[i % std::size(kPalette)]);
      draw_line(img, px(t.min_ms), y + kBar / 2, px(t.max_ms), y + kBar / 2, colors::kBlack);
      draw_text(img, std::max(end, px(t.max_ms)) + 6, y, ms_text(t.median_ms), colors::kBlack, kText);
    }
  }
  draw_line(img, left, top - 4, left, bottom, colors::kBlack, 2);
  draw_line(img, left, bottom, left + kPlotWidth, bottom, colors::kBlack, 2);
}

}  // namespace

void write_op_bench_chart(const std::string& path, const OpBenchReport& r) {
  QUILL_CHECK(!r.results.empty(), "op bench chart: nothing was measured");
  // Columns: math modes in the order run; rows: batch sizes in the order run.
  std::vector<std::string> modes;
  std::vector<int> batches;
  for (const ModeResult& m : r.results) {
    if (std::find(modes.begin(), modes.end(), m.math) == modes.end()) modes.push_back(m.math);
    if (std::find(batches.begin(), batches.end(), m.batch) == batches.end()) batches.push_back(m.batch);
  }
  const Layout l = layout_of(r);
  const std::string title = "quill bench --ops: " + r.model.substr(r.model.find_last_of('/') + 1) + " on " +
                            (r.devices.empty() ? std::string("?") : r.devices[0].name);
  const std::string subtitle = "time per op call, median of " + std::to_string(r.runs) + " runs; commit " +
                               r.commit.substr(0, 12) + ", " + r.date;
  const int width = std::max({int(modes.size()) * l.panel_width, text_width(title, kText) + 2 * kMargin,
                              text_width(subtitle, kText) + 2 * kMargin});
  RgbImage img(width, kHeader + int(batches.size()) * l.panel_height);
  fill_rect(img, 0, 0, img.width, img.height, colors::kWhite);
  draw_text(img, kMargin, 14, title, colors::kBlack, kText);
  draw_text(img, kMargin, 40, subtitle, colors::kGrey, kText);
  for (const ModeResult& m : r.results) {
    const int col = int(std::find(modes.begin(), modes.end(), m.math) - modes.begin());
    const int row = int(std::find(batches.begin(), batches.end(), m.batch) - batches.begin());
    draw_panel(img, col * l.panel_width, kHeader + row * l.panel_height, l, m, r);
  }
  write_file_atomically(path, encode_png(img));
}

}  // namespace quill
