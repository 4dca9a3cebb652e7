// The op benchmark's Markdown table and JSON (the chart is in op_bench_chart.cpp).
#include "apps/bench/op_bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace quill {
namespace {

// `digits` significant digits without an exponent: 0.000123, 0.123, 12.3, 1234.
std::string sig(double v, int digits = 3) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : "inf";
  if (v == 0) return "0";
  const int decimals = std::clamp(digits - 1 - int(std::floor(std::log10(std::abs(v)))), 0, 9);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string diff_text(double d) {
  if (d == 0) return "0";
  if (!std::isfinite(d)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", d);
  return buf;
}

const char* rate_unit(WorkKind k) { return k == WorkKind::Flops ? "GFLOP/s" : "GB/s"; }

std::string peaks_text(const BenchDeviceInfo& d) {
  return "float32 " + sig(d.peaks.fp32_gflops) + " GFLOP/s (" + d.peaks.fp32_method + "), copy " +
         sig(d.peaks.copy_gbs) + " GB/s (" + d.peaks.copy_method + ")";
}

// The "% peak" cell: the figure, marked when noisy; none when the op beat the peak measured beside it.
std::string peak_cell(const CaseResult& c, const Timing& t, const DevicePeaks& peaks) {
  const PeakFigure figure = judge_peak_figure(c, t, peaks);
  if (figure == PeakFigure::AbovePeak) return "above peak";
  const std::string percent = sig(100 * fraction_of_peak(c, t, peaks), 2) + "%";
  return figure == PeakFigure::Noisy ? percent + " (noisy)" : percent;
}

std::string row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const std::string& c : cells) out += " " + c + " |";
  return out + "\n";
}

}  // namespace

std::string op_bench_markdown(const OpBenchReport& r) {
  std::ostringstream md;
  md << "# quill bench --ops: " << r.model << "\n\n";
  for (const BenchDeviceInfo& d : r.devices) {
    md << "- " << d.device << ": " << d.name << "; measured peaks: " << peaks_text(d) << "\n";
    md << "- timing on " << d.device << ": median of " << r.runs << " runs after " << r.warmup
       << " warm-up calls; " << d.timing << "\n";
  }
  md << "- commit " << r.commit << ", " << r.date << "\n";
  md << "- rate: GFLOP/s for convolutions and dense layers (a multiply-add is 2 FLOPs), GB/s for the other ops "
        "(each tensor the op takes read or written once); % peak: of the float32 or copy peak measured alongside "
        "the op";
  for (const BenchDeviceInfo& d : r.devices) md << " (" << d.device << ": " << d.peak_alongside << ")";
  md << "\n- (noisy): the op's runs, or the peak measured before and after them, differ by more than "
     << sig(kNoisySpread, 1) << "x, or that peak fell below 1/" << sig(kNoisySpread, 1)
     << " of the start's: the machine was busy, and the figure is mostly noise. above peak: the op beat the "
        "peak measured alongside it, which it cannot do: timing noise, or a peak that does not bound it (a "
        "read-mostly op against a copy); no figure is given\n";
  if (r.backends.size() > 1)
    md << "- " << r.backends[0].label << "/X: " << r.backends[0].label
       << "'s median time over X's (above 1: X is faster)\n";
  bool any_comparison = false;
  for (const ModeResult& m : r.results)
    for (const CaseResult& c : m.cases) any_comparison |= !c.comparisons.empty();
  if (any_comparison)
    md << "- A vs B: the largest difference of A's outputs from B's, max |a - b| / max |b| per output tensor, "
          "the worst output of the op (same inputs on every backend)\n";

  for (const ModeResult& m : r.results) {
    md << "\n## " << m.math << ", batch " << m.batch << "\n\n";
    for (const std::string& note : m.notes) md << "> " << note << "\n";
    if (!m.notes.empty()) md << "\n";
    std::vector<std::string> header{"op call", "shape"}, align{"---", "---"};
    for (const BenchBackend& b : r.backends) {
      for (const std::string& h : {b.label + " ms", std::string("min-max"), std::string("rate"), std::string("% peak")})
        header.push_back(h), align.push_back("--:");
    }
    for (size_t i = 1; i < r.backends.size(); ++i)
      header.push_back(r.backends[0].label + "/" + r.backends[i].label), align.push_back("--:");
    const std::vector<Comparison> no_comparisons;
    const std::vector<Comparison>& first_comparisons = m.cases.empty() ? no_comparisons : m.cases[0].comparisons;
    for (const Comparison& c : first_comparisons)
      header.push_back(c.backend + " vs " + c.reference), align.push_back("--:");
    md << row(header) << row(align);

    std::vector<double> totals(r.backends.size(), 0.0);
    for (const CaseResult& c : m.cases) {
      std::vector<std::string> cells{c.label(), c.shape};
      for (size_t i = 0; i < r.backends.size(); ++i) {
        const Timing& t = c.timings[i];
        const DevicePeaks& peaks = r.devices[r.backends[i].device_index].peaks;
        totals[i] += t.median_ms;
        cells.push_back(sig(t.median_ms));
        cells.push_back(sig(t.min_ms) + "-" + sig(t.max_ms));
        cells.push_back(sig(rate_of(c, t)) + " " + rate_unit(c.kind));
        cells.push_back(peak_cell(c, t, peaks));
      }
      for (size_t i = 1; i < r.backends.size(); ++i)
        cells.push_back(c.timings[i].median_ms > 0 ? sig(c.timings[0].median_ms / c.timings[i].median_ms) : "-");
      for (const Comparison& cmp : c.comparisons) cells.push_back(diff_text(cmp.max_rel));
      md << row(cells);
    }
    std::vector<std::string> cells{"**all op calls**", ""};
    for (double t : totals) {
      cells.push_back("**" + sig(t) + "**");
      for (int k = 0; k < 3; ++k) cells.push_back("");
    }
    for (size_t i = 1; i < r.backends.size(); ++i) cells.push_back(totals[i] > 0 ? sig(totals[0] / totals[i]) : "-");
    for (size_t k = 0; k < first_comparisons.size(); ++k) cells.push_back("");
    md << row(cells);
  }
  return md.str();
}

nlohmann::json op_bench_json(const OpBenchReport& r) {
  using nlohmann::json;
  json devices = json::array();
  for (const BenchDeviceInfo& d : r.devices)
    devices.push_back({{"device", d.device},
                       {"name", d.name},
                       {"timing", d.timing},
                       {"peak_alongside", d.peak_alongside},
                       {"peaks",
                        {{"fp32_gflops", d.peaks.fp32_gflops},
                         {"fp32_method", d.peaks.fp32_method},
                         {"copy_gbs", d.peaks.copy_gbs},
                         {"copy_method", d.peaks.copy_method}}}});
  json backends = json::array();
  for (const BenchBackend& b : r.backends)
    backends.push_back({{"label", b.label}, {"backend", backend_name(b.backend)}, {"device", b.device.str()}});
  json results = json::array();
  for (const ModeResult& m : r.results) {
    json cases = json::array();
    json totals = json::object();
    for (const BenchBackend& b : r.backends) totals[b.label] = 0.0;
    for (const CaseResult& c : m.cases) {
      json per_backend = json::object();
      for (size_t i = 0; i < r.backends.size(); ++i) {
        const Timing& t = c.timings[i];
        const BenchBackend& b = r.backends[i];
        const DevicePeaks& peaks = r.devices[b.device_index].peaks;
        per_backend[b.label] = {{"median_ms", t.median_ms},
                                {"min_ms", t.min_ms},
                                {"max_ms", t.max_ms},
                                {"runs_ms", t.runs_ms},
                                {c.kind == WorkKind::Flops ? "gflops" : "gbs", rate_of(c, t)},
                                {"peak_before", t.peak_before},
                                {"peak_after", t.peak_after},
                                {"fraction_of_peak", fraction_of_peak(c, t, peaks)},
                                {"peak_figure", peak_figure_name(judge_peak_figure(c, t, peaks))},
                                {"math", t.math}};
        totals[b.label] = totals[b.label].get<double>() + t.median_ms;
      }
      json ratios = json::object();
      for (size_t i = 1; i < r.backends.size(); ++i)
        ratios[r.backends[0].label + "/" + r.backends[i].label] =
            c.timings[i].median_ms > 0 ? c.timings[0].median_ms / c.timings[i].median_ms : 0.0;
      json comparisons = json::array();
      for (const Comparison& cmp : c.comparisons)
        comparisons.push_back({{"backend", cmp.backend},
                               {"reference", cmp.reference},
                               {"max_rel_diff", cmp.max_rel},
                               {"rel_l2", cmp.rel_l2}});
      cases.push_back({{"layer", c.layer},
                       {"pass", c.pass},
                       {"op", c.op},
                       {"shape", c.shape},
                       {c.kind == WorkKind::Flops ? "flops" : "bytes", c.work},
                       {"backends", per_backend},
                       {"time_ratios", ratios},
                       {"comparisons", comparisons}});
    }
    results.push_back(
        {{"math", m.math}, {"batch", m.batch}, {"notes", m.notes}, {"total_ms", totals}, {"cases", cases}});
  }
  return {{"benchmark", "quill bench --ops"},
          {"model", r.model},
          {"device", r.devices.empty() ? std::string("none") : r.devices[0].name},
          {"date", r.date},
          {"commit", r.commit},
          {"command_line", r.command_line},
          {"runs", r.runs},
          {"warmup", r.warmup},
          {"devices", devices},
          {"backends", backends},
          {"definitions",
           {{"gflops", "2 FLOPs per multiply-add of the op, over its median time"},
            {"gbs", "bytes of every tensor the op takes, each read or written once, over its median time"},
            {"peak_before", "the float32 (gflops) or copy (gbs) peak measured right before the op's runs"},
            {"peak_after", "the same, right after them"},
            {"fraction_of_peak", "rate over the higher of peak_before and peak_after"},
            {"peak_figure", "plain; noisy (the runs, or the two peaks, differ by more than 2x, or the peaks fell "
                            "below half the start's); above peak (a float32 op faster than its peak: timing noise "
                            "or a peak that does not bound it)"},
            {"time_ratios", "the first backend's median time over the other's (above 1: the other is faster)"},
            {"max_rel_diff", "max |a - b| / max |b| over each output tensor, the worst output"},
            {"rel_l2", "||a - b|| / ||b|| over each output tensor, the worst output"}}},
          {"results", results}};
}

}  // namespace quill
