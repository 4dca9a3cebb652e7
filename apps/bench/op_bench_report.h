#pragma once
// The op benchmark's outputs: a Markdown table per math mode and batch (for the terminal and for
// documents), the whole report as JSON, and a grouped bar chart (PNG, with an SVG beside it) of the time
// of each op call on each backend.
#include <string>

#include <nlohmann/json.hpp>

#include "apps/bench/op_bench.h"

namespace quill {

std::string op_bench_markdown(const OpBenchReport& r);
nlohmann::json op_bench_json(const OpBenchReport& r);
// Panels per math mode (columns) and batch (rows); in each, one bar per backend per op call, on a
// logarithmic time axis. Written atomically, the PNG to `path` and the SVG beside it (X.png -> X.svg).
void write_op_bench_chart(const std::string& path, const OpBenchReport& r);

}  // namespace quill
