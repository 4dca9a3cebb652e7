#pragma once
// The inference benchmark (`quill bench --inference`): forward passes of a trained model (or of a model
// description with seeded weights) on the CPU, as deployment runs them (Context{training = false}): the
// throughput at a large batch (images/s of each timed call, after warm-up) and the latency of one image
// (milliseconds of each of many calls, after warm-up), each as a median with its spread. The images are a
// raw float32 file (N x C x H x W, as bench/inference_compare.sh writes for every engine it compares) or
// synthetic MNIST-like ones. It can also write the model's class probabilities of the batch, so other
// engines' outputs can be compared with Quill's.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/tensor.h"

namespace quill {

struct InferenceBenchOptions {
  std::string model = "cnn";  // a .quill model file, or a description file or built-in name (seeded weights)
  std::string images;         // raw float32 images (N x per-sample shape); empty: synthetic images
  int batch = 256;            // the throughput batch; its images cycle through the file's when it has fewer
  int warmup = 3, repeats = 20;                   // untimed, then timed calls at `batch`
  int latency_warmup = 20, latency_calls = 200;   // untimed, then timed calls of one image
  int threads = 0;            // OpenMP threads; 0: as OMP_NUM_THREADS or the machine gives
  int classes = 10;           // of a model description
  uint64_t seed = 1;          // a description's weights and the synthetic images
  std::string probabilities;  // when set: write the batch's class probabilities here (raw float32, N x classes)
  bool plain = false;          // time Graph::forward instead of the inference plan (engine/inference_plan.h)
};

// Median and spread of a set of figures; percentiles interpolate linearly between order statistics (as
// numpy.percentile does by default, which bench/inference_compare.sh uses for the other engines).
struct Spread {
  std::vector<double> runs;
  double median = 0, min = 0, max = 0, p10 = 0, p25 = 0, p75 = 0, p90 = 0;
};
Spread spread_of(std::vector<double> runs);

struct InferenceBenchResult {
  std::string model, model_kind;  // model_kind: "model file" or "description (seeded weights)"
  int64_t parameters = 0;
  int classes = 0;
  int threads = 0;
  std::string cpu, images;  // images: the file, or "synthetic"
  std::string path;         // "inference plan" or "graph forward" (--plain)
  int batch = 0;
  int warmup = 0, repeats = 0, latency_warmup = 0, latency_calls = 0;
  Spread images_per_second;  // one figure per timed call at `batch`
  Spread batch_ms;           // the same calls' milliseconds
  Spread latency_ms;         // one figure per timed call of one image
};

// Images with MNIST's statistics where it matters for speed: 28x28 (or the given per-sample shape),
// about a fifth of the pixels ink of varying strength, the rest exactly 0. Also used by the training bench.
Tensor synthetic_images(int n, uint64_t seed, const Shape& per_sample = Shape{1, 28, 28});

// Runs the benchmark on the CPU; progress goes to stderr. Errors are one line (a missing model or image
// file, a file whose size is not whole images of the model's input).
InferenceBenchResult run_inference_bench(const InferenceBenchOptions& o);

nlohmann::json inference_bench_json(const InferenceBenchResult& r, const std::string& command_line);
// Two lines for the terminal: throughput and latency with their spreads.
std::string inference_bench_summary(const InferenceBenchResult& r);

}  // namespace quill
