// The op benchmark's bar chart: for each math mode and batch a panel with one row per op call and one bar
// per backend (median time on a log scale, the min-max spread as a whisker), drawn with apps/plot/canvas.h
// into a PNG and an SVG beside it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include "apps/bench/op_bench_report.h"
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

const Font kTitleFont{17}, kPanelFont{15}, kLabelFont{12}, kValueFont{11}, kAxisFont{13}, kSubtitleFont{13};
constexpr int kBar = 14, kBarGap = 2, kRowGap = 10;
constexpr int kPlotWidth = 560, kMargin = 16;
constexpr int kPanelTop = 48, kPanelBottom = 70, kHeader = 76;

const Color kPalette[] = {colors::kBlue, colors::kOrange, colors::kGreen, colors::kRed, colors::kPurple};
const Color kRowShade{246, 246, 246};

TextStyle style(Font font, HAlign h, VAlign v, Color color = colors::kText) {
  TextStyle s;
  s.font = font, s.h = h, s.v = v, s.color = color;
  return s;
}

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
  double label_width = 0, value_width = 0;
  int row_height = 0, panel_width = 0, panel_height = 0;
  double log_lo = 0, log_hi = 1;  // decades of the time axis (ms)
};

Layout layout_of(const Canvas& c, const OpBenchReport& r) {
  Layout l;
  size_t rows = 0;
  double lo = INFINITY, hi = 0;
  for (const ModeResult& m : r.results) {
    rows = std::max(rows, m.cases.size());
    for (const CaseResult& cr : m.cases) {
      l.label_width = std::max(l.label_width, c.text_width(cr.label(), kLabelFont));
      for (const Timing& t : cr.timings) {
        if (t.min_ms > 0) lo = std::min(lo, t.min_ms);
        hi = std::max(hi, t.max_ms);
        l.value_width = std::max(l.value_width, c.text_width(ms_text(t.median_ms), kValueFont));
      }
    }
  }
  if (!(lo > 0) || !(hi > 0)) lo = 1e-3, hi = 1;
  l.log_lo = std::floor(std::log10(lo));
  l.log_hi = std::max(std::ceil(std::log10(hi)), l.log_lo + 1);
  l.label_width = std::ceil(l.label_width + 12);
  l.value_width = std::ceil(l.value_width + 12);
  const int bars = int(std::max<size_t>(1, r.backends.size()));
  l.row_height = bars * (kBar + kBarGap) - kBarGap + kRowGap;
  l.panel_width = int(kMargin + l.label_width + kPlotWidth + l.value_width + kMargin);
  l.panel_height = kPanelTop + int(rows) * l.row_height + kPanelBottom;
  return l;
}

void draw_panel(Canvas& c, int x0, int y0, const Layout& l, const ModeResult& m, const OpBenchReport& r) {
  const double left = x0 + kMargin + l.label_width, right = left + kPlotWidth, top = y0 + kPanelTop;
  const double bottom = top + double(m.cases.size()) * l.row_height;
  auto px = [&](double ms) {
    const double t = (std::log10(std::max(ms, 1e-12)) - l.log_lo) / (l.log_hi - l.log_lo);
    return left + std::clamp(t, 0.0, 1.0) * kPlotWidth;
  };
  // Title and legend (right-aligned, in backend order).
  c.text(x0 + kMargin, y0 + 28, m.math + ", batch " + std::to_string(m.batch),
         style(kPanelFont, HAlign::kLeft, VAlign::kBaseline));
  double legend_x = x0 + l.panel_width - kMargin;
  for (size_t i = r.backends.size(); i-- > 0;) {
    const std::string& label = r.backends[i].label;
    legend_x -= c.text_width(label, kLabelFont);
    c.text(legend_x, y0 + 23, label, style(kLabelFont, HAlign::kLeft, VAlign::kMiddle));
    legend_x -= 20;
    c.fill_rect(std::round(legend_x), y0 + 17, 14, 12, kPalette[i % std::size(kPalette)]);
    legend_x -= 16;
  }
  // Plot area, alternate rows shaded.
  c.fill_rect(left, top, kPlotWidth, bottom - top, colors::kWhite);
  for (size_t k = 0; k < m.cases.size(); ++k)
    if (k % 2) c.fill_rect(left, top + double(k) * l.row_height, kPlotWidth, l.row_height, kRowShade);
  // Gridlines: light at each decade, fainter at 2..9 times it; decade labels on as many as fit.
  const int decades = int(l.log_hi - l.log_lo);
  double widest = 0;
  for (int d = int(l.log_lo); d <= int(l.log_hi); ++d)
    widest = std::max(widest, c.text_width(decade_text(d), kLabelFont));
  const int label_every = std::max(1, int(std::ceil((widest + 14.0) * decades / kPlotWidth)));
  for (int d = int(l.log_lo); d < int(l.log_hi); ++d)
    for (int m2 = 2; m2 <= 9; ++m2) {
      const double x = px(m2 * std::pow(10.0, d));
      c.line(x, top, x, bottom, colors::kMinorGrid);
      c.line(x, bottom, x, bottom + 2, colors::kAxis);
    }
  for (int d = int(l.log_lo); d <= int(l.log_hi); ++d) {
    const double x = px(std::pow(10.0, d));
    c.line(x, top, x, bottom, colors::kGrid);
    c.line(x, bottom, x, bottom + 5, colors::kAxis);
    if ((d - int(l.log_lo)) % label_every != 0) continue;
    c.text(x, bottom + 8, decade_text(d), style(kLabelFont, HAlign::kCenter, VAlign::kTop));
  }
  c.text((left + right) / 2, bottom + 32, "ms per call (log scale)", style(kAxisFont, HAlign::kCenter, VAlign::kTop));
  // Rows: label, then a bar per backend with its whisker and value.
  for (size_t k = 0; k < m.cases.size(); ++k) {
    const CaseResult& cr = m.cases[k];
    const double row_y = top + double(k) * l.row_height + kRowGap / 2.0;
    const int group = l.row_height - kRowGap;
    c.text(left - 8, row_y + group / 2.0, cr.label(), style(kLabelFont, HAlign::kRight, VAlign::kMiddle));
    for (size_t i = 0; i < cr.timings.size(); ++i) {
      const Timing& t = cr.timings[i];
      const double y = row_y + double(i) * (kBar + kBarGap), mid = y + kBar / 2.0;
      const double end = std::max(px(t.median_ms), left + 2);
      c.fill_rect(left, y, end - left, kBar, kPalette[i % std::size(kPalette)]);
      const double x_min = px(t.min_ms), x_max = px(t.max_ms);
      c.line(x_min, mid, x_max, mid, colors::kBlack);
      c.line(x_min, mid - 3, x_min, mid + 3, colors::kBlack);
      c.line(x_max, mid - 3, x_max, mid + 3, colors::kBlack);
      c.text(std::max(end, x_max) + 5, mid, ms_text(t.median_ms), style(kValueFont, HAlign::kLeft, VAlign::kMiddle));
    }
  }
  c.stroke_rect(left - 1, top - 1, kPlotWidth + 2, bottom - top + 2, colors::kAxis);
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
  const Canvas measure(1, 1);
  const Layout l = layout_of(measure, r);
  const std::string title = "quill bench --ops: " + r.model.substr(r.model.find_last_of('/') + 1) + " on " +
                            (r.devices.empty() ? std::string("?") : r.devices[0].name);
  const std::string subtitle = "time per op call: bar, median of " + std::to_string(r.runs) +
                               " runs; whisker, min to max. Commit " + r.commit.substr(0, 12) + ", " + r.date;
  const int width = int(std::ceil(std::max({double(modes.size()) * l.panel_width,
                                            measure.text_width(title, kTitleFont) + 2 * kMargin,
                                            measure.text_width(subtitle, kSubtitleFont) + 2 * kMargin})));
  Canvas c(width, kHeader + int(batches.size()) * l.panel_height);
  c.set_title(title);
  c.text(kMargin, 30, title, style(kTitleFont, HAlign::kLeft, VAlign::kBaseline));
  c.text(kMargin, 54, subtitle, style(kSubtitleFont, HAlign::kLeft, VAlign::kBaseline, colors::kGrey));
  for (const ModeResult& m : r.results) {
    const int col = int(std::find(modes.begin(), modes.end(), m.math) - modes.begin());
    const int row = int(std::find(batches.begin(), batches.end(), m.batch) - batches.begin());
    draw_panel(c, col * l.panel_width, kHeader + row * l.panel_height, l, m, r);
  }
  c.write(path);
}

}  // namespace quill
