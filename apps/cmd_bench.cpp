// quill bench: training-step throughput of a model description on synthetic MNIST-like batches, with
// --ops the per-op comparison of backends (apps/bench/op_bench.h), or with --inference the CPU inference
// throughput and latency of a trained model (apps/bench/inference_bench.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"
#include "apps/bench/bench_device.h"
#include "apps/bench/inference_bench.h"
#include "apps/commands.h"
#include "kernels/gpu_math.h"
#include "engine/model_lookup.h"
#include "apps/bench/op_bench.h"
#include "apps/bench/op_cases.h"
#include "apps/bench/op_bench_report.h"
#include "kernels/placement.h"
#include "engine/train_step.h"
#include "layers/loss.h"
#include "layers/model_description.h"
#include "layers/optimizer.h"
#include "runtime/rng.h"

namespace quill {
namespace {

struct BenchOptions {
  std::string model = "cnn";
  int batch = 128;
  int steps = 20, repeats = 5, warmup = 3;
  int classes = 10;
  std::string device = "auto", backend = "custom";
  std::string cuda_graph = "off";
  std::string json;
  uint64_t seed = 1;
  // --ops: the per-op comparison instead of whole steps.
  bool ops = false;
  std::vector<int> batches;
  std::vector<std::string> backends;
  std::string math = "auto";
  int runs = 20;
  std::string markdown, chart;
  bool no_cpu_check = false;
  // --inference: forward passes of a trained model on the CPU.
  bool inference = false;
  std::string images, probabilities;
  int threads = 0;
  int latency_calls = 200;
  bool plain = false;
};

Tensor synthetic_labels(int n, int classes, uint64_t seed) {
  Tensor y = Tensor::empty(Shape{n}, DType::I32);
  Rng rng(seed, 2);
  for (int i = 0; i < n; ++i) y.data<int32_t>()[i] = int32_t(rng.below(uint32_t(classes)));
  return y;
}

int threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return int(std::thread::hardware_concurrency());
#endif
}

// FLOPs of one training step: the multiply-adds of every convolution pass and dense layer (2 FLOPs each),
// as `quill bench --ops` counts them, from a step of two images of a copy of the model on the CPU (they grow
// with the batch); the element-wise ops are memory traffic and not counted.
double training_step_flops(const ModelDescription& desc, int classes, int batch) {
  Graph graph;
  add_to_graph(desc, classes, graph);
  graph.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 1);
  double flops = 0;
  for (const OpCase& c : training_step_cases(graph, 2, OptimizerConfig{}))
    if (c.kind == WorkKind::Flops) flops += c.work;
  return flops / 2 * batch;
}

// The whole-step math mode: fp32, or tf32 on a GPU (--math auto means fp32 here; both is for --ops).
bool whole_step_tf32(const std::string& math, const Placement& placement) {
  QUILL_CHECK(math != "both", "--math both compares modes op by op and needs --ops; give fp32 or tf32");
  return tf32_requested(math, placement.device);
}

int run_bench(const BenchOptions& o, const std::string& command_line) {
  const Placement placement = choose_placement(o.device, o.backend);
  const bool cuda_graph = use_cuda_graph(o.cuda_graph, placement);
  const bool tf32 = whole_step_tf32(o.math, placement);
  const GpuMathScope math_scope(tf32);
  const std::string source = find_model_description(o.model);
  const ModelDescription desc = read_model_description(source);
  Graph graph;
  add_to_graph(desc, o.classes, graph);
  graph.build(Shape{1, 28, 28}, DType::F32, placement.device, o.seed);
  Optimizer optimizer(OptimizerConfig{}, graph);
  SoftmaxCrossEntropy loss;
  const Tensor images = synthetic_images(o.batch, o.seed).to(placement.device);
  const Tensor labels = synthetic_labels(o.batch, o.classes, o.seed).to(placement.device);
  // With --cuda-graph on the first step runs eagerly, the second is recorded, and every step replays it.
  TrainStep step(graph, optimizer, loss, placement.backend, o.seed, cuda_graph);
  uint64_t step_number = 0;
  auto train_step = [&] { step.run(images, labels, step_number++, 1e-4); };
  std::unique_ptr<BenchDevice> device = make_bench_device(placement.device);
  std::fprintf(stderr, "bench: %s (%lld parameters), batch %d on %s%s%s, %d threads: %d warm-up steps, %d x %d steps\n",
               source.c_str(), (long long)graph.num_params(), o.batch, placement.str().c_str(),
               cuda_graph ? ", CUDA graph" : "", tf32 ? ", TF32" : "", threads(), o.warmup, o.repeats, o.steps);
  for (int i = 0; i < o.warmup; ++i) train_step();
  // Each repeat is one timed block of o.steps steps: CUDA events around all the work they queue on a GPU,
  // the steady clock on the CPU.
  const std::vector<double> block_ms = device->time_blocks(
      [&] {
        for (int i = 0; i < o.steps; ++i) train_step();
      },
      0, o.repeats);
  std::vector<double> rates;
  for (size_t r = 0; r < block_ms.size(); ++r) {
    rates.push_back(double(o.batch) * o.steps / (block_ms[r] * 1e-3));
    std::fprintf(stderr, "  repeat %zu: %.1f images/s (%.3f ms/step)\n", r + 1, rates.back(), block_ms[r] / o.steps);
  }
  (void)loss.value();  // surfaces an error a GPU step may have left before the figures are trusted
  std::vector<double> sorted = rates;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const double step_flops = training_step_flops(desc, o.classes, o.batch);
  const double gflops = step_flops * median / o.batch / 1e9;
  const DevicePeaks peaks = device->measure_peaks();
  std::printf("%s batch %d on %s%s: median %.1f images/s (min %.1f, max %.1f) over %d repeats of %d steps, %.3f ms/step\n",
              source.c_str(), o.batch, placement.str().c_str(), tf32 ? " (TF32)" : "", median, sorted.front(),
              sorted.back(), o.repeats, o.steps, 1e3 * o.batch / median);
  std::printf("  %.2f GFLOP per step (convolutions and dense layers): %.0f GFLOP/s, %.1f%% of the measured float32 "
              "peak (%.0f GFLOP/s, %s); 60,000 images (an MNIST epoch) in %.3f s\n",
              step_flops / 1e9, gflops, 100 * gflops / peaks.fp32_gflops, peaks.fp32_gflops,
              peaks.fp32_method.c_str(), 60000.0 / median);
  if (!o.json.empty()) {
    char date[32];
    const std::time_t t = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    nlohmann::json j = {{"model", source},
                              {"parameters", graph.num_params()},
                              {"batch", o.batch},
                              {"device", placement.str()},
                              {"device_name", device->name()},
                              {"backend", placement.device.is_cpu() ? "cpu" : o.backend},
                              {"math", tf32 ? "tf32" : "fp32"},
                              {"cuda_graph", cuda_graph},
                              {"threads", threads()},
                              {"timing", placement.device.is_cpu() ? "steady_clock around each repeat"
                                                                   : "CUDA events around each repeat's steps"},
                              {"warmup_steps", o.warmup},
                              {"steps", o.steps},
                              {"repeats", o.repeats},
                              {"images_per_second", {{"median", median}, {"min", sorted.front()}, {"max", sorted.back()}}},
                              {"ms_per_step_median", 1e3 * o.batch / median},
                              {"mnist_epoch_seconds", 60000.0 / median},
                              {"flops_per_step", step_flops},
                              {"step_gflops_per_second", gflops},
                              {"fp32_peak_gflops", peaks.fp32_gflops},
                              {"fp32_peak_method", peaks.fp32_method},
                              {"fraction_of_fp32_peak", gflops / peaks.fp32_gflops},
                              {"runs", rates},
                              {"date", date},
                              {"command_line", command_line}};
    if (placement.backend == Backend::Cudnn) j["cudnn_version"] = cudnn_library_version();
    const std::string text = j.dump(2) + "\n";
    write_file_atomically(o.json, std::vector<uint8_t>(text.begin(), text.end()));
  }
  return 0;
}

void write_text_file(const std::string& path, const std::string& text) {
  write_file_atomically(path, std::vector<uint8_t>(text.begin(), text.end()));
}

int run_op_bench_command(const BenchOptions& o, int warmup, const std::string& command_line) {
  OpBenchOptions op;
  op.model = o.model;
  op.batches = o.batches.empty() ? std::vector<int>{o.batch} : o.batches;
  op.backends = o.backends;
  op.device = o.device;
  op.math = o.math;
  op.runs = o.runs;
  op.warmup = warmup;
  op.classes = o.classes;
  op.seed = o.seed;
  op.cpu_check = !o.no_cpu_check;
  const OpBenchReport report = run_op_bench(op, command_line);
  const std::string markdown = op_bench_markdown(report);
  std::fputs(markdown.c_str(), stdout);
  std::fflush(stdout);
  if (!o.markdown.empty()) write_text_file(o.markdown, markdown);
  if (!o.json.empty()) write_text_file(o.json, op_bench_json(report).dump(2) + "\n");
  if (!o.chart.empty()) write_op_bench_chart(o.chart, report);
  return 0;
}

int run_inference_bench_command(const BenchOptions& o, const CLI::App& cmd, const std::string& command_line) {
  QUILL_CHECK(o.device == "auto" || o.device == "cpu", "--inference times the CPU: give --device cpu or leave it out");
  InferenceBenchOptions in;
  in.model = o.model;
  in.images = o.images;
  in.batch = cmd.count("--batch") ? o.batch : 256;
  in.repeats = cmd.count("--repeats") ? o.repeats : 20;
  in.warmup = cmd.count("--warmup") ? o.warmup : 3;
  in.latency_calls = o.latency_calls;
  in.threads = o.threads;
  in.classes = o.classes;
  in.seed = o.seed;
  in.probabilities = o.probabilities;
  in.plain = o.plain;
  const InferenceBenchResult r = run_inference_bench(in);
  std::fputs(inference_bench_summary(r).c_str(), stdout);
  if (!o.json.empty()) write_text_file(o.json, inference_bench_json(r, command_line).dump(2) + "\n");
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& quill) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = quill.add_subcommand(
      "bench", "Measure training throughput (images/s) of a model description, with --ops each op's time per backend, or "
      "with --inference a trained model's CPU inference throughput and latency");
  cmd->add_option("--model", o->model,
                  "Model description file, or a built-in name (cnn, small); with --inference also a .quill model file")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Batch size (with --inference: of the throughput calls, default 256)")
      ->check(positive_number())
      ->capture_default_str();
  CLI::Option* steps = cmd->add_option("--steps", o->steps, "Timed training steps per repeat")
                            ->check(positive_number())
                            ->capture_default_str();
  CLI::Option* repeats = cmd->add_option("--repeats", o->repeats, "Timed repeats (median and spread are reported; with --inference: timed calls, default 20)")
                              ->check(positive_number())
                              ->capture_default_str();
  CLI::Option* warmup = cmd->add_option("--warmup", o->warmup, "Untimed steps first (with --ops: untimed calls per op, default 5; with --inference: untimed calls, default 3)")
                             ->check(non_negative_number())
                             ->capture_default_str();
  cmd->add_option("--classes", o->classes, "Classes of the synthetic data")->check(CLI::Range(2, 1000))->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the synthetic data and weights")->capture_default_str();
  add_device_options(cmd, o->device, o->backend);
  add_cuda_graph_option(cmd, o->cuda_graph);
  cmd->add_option("--json", o->json, "Also write the results as JSON to FILE");

  CLI::Option* ops = cmd->add_flag("--ops", o->ops,
                                   "Per-op comparison: time every op call of one training step on each backend side "
                                   "by side (median of --runs), against the device's measured peaks, and compare "
                                   "the backends' outputs; prints a Markdown table");
  cmd->add_option("--batches", o->batches, "With --ops: batch sizes to sweep, e.g. 64,256,1024 (instead of --batch)")
      ->delimiter(',')
      ->check(positive_number())
      ->needs(ops);
  cmd->add_option("--backends", o->backends,
                  "With --ops: backends side by side, from cpu, custom, cudnn (default: custom,cudnn on a GPU, "
                  "else cpu)")
      ->delimiter(',')
      ->needs(ops);
  cmd->add_option("--math", o->math,
                  "GPU math: fp32 (strict float32) or tf32 (both GPU backends: cuDNN convolutions, and the custom "
                  "kernels' convolutions and dense layers, on TF32 tensor cores); with --ops also both (auto: "
                  "both when cudnn is benchmarked, else fp32)")
      ->check(CLI::IsMember({"auto", "fp32", "tf32", "both"}))
      ->capture_default_str();
  cmd->add_option("--runs", o->runs, "With --ops: timed calls per op and backend")
      ->check(positive_number())
      ->capture_default_str()
      ->needs(ops);
  cmd->add_option("--markdown", o->markdown, "With --ops: also write the Markdown table to FILE")->needs(ops);
  cmd->add_option("--chart", o->chart, "With --ops: write a bar chart (PNG, and an SVG beside it) of the op times to FILE")->needs(ops);
  cmd->add_flag("--no-cpu-check", o->no_cpu_check,
                "With --ops on a GPU: skip comparing each GPU backend's outputs with the CPU reference")
      ->needs(ops);

  CLI::Option* inference = cmd->add_flag(
      "--inference", o->inference,
      "Inference on the CPU instead of training: images/s of forward passes at --batch (default 256; median and "
      "spread of --repeats calls, default 20) and the latency of one image (median, p10, p90 of "
      "--latency-calls calls)");
  cmd->add_option("--images", o->images,
                  "With --inference: raw float32 images (N x 1 x 28 x 28) to run on, cycled to fill the batch "
                  "(default: synthetic MNIST-like images)")
      ->needs(inference);
  cmd->add_option("--threads", o->threads, "With --inference: CPU threads (default: OMP_NUM_THREADS or all cores)")
      ->check(positive_number())
      ->needs(inference);
  cmd->add_option("--latency-calls", o->latency_calls, "With --inference: timed calls of one image")
      ->check(positive_number())
      ->capture_default_str()
      ->needs(inference);
  cmd->add_option("--probabilities", o->probabilities,
                  "With --inference: also write the class probabilities of the batch to FILE (raw float32, "
                  "batch x classes), to compare with other engines")
      ->needs(inference);
  cmd->add_flag("--plain", o->plain,
                "With --inference: time the graph's own eval forward (Graph::forward) instead of the inference plan "
                "(engine/inference_plan.h: batch norms folded, ReLUs fused), to see what the plan gains")
      ->needs(inference);
  inference->excludes(ops);
  steps->excludes(ops);
  steps->excludes(inference);
  repeats->excludes(ops);
  cmd->get_option("--backend")->excludes(ops);
  cmd->get_option("--cuda-graph")->excludes(ops);
  cmd->get_option("--backend")->excludes(inference);
  cmd->get_option("--cuda-graph")->excludes(inference);
  cmd->get_option("--math")->excludes(inference);
  return {cmd, [o, warmup, cmd](const std::string& command_line) {
            if (o->inference) return run_inference_bench_command(*o, *cmd, command_line);
            if (o->ops) return run_op_bench_command(*o, warmup->count() ? o->warmup : 5, command_line);
            return run_bench(*o, command_line);
          }};
}

}  // namespace quill
