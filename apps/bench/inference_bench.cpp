#include "apps/bench/inference_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "apps/bench/bench_device.h"
#include "engine/atomic_file.h"
#include "engine/inference_plan.h"
#include "engine/model_file.h"
#include "engine/model_lookup.h"
#include "kernels/backends.h"
#include "layers/model_description.h"
#include "runtime/error.h"
#include "runtime/rng.h"

namespace quill {
namespace {

int current_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return int(std::thread::hardware_concurrency());
#endif
}

bool is_model_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[sizeof kModelMagic] = {};
  return f && f.read(magic, sizeof magic) && std::memcmp(magic, kModelMagic, sizeof magic) == 0;
}

// Linear interpolation between order statistics (numpy.percentile's default).
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.size() == 1) return sorted[0];
  const double pos = q / 100.0 * double(sorted.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

// `count` images from a raw float32 file of whole images, cycling through them when it has fewer.
Tensor images_from_file(const std::string& path, int count, const Shape& per_sample) {
  std::ifstream f(path, std::ios::binary);
  QUILL_CHECK(f.good(), "cannot read the images ", path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t image_bytes = size_t(per_sample.numel()) * sizeof(float);
  QUILL_CHECK(!bytes.empty() && bytes.size() % image_bytes == 0, path, ": ", bytes.size(),
              " bytes are not whole float32 images of ", per_sample.str(), " (", image_bytes, " bytes each)");
  const size_t available = bytes.size() / image_bytes;
  Tensor x = Tensor::empty(per_sample.with_batch(count));
  char* dst = static_cast<char*>(x.raw());
  for (int i = 0; i < count; ++i) std::memcpy(dst + size_t(i) * image_bytes, bytes.data() + (size_t(i) % available) * image_bytes, image_bytes);
  return x;
}

// Softmax of each row, in double, written as float32.
void write_probabilities(const std::string& path, const Tensor& logits) {
  const Tensor l = logits.to(Device::cpu()).cast(DType::F64);
  const int64_t n = l.dim(0), classes = l.numel() / n;
  const double* p = l.data<double>();
  std::vector<float> out(size_t(l.numel()));
  for (int64_t i = 0; i < n; ++i) {
    const double* row = p + i * classes;
    const double top = *std::max_element(row, row + classes);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(row[c] - top);
    for (int64_t c = 0; c < classes; ++c) out[size_t(i * classes + c)] = float(std::exp(row[c] - top) / sum);
  }
  const uint8_t* b = reinterpret_cast<const uint8_t*>(out.data());
  write_file_atomically(path, std::vector<uint8_t>(b, b + out.size() * sizeof(float)));
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

nlohmann::json spread_json(const Spread& s) {
  return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"p10", s.p10}, {"p25", s.p25},
          {"p75", s.p75},       {"p90", s.p90}, {"runs", s.runs}};
}

}  // namespace

Spread spread_of(std::vector<double> runs) {
  QUILL_CHECK(!runs.empty(), "no figures to summarise");
  Spread s;
  s.runs = runs;
  std::sort(runs.begin(), runs.end());
  s.median = percentile(runs, 50);
  s.min = runs.front();
  s.max = runs.back();
  s.p10 = percentile(runs, 10);
  s.p25 = percentile(runs, 25);
  s.p75 = percentile(runs, 75);
  s.p90 = percentile(runs, 90);
  return s;
}

Tensor synthetic_images(int n, uint64_t seed, const Shape& per_sample) {
  Tensor x = Tensor::empty(per_sample.with_batch(n));
  Rng rng(seed, 1);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = rng.uniform() < 0.19 ? float(rng.uniform(0.2, 1.0)) : 0.0f;
  return x;
}

InferenceBenchResult run_inference_bench(const InferenceBenchOptions& o) {
  QUILL_CHECK(o.batch > 0 && o.repeats > 0 && o.latency_calls > 0 && o.warmup >= 0 && o.latency_warmup >= 0,
              "the inference bench needs a positive batch, repeats and latency calls");
  init_backends();
#ifdef _OPENMP
  // The thread count is the process's again when the run ends.
  struct ThreadsScope {
    int before = omp_get_max_threads();
    ~ThreadsScope() { omp_set_num_threads(before); }
  } threads_scope;
  if (o.threads > 0) omp_set_num_threads(o.threads);
#else
  QUILL_CHECK(o.threads <= 1, "this build has no OpenMP: it runs on one thread");
#endif
  InferenceBenchResult r;
  std::unique_ptr<Graph> graph;
  if (is_model_file(o.model)) {
    const ModelRecord record = load_model_file(o.model);
    QUILL_CHECK(record.dtype == DType::F32, o.model, ": the inference bench times float32 models, this one is ",
                dtype_name(record.dtype));
    graph = build_model(record, Device::cpu(), o.model);
    r.model = o.model;
    r.model_kind = "model file";
  } else {
    r.model = find_model_description(o.model);
    graph = std::make_unique<Graph>();
    add_to_graph(read_model_description(r.model), o.classes, *graph);
    graph->build(Shape{1, 28, 28}, DType::F32, Device::cpu(), o.seed);
    r.model_kind = "description (seeded weights)";
  }
  const Shape per_sample = graph->input_shape();
  r.parameters = graph->num_params();
  r.classes = int(graph->output_shape().numel());
  r.threads = current_threads();
  r.cpu = make_bench_device(Device::cpu())->name();
  r.images = o.images.empty() ? "synthetic" : o.images;
  r.batch = o.batch;
  r.warmup = o.warmup, r.repeats = o.repeats;
  r.latency_warmup = o.latency_warmup, r.latency_calls = o.latency_calls;

  const Tensor images = o.images.empty() ? synthetic_images(o.batch, o.seed, per_sample)
                                         : images_from_file(o.images, o.batch, per_sample);
  // One-image inputs are views of the batch's images, taken in turn, made before any call is timed.
  std::vector<Tensor> singles;
  for (int i = 0; i < o.batch; ++i) singles.push_back(images.slice(i, i + 1));
  // Deployment's path: the inference plan (batch norms folded into the layers before them, ReLUs fused); with
  // o.plain the graph's own eval forward.
  InferencePlan plan(*graph);
  Context ctx;
  ctx.backend = Backend::Cpu;
  ctx.training = false;
  auto forward = [&](const Tensor& x) -> const Tensor& { return o.plain ? graph->forward(ctx, x) : plan.forward(x); };
  r.path = o.plain ? "graph forward" : "inference plan";
  std::fprintf(stderr,
               "bench --inference: %s (%lld parameters) on %s: batch %d, %d warm-up + %d timed calls; batch 1, "
               "%d warm-up + %d timed calls\n",
               r.model.c_str(), (long long)r.parameters, r.cpu.c_str(), o.batch, o.warmup, o.repeats,
               o.latency_warmup, o.latency_calls);
  if (o.plain)
    std::fprintf(stderr, "bench --inference: the graph's own forward (--plain)\n");
  else
    std::fprintf(stderr, "bench --inference: inference plan folds %d batch norms and fuses %d ReLUs\n",
                 plan.folded_batchnorms(), plan.fused_relus());

  if (!o.probabilities.empty()) write_probabilities(o.probabilities, forward(images));
  for (int i = 0; i < o.warmup; ++i) forward(images);
  std::vector<double> batch_ms;
  for (int i = 0; i < o.repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    forward(images);
    batch_ms.push_back(ms_since(start));
  }
  std::vector<double> rates;
  for (double ms : batch_ms) rates.push_back(o.batch / (ms * 1e-3));
  r.batch_ms = spread_of(batch_ms);
  r.images_per_second = spread_of(rates);

  for (int i = 0; i < o.latency_warmup; ++i) forward(singles[size_t(i) % singles.size()]);
  std::vector<double> latency;
  for (int i = 0; i < o.latency_calls; ++i) {
    const Tensor& x = singles[size_t(i) % singles.size()];
    const auto start = std::chrono::steady_clock::now();
    forward(x);
    latency.push_back(ms_since(start));
  }
  r.latency_ms = spread_of(latency);
  return r;
}

nlohmann::json inference_bench_json(const InferenceBenchResult& r, const std::string& command_line) {
  char date[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return {{"engine", "quill"},
          {"mode", "inference"},
          {"model", r.model},
          {"model_kind", r.model_kind},
          {"parameters", r.parameters},
          {"classes", r.classes},
          {"device", "cpu"},
          {"device_name", r.cpu},
          {"threads", r.threads},
          {"images", r.images},
          {"timing", "steady_clock around each forward call (Context training=false)"},
          {"path", r.path},
          {"batch", r.batch},
          {"warmup_calls", r.warmup},
          {"repeats", r.repeats},
          {"images_per_second", spread_json(r.images_per_second)},
          {"batch_ms", spread_json(r.batch_ms)},
          {"latency_batch", 1},
          {"latency_warmup_calls", r.latency_warmup},
          {"latency_calls", r.latency_calls},
          {"latency_ms", spread_json(r.latency_ms)},
          {"date", date},
          {"command_line", command_line}};
}

std::string inference_bench_summary(const InferenceBenchResult& r) {
  char buf[512];
  const Spread& t = r.images_per_second;
  const Spread& l = r.latency_ms;
  std::snprintf(buf, sizeof buf,
                "%s, %d threads, batch %d: median %.1f images/s (min %.1f, max %.1f; p25-p75 %.1f-%.1f) over %d "
                "calls, %.3f ms/call\n"
                "batch 1: median %.3f ms (p10 %.3f, p90 %.3f; min %.3f, max %.3f) over %d calls\n",
                r.model.c_str(), r.threads, r.batch, t.median, t.min, t.max, t.p25, t.p75, r.repeats, r.batch_ms.median,
                l.median, l.p10, l.p90, l.min, l.max, r.latency_calls);
  return buf;
}

}  // namespace quill
