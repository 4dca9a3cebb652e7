// The per-op benchmark (`quill bench --ops`): which op calls a training step of a model makes, their work
// counts, a CPU run (timings, a backend compared with itself), its JSON, Markdown and chart, and its
// one-line errors. No timing thresholds: only that times are finite and positive.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "kernels/gpu_math.h"
#include "apps/bench/op_bench.h"
#include "apps/bench/op_bench_report.h"
#include "apps/bench/op_cases.h"
#include "data/png_io.h"
#include "kernels/backends.h"
#include "layers/layer.h"
#include "layers/model_description.h"
#include "runtime/storage.h"
#include "tests/gpu_backends.h"
#include "tests/skip.h"
#include "tests/temp_files.h"

using namespace quill;

namespace {

std::string model_path(const std::string& name) { return std::string(QUILL_SOURCE_DIR) + "/models/" + name + ".txt"; }

std::vector<OpCase> cases_of(const std::string& text, int batch, Graph& graph) {
  init_backends();
  const ModelDescription desc = parse_model_description(text);
  add_to_graph(desc, 10, graph);
  graph.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 1);
  return training_step_cases(graph, batch, OptimizerConfig{});
}

// A layer kind the op benchmark knows nothing of: y = x + x, dx = dy + dy, by the add op.
class Twice final : public Layer {
 public:
  std::string describe() const override { return "twice"; }
  Shape setup(const std::vector<Shape>& in) override { return in[0]; }
  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    ops::add(ctx.backend, *in[0], *in[0], out);
  }
  void backward(const Context& ctx, const std::vector<const Tensor*>&, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    if (din[0]) ops::add(ctx.backend, dout, dout, *din[0]);
  }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Run {
  int status = -1;
  std::string out, err;
};

// Runs `quill ARGS` with a time limit.
Run quill_cli(const test_files::TempDir& dir, const std::string& args, int timeout_seconds = 300) {
  const std::string command = "timeout " + std::to_string(timeout_seconds) + " " + QUILL_BINARY + " " + args + " >" +
                              dir.file("stdout") + " 2>" + dir.file("stderr") + " </dev/null";
  const int raw = std::system(command.c_str());
  Run r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
  r.out = slurp(dir.file("stdout"));
  r.err = slurp(dir.file("stderr"));
  return r;
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

}  // namespace

TEST_CASE("op bench: the default cnn's training step, op call by op call") {
  Graph graph;
  const std::vector<OpCase> cases = cases_of(slurp(model_path("cnn")), 3, graph);
  std::map<std::string, int> count;
  for (const OpCase& c : cases) ++count[c.op + " " + c.pass];
  // 4 convolutions (the first has no gradient of its input), 4 batch norms, 5 ReLUs, 2 max pools, 2 dense
  // layers, 1 dropout; the loss; one AdamW update over the flat parameters.
  CHECK(count["conv2d_forward fwd"] == 4);
  CHECK(count["conv2d_backward_weights bwd-weights"] == 4);
  CHECK(count["conv2d_backward_data bwd-data"] == 3);
  CHECK(count["batchnorm_forward_train fwd"] == 4);
  CHECK(count["batchnorm_backward bwd"] == 4);
  CHECK(count["activation_forward fwd"] == 5);
  CHECK(count["activation_backward bwd"] == 5);
  CHECK(count["maxpool_forward fwd"] == 2);
  CHECK(count["maxpool_backward bwd"] == 2);
  CHECK(count["dense_forward fwd"] == 2);
  CHECK(count["dense_backward bwd"] == 2);
  CHECK(count["dropout_forward fwd"] == 1);
  CHECK(count["dropout_backward bwd"] == 1);
  CHECK(count["softmax_xent_forward fwd"] == 1);
  CHECK(count["softmax_xent_backward bwd"] == 1);
  CHECK(count["adam_step update"] == 1);
  CHECK(cases.size() == 42);

  // In the order of a step: forward, loss, backward from the last layer, update.
  CHECK(cases.front().label() == "conv1 fwd");
  CHECK(cases.front().shape == "1->32 k3 p1 28x28");
  CHECK(cases[18].label() == "loss fwd");
  CHECK(cases[19].label() == "loss bwd");
  CHECK(cases[20].label() == "dense2 bwd");
  CHECK(cases[cases.size() - 2].label() == "conv1 bwd-weights");
  CHECK(cases.back().label() == "optimizer update");
  CHECK(cases.back().shape == "adamw " + std::to_string(graph.num_params()) + " params");

  // Work: 2 FLOPs per multiply-add for convolutions and dense layers, bytes for the rest.
  for (const OpCase& c : cases) {
    CAPTURE(c.label());
    CHECK(c.work > 0);
    const bool compute = c.op.rfind("conv2d", 0) == 0 || c.op.rfind("dense", 0) == 0;
    CHECK((c.kind == WorkKind::Flops) == compute);
  }
  const OpCase& conv2 = cases[3];  // conv1, bn1, relu1, conv2
  REQUIRE(conv2.label() == "conv2 fwd");
  CHECK(conv2.work == 2.0 * 3 * 32 * 28 * 28 * 32 * 3 * 3);
  CHECK(cases[2].label() == "relu1 fwd");
  CHECK(cases[2].work == 2.0 * 4 * 3 * 32 * 28 * 28);  // read x, write y
}

TEST_CASE("op bench: convolution FLOPs") {
  ConvGeometry g;
  g.n = 2, g.c = 3, g.h = 8, g.w = 8, g.k = 4, g.r = g.s = 3, g.pad_h = g.pad_w = 1;
  CHECK(conv_flops(g) == 2.0 * 2 * 4 * 8 * 8 * 3 * 3 * 3);  // 2*N*K*P*Q*C*R*S with P = Q = 8
  g.stride_h = g.stride_w = 2;
  CHECK(conv_flops(g) == 2.0 * 2 * 4 * 4 * 4 * 3 * 3 * 3);
}

TEST_CASE("op bench: a node feeding two others gets its gradients summed") {
  Graph graph;
  const std::vector<OpCase> cases = cases_of("conv 4 k3 p1 as a\nrelu\nconv 4 k3 p1\nadd from a\ndense classes\n", 2, graph);
  int sums = 0, adds = 0;
  for (const OpCase& c : cases) {
    sums += c.pass == "grad-sum";
    adds += c.op == "add";
  }
  CHECK(sums == 1);
  CHECK(adds == 2);  // the add layer's forward and the sum
}

TEST_CASE("op bench: a layer kind the benchmark never names is benchmarked, as the step calls it") {
  init_backends();
  Graph graph;
  graph.add("conv1", make_layer({"conv", "4", "k3", "p1"}, 10));
  graph.add("twice1", std::make_unique<Twice>());
  graph.add("flat", make_layer({"flatten"}, 10));
  graph.add("out", make_layer({"dense", "10"}, 10));
  graph.build(Shape{1, 6, 6}, DType::F32, Device::cpu(), 1);
  const Tensor before = graph.flat_values().clone();
  const std::vector<OpCase> cases = training_step_cases(graph, 2, OptimizerConfig{});
  std::vector<std::string> labels;
  for (const OpCase& c : cases) labels.push_back(c.label() + " " + c.op);
  const std::vector<std::string> expected{
      "conv1 fwd conv2d_forward",       "twice1 fwd add",       "out fwd dense_forward",
      "loss fwd softmax_xent_forward",  "loss bwd softmax_xent_backward", "out bwd dense_backward",
      "twice1 bwd add",                 "conv1 bwd conv2d_backward_weights", "optimizer update adam_step"};
  CHECK(labels == expected);
  const OpCase& twice = cases[1];
  CHECK(twice.kind == WorkKind::Bytes);
  CHECK(twice.work == 3 * 4.0 * 2 * 4 * 6 * 6);  // two reads (of one tensor) and a write
  CHECK(twice.shape == "4x6x6");
  // The replay computes what the layer did: twice the recorded input, on the recorded values.
  PreparedCall call = twice.prepare(Backend::Cpu);
  call.run();
  REQUIRE(call.outputs.size() == 1);
  PreparedCall conv = cases[0].prepare(Backend::Cpu);
  conv.run();
  const Tensor& y = call.outputs[0];
  for (int64_t i = 0; i < y.numel(); ++i) REQUIRE(y.data<float>()[i] == 2 * conv.outputs[0].data<float>()[i]);
  // The step leaves the model as it was.
  for (int64_t i = 0; i < before.numel(); ++i) REQUIRE(graph.flat_values().data<float>()[i] == before.data<float>()[i]);
}

TEST_CASE("op bench: median and spread") {
  const Timing t = summarize({3, 1, 2, 10});
  CHECK(t.median_ms == 2.5);
  CHECK(t.min_ms == 1);
  CHECK(t.max_ms == 10);
  CHECK(summarize({4, 1, 9}).median_ms == 4);
}

namespace {

// A report of one CPU backend, fp32, whose cases are given; the device's start-of-run peaks are 100 GFLOP/s
// and 10 GB/s.
OpBenchReport report_of(std::vector<CaseResult> cases) {
  OpBenchReport r;
  r.backends.push_back(BenchBackend{"cpu", Backend::Cpu, Device::cpu(), 0});
  BenchDeviceInfo device;
  device.device = "cpu";
  device.peaks.fp32_gflops = 100, device.peaks.copy_gbs = 10;
  r.devices.push_back(device);
  ModeResult m;
  m.math = "fp32";
  m.batch = 1;
  m.cases = std::move(cases);
  r.results.push_back(m);
  return r;
}

// One op call of `work` FLOPs or bytes, whose runs took min..max ms (median between), against the peaks
// measured before and after them.
CaseResult timed_case(const std::string& layer, WorkKind kind, double work, double min_ms, double median_ms,
                      double max_ms, double peak_before, double peak_after, const std::string& math = "fp32") {
  CaseResult c;
  c.layer = layer, c.pass = "fwd", c.shape = "s", c.kind = kind, c.work = work;
  Timing t = summarize({min_ms, median_ms, max_ms});
  t.math = math;
  t.peak_before = peak_before, t.peak_after = peak_after;
  c.timings.push_back(t);
  return c;
}

}  // namespace

TEST_CASE("op bench: a % of peak is of the peak measured alongside, and flagged, not printed plain, above it or when noisy") {
  const OpBenchReport r = report_of({
      // 1 GFLOP in 5 ms: 200 GFLOP/s against 150 and 180 measured beside it (and 100 at the start).
      timed_case("above", WorkKind::Flops, 1e9, 4.9, 5, 5.1, 150, 180),
      // 1 MB in 0.1 ms: 10 GB/s against 20: 50%, from runs 0.05..0.2 ms apart (4x).
      timed_case("spread", WorkKind::Bytes, 1e6, 0.05, 0.1, 0.2, 20, 20),
      // The same against peaks of 20 and 8 (2.5x apart).
      timed_case("moved", WorkKind::Bytes, 1e6, 0.09, 0.1, 0.11, 20, 8),
      // 1 MB in 0.5 ms: 2 GB/s against 4 and 4, under half the start's 10 GB/s: the machine was busy.
      timed_case("fell", WorkKind::Bytes, 1e6, 0.45, 0.5, 0.55, 4, 4),
      // 1 MB in 0.1 ms against 20 and 18: 50%, plain.
      timed_case("plain", WorkKind::Bytes, 1e6, 0.09, 0.1, 0.11, 18, 20),
      // TF32 against the float32 peak may pass it: the notes say so, and the figure stands.
      timed_case("tf32", WorkKind::Flops, 1e9, 4.9, 5, 5.1, 150, 180, "tf32"),
  });
  const DevicePeaks& peaks = r.devices[0].peaks;
  const std::vector<CaseResult>& cases = r.results[0].cases;
  CHECK(fraction_of_peak(cases[0], cases[0].timings[0], peaks) == doctest::Approx(200.0 / 180));
  CHECK(fraction_of_peak(cases[4], cases[4].timings[0], peaks) == doctest::Approx(0.5));
  const std::vector<PeakFigure> expected{PeakFigure::AbovePeak, PeakFigure::Noisy, PeakFigure::Noisy,
                                         PeakFigure::Noisy,     PeakFigure::Plain, PeakFigure::Plain};
  for (size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(cases[i].layer);
    CHECK(judge_peak_figure(cases[i], cases[i].timings[0], peaks) == expected[i]);
  }

  const std::string md = op_bench_markdown(r);
  CHECK(md.find("| above fwd | s | 5.00 | 4.90-5.10 | 200 GFLOP/s | above peak |") != std::string::npos);
  CHECK(md.find("| spread fwd | s | 0.100 | 0.0500-0.200 | 10.0 GB/s | 50% (noisy) |") != std::string::npos);
  CHECK(md.find("| moved fwd | s | 0.100 | 0.0900-0.110 | 10.0 GB/s | 50% (noisy) |") != std::string::npos);
  CHECK(md.find("| fell fwd | s | 0.500 | 0.450-0.550 | 2.00 GB/s | 50% (noisy) |") != std::string::npos);
  CHECK(md.find("| plain fwd | s | 0.100 | 0.0900-0.110 | 10.0 GB/s | 50% |") != std::string::npos);
  CHECK(md.find("| tf32 fwd | s | 5.00 | 4.90-5.10 | 200 GFLOP/s | 111% |") != std::string::npos);
  const nlohmann::json j = op_bench_json(r);
  const nlohmann::json& above = j["results"][0]["cases"][0]["backends"]["cpu"];
  CHECK(above["peak_before"] == 150.0);
  CHECK(above["peak_after"] == 180.0);
  CHECK(above["peak_figure"] == "above peak");
  CHECK(j["results"][0]["cases"][4]["backends"]["cpu"]["peak_figure"] == "plain");
}

TEST_CASE("op bench: a CPU run, the cpu backend against itself, in both math modes") {
  init_backends();
  OpBenchOptions o;
  o.model = "small";
  o.batches = {3};
  o.backends = {"cpu", "cpu"};
  o.device = "cpu";
  o.math = "both";
  o.runs = 3;
  o.warmup = 1;
  const OpBenchReport r = run_op_bench(o, "test");
  REQUIRE(r.backends.size() == 2);
  CHECK(r.backends[1].label == "cpu#2");
  REQUIRE(r.devices.size() == 1);
  CHECK(r.devices[0].peaks.fp32_gflops > 0);
  CHECK(r.devices[0].peaks.copy_gbs > 0);
  REQUIRE(r.results.size() == 2);
  CHECK(r.results[0].math == "fp32");
  CHECK(r.results[1].math == "tf32");
  bool says_no_tf32 = false;
  for (const std::string& note : r.results[1].notes) says_no_tf32 |= note.find("no TF32") != std::string::npos;
  CHECK(says_no_tf32);
  for (const ModeResult& m : r.results) {
    CHECK(!m.cases.empty());
    for (const CaseResult& c : m.cases) {
      CAPTURE(c.label());
      REQUIRE(c.timings.size() == 2);
      for (const Timing& t : c.timings) {
        CHECK(t.runs_ms.size() == 3);
        CHECK(std::isfinite(t.median_ms));
        CHECK(t.median_ms > 0);
        CHECK(t.min_ms <= t.median_ms);
        CHECK(t.median_ms <= t.max_ms);
        CHECK(t.math == "fp32");
        CHECK(std::isfinite(rate_of(c, t)));
        CHECK(rate_of(c, t) > 0);
        // The peak is measured on both sides of every op's runs.
        CHECK(t.peak_before > 0);
        CHECK(t.peak_after > 0);
      }
      REQUIRE(c.comparisons.size() == 1);
      CHECK(c.comparisons[0].backend == "cpu#2");
      CHECK(c.comparisons[0].reference == "cpu");
      CHECK(c.comparisons[0].max_rel == 0.0);
      CHECK(c.comparisons[0].rel_l2 == 0.0);
    }
  }
  const std::string md = op_bench_markdown(r);
  CHECK(md.find("## fp32, batch 3") != std::string::npos);
  CHECK(md.find("## tf32, batch 3") != std::string::npos);
  CHECK(md.find("| cpu#2 vs cpu |") != std::string::npos);
  CHECK(md.find("| conv1 fwd | 1->8 k3 p1 28x28 |") != std::string::npos);
  // No "% peak" above 100 is printed as a figure: each cell is a percentage of at most 100, noisy or not, or
  // "above peak". (The CPU computes in float32 only: no TF32 figure may pass it.)
  std::istringstream lines(md);
  int percent_cells = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| ", 0) != 0 || line.find("| op call |") == 0) continue;  // rows of the tables only
    for (size_t at = line.find("% "); at != std::string::npos; at = line.find("% ", at + 1)) {
      const size_t start = line.rfind("| ", at) + 2;
      CAPTURE(line);
      CHECK(std::stod(line.substr(start, at - start)) <= 100.0);
      ++percent_cells;
    }
  }
  CHECK(percent_cells > 0);
}

// On the CPU emulation of CUDA the bench refuses, in one line, to time: its times would be the CPU's.
TEST_CASE("op bench: the CPU emulation of CUDA is not timed as a GPU") {
  init_backends();
  if (!device_available(DeviceType::Cuda) || !device_description(DeviceType::Cuda).emulated) {
    test::skip_test_case("not the CPU emulation of CUDA");
    return;
  }
  OpBenchOptions o;
  o.model = "small";
  o.batches = {3};
  o.device = "cuda";
  o.runs = 3;
  o.warmup = 1;
  CHECK_THROWS_WITH(run_op_bench(o, "test"), doctest::Contains("CPU emulation of CUDA"));
  test_files::TempDir dir("op_bench_emulated");
  const Run r = quill_cli(dir, "bench --ops --model small --batches 3 --runs 3 --warmup 1 --device cuda");
  CHECK(r.status != 0);
  CHECK(r.out.empty());
  CHECK(r.err.find("CPU emulation of CUDA") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

// On a GPU: the custom kernels and cuDNN side by side, each checked against the CPU reference, in both math
// modes. Skipped without a GPU (QUILL_REQUIRE_CUDA=1 makes that a failure) and on the CPU emulation of CUDA,
// which gives no timings (the case above).
TEST_CASE("op bench: custom and cudnn against the CPU on a GPU") {
  if (!test_gpu::cuda_usable()) return;
  if (device_description(DeviceType::Cuda).emulated) {
    test::skip_test_case("the CPU emulation of CUDA gives no timings");
    return;
  }
  OpBenchOptions o;
  o.model = "small";
  o.batches = {3};
  o.device = "cuda";
  o.math = "both";
  o.runs = 3;
  o.warmup = 1;
  const OpBenchReport r = run_op_bench(o, "test");
  REQUIRE(!r.backends.empty());
  CHECK(r.backends[0].label == "custom");
  const bool with_cudnn = r.backends.size() == 2;
  REQUIRE(r.devices.size() == 1);
  CHECK(r.devices[0].device == "cuda:0");
  CHECK(r.devices[0].peaks.fp32_gflops > 0);
  CHECK(r.devices[0].peaks.copy_gbs > 0);
  REQUIRE(r.results.size() == 2);
  for (const ModeResult& m : r.results) {
    for (const CaseResult& c : m.cases) {
      CAPTURE(m.math);
      CAPTURE(c.label());
      for (size_t i = 0; i < c.timings.size(); ++i) {
        CHECK(std::isfinite(c.timings[i].median_ms));
        CHECK(c.timings[i].median_ms > 0);
        // In TF32 mode both GPU backends say they ran TF32 (the custom kernels where built for sm_80+).
        const bool tf32 = m.math == "tf32" && (r.backends[i].label == "cudnn" ||
                                               (r.backends[i].label == "custom" && custom_tf32_available()));
        CHECK(c.timings[i].math == (tf32 ? "tf32" : "fp32"));
      }
      // cudnn vs custom, then each GPU backend vs the CPU.
      CHECK(c.comparisons.size() == (with_cudnn ? 3u : 1u));
      for (const Comparison& cmp : c.comparisons) {
        CAPTURE(cmp.backend + " vs " + cmp.reference);
        CHECK(cmp.max_rel < (m.math == "fp32" ? 1e-4 : 5e-2));
      }
    }
  }
}

TEST_CASE("op bench: the command writes the table, JSON and chart") {
  test_files::TempDir dir("op_bench");
  const std::string json_path = dir.file("ops.json"), chart = dir.file("ops.png"), md_path = dir.file("ops.md");
  const Run r = quill_cli(dir, "bench --ops --model small --batches 2,3 --runs 3 --warmup 1 --device cpu --json " +
                                   json_path + " --chart " + chart + " --markdown " + md_path);
  INFO("stderr: ", r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("# quill bench --ops") == 0);
  CHECK(r.out.find("| op call | shape | cpu ms | min-max | rate | % peak |") != std::string::npos);
  CHECK(slurp(md_path) == r.out);

  const nlohmann::json j = nlohmann::json::parse(slurp(json_path));
  for (const char* key : {"benchmark", "model", "device", "date", "commit", "command_line", "runs", "warmup",
                          "devices", "backends", "definitions", "results"})
    CHECK_MESSAGE(j.contains(key), key);
  CHECK(j["runs"] == 3);
  CHECK(j["devices"][0]["peaks"]["fp32_gflops"].get<double>() > 0);
  CHECK(j["devices"][0]["peaks"]["copy_gbs"].get<double>() > 0);
  REQUIRE(j["results"].size() == 2);
  CHECK(j["results"][0]["batch"] == 2);
  CHECK(j["results"][1]["batch"] == 3);
  const nlohmann::json& first = j["results"][0]["cases"][0];
  CHECK(first["layer"] == "conv1");
  CHECK(first["pass"] == "fwd");
  CHECK(first["op"] == "conv2d_forward");
  CHECK(first["flops"].get<double>() == 2.0 * 2 * 8 * 28 * 28 * 9);
  CHECK(first["backends"]["cpu"]["median_ms"].get<double>() > 0);
  CHECK(first["backends"]["cpu"]["runs_ms"].size() == 3);
  CHECK(first["backends"]["cpu"].contains("gflops"));
  CHECK(first["backends"]["cpu"].contains("fraction_of_peak"));
  CHECK(first["backends"]["cpu"]["peak_before"].get<double>() > 0);
  CHECK(first["backends"]["cpu"]["peak_after"].get<double>() > 0);
  CHECK(first["backends"]["cpu"].contains("peak_figure"));
  CHECK(j["devices"][0]["peak_alongside"].get<std::string>().find("right before and right after") != std::string::npos);
  CHECK(j["results"][0]["cases"][1]["backends"]["cpu"].contains("gbs"));  // batch norm: memory-bound

  const Image png = read_png(chart);
  CHECK(png.width > 600);
  CHECK(png.height > 600);
  // The same chart as SVG beside the PNG (Cairo draws its text as glyph outlines; <title> names it).
  const std::string svg = slurp(dir.file("ops.svg"));
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("<title>quill bench --ops: small.txt on ") != std::string::npos);
  CHECK(svg.find("<path") != std::string::npos);
}

TEST_CASE("op bench: bad options are one-line errors") {
  init_backends();
  test_files::TempDir dir("op_bench_errors");
  Run r = quill_cli(dir, "bench --ops --device cpu --backends bogus", 60);
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("unknown backend 'bogus'") != std::string::npos);

  r = quill_cli(dir, "bench --ops --device cpu --backends cpu,custom", 60);
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("--device cpu benchmarks the cpu backend only") != std::string::npos);

  if (!device_available(DeviceType::Cuda)) {
    r = quill_cli(dir, "bench --ops --backends cudnn", 60);
    CHECK(r.status == 1);
    CHECK(one_line(r.err));
    CHECK(r.err.find("--backends cudnn needs a CUDA device") != std::string::npos);
  }

  for (const char* args : {"bench --runs 5", "bench --chart x.png", "bench --ops --steps 3", "bench --ops --backend cudnn",
                           "bench --ops --math fast", "bench --ops --batches 4,0"}) {
    CAPTURE(args);
    r = quill_cli(dir, args, 60);
    CHECK(r.status == 2);
    CHECK(one_line(r.err));
  }
}

TEST_CASE("op bench: the whole-step mode still runs") {
  test_files::TempDir dir("op_bench_step");
  const Run r = quill_cli(dir, "bench --model small --batch 2 --steps 1 --repeats 1 --warmup 0 --device cpu", 120);
  INFO("stderr: ", r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("images/s") != std::string::npos);
}
