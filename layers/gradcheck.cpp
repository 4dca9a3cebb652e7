#include "layers/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "layers/loss.h"
#include "layers/model_description.h"

namespace quill {
namespace {

constexpr double kRelativeFloor = 1e-3;  // see gradcheck.h

// Distinct values spread over [-1, 1], in random order, none within half a spacing of 0: so ReLU inputs
// sit away from the kink and max-pool windows have a unique maximum by at least one spacing (>> 2h).
void fill_distinct(Tensor& t, Rng& rng) {
  const int64_t n = t.numel();
  std::vector<int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(uint32_t(i + 1))]);
  double* p = t.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = -1.0 + (2.0 * perm[i] + 1.0) / n;
}

void fill_uniform(Tensor& t, Rng& rng, double lo, double hi) {
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.uniform(lo, hi);
}

// Inputs are spaced 2/n apart (fill_distinct): a step of at most a quarter of that crosses no kink.
GradcheckOptions input_options(GradcheckOptions opt, const Tensor& x) {
  opt.step = std::min(opt.step, 0.5 / double(x.numel()));
  return opt;
}

// Analytic and numeric gradients of (a sample of) one tensor's elements.
struct Samples {
  std::string what;
  std::vector<double> analytic, numeric;
};

// Central differences of loss() over (a sample of) the elements of v, beside the analytic gradients.
Samples sample(const std::string& what, Tensor& v, const Tensor& analytic, const std::function<double()>& loss,
               const GradcheckOptions& opt) {
  Samples s{what, {}, {}};
  const int64_t n = v.numel();
  const int64_t stride = std::max<int64_t>(1, (n + opt.max_elements - 1) / opt.max_elements);
  double* p = v.data<double>();
  const double* g = analytic.data<double>();
  for (int64_t i = 0; i < n; i += stride) {
    const double saved = p[i];
    p[i] = saved + opt.step;
    const double up = loss();
    p[i] = saved - opt.step;
    const double down = loss();
    p[i] = saved;
    s.analytic.push_back(g[i]);
    s.numeric.push_back((up - down) / (2 * opt.step));
  }
  return s;
}

// The symmetric relative error of each tensor, with the floor described in gradcheck.h.
std::vector<GradcheckResult> score(const std::vector<Samples>& all) {
  double largest = 0;
  for (const Samples& s : all)
    for (double g : s.analytic) largest = std::max(largest, std::fabs(g));
  const double floor = std::max(kRelativeFloor * largest, 1e-300);
  std::vector<GradcheckResult> results;
  for (const Samples& s : all) {
    GradcheckResult r;
    r.what = s.what;
    for (size_t i = 0; i < s.analytic.size(); ++i) {
      const double g = s.analytic[i], n = s.numeric[i];
      r.max_rel_error = std::max(r.max_rel_error, std::fabs(g - n) / std::max(std::fabs(g) + std::fabs(n), floor));
      ++r.checked;
    }
    results.push_back(r);
  }
  return results;
}

// Randomises parameters so that no check runs at a special point (BN gamma = 1, zero biases).
void randomise_params(Graph& graph, Rng& rng) {
  for (Param* p : graph.params()) {
    if (p->name == "gamma")
      fill_uniform(p->value, rng, 0.5, 1.5);
    else
      fill_uniform(p->value, rng, -0.5, 0.5);
  }
}

}  // namespace

std::vector<GradcheckResult> gradcheck_layer(const std::string& layer_line, const Shape& sample_shape, int batch,
                                             const GradcheckOptions& opt, int classes) {
  Graph graph;
  add_to_graph(parse_model_description(layer_line), classes, graph);
  graph.build(sample_shape, DType::F64, Device::cpu(), opt.seed);
  return gradcheck_graph(graph, batch, opt);
}

std::vector<GradcheckResult> gradcheck_graph(Graph& graph, int batch, const GradcheckOptions& opt) {
  QUILL_CHECK(graph.built() && graph.dtype() == DType::F64 && graph.device().is_cpu(),
              "gradient checks run on a float64 graph on the CPU");
  Rng rng(opt.seed, 0x9c);
  randomise_params(graph, rng);
  const Shape sample_shape = graph.input_shape();
  Tensor x = Tensor::empty(sample_shape.with_batch(batch), DType::F64);
  fill_distinct(x, rng);
  Tensor r = Tensor::empty(graph.output_shape().with_batch(batch), DType::F64);
  fill_uniform(r, rng, -1.0, 1.0);

  Context ctx;
  ctx.training = opt.training;
  ctx.seed = opt.seed;
  auto loss = [&] {
    const Tensor& y = graph.forward(ctx, x);
    double sum = 0;
    for (int64_t i = 0; i < y.numel(); ++i) sum += y.data<double>()[i] * r.data<double>()[i];
    return sum;
  };
  loss();
  Tensor dx;
  graph.backward(ctx, r, &dx);
  const Tensor grads = graph.flat_grads().clone();

  std::vector<Samples> samples{sample("input", x, dx, loss, input_options(opt, x))};
  int64_t offset = 0;
  for (Param* p : graph.params()) {
    const int64_t n = p->shape.numel();
    samples.push_back(sample(p->name, p->value, grads.slice(offset, offset + n), loss, opt));
    offset += n;
  }
  return score(samples);
}

GradcheckResult gradcheck_softmax_xent(int batch, int classes, double label_smoothing, const GradcheckOptions& opt) {
  Rng rng(opt.seed, 0x5f);
  Tensor logits = Tensor::empty(Shape{batch, classes}, DType::F64);
  fill_uniform(logits, rng, -3.0, 3.0);
  Tensor labels = Tensor::empty(Shape{batch}, DType::I32);
  for (int i = 0; i < batch; ++i) labels.data<int32_t>()[i] = int32_t(rng.below(uint32_t(classes)));
  SoftmaxCrossEntropy xent(label_smoothing);
  auto loss = [&] {
    xent.forward(Backend::Cpu, logits, labels);
    return xent.value();
  };
  loss();
  const Tensor dlogits = xent.backward(Backend::Cpu, labels).clone();
  return score({sample("logits", logits, dlogits, loss, opt)})[0];
}

std::vector<GradcheckResult> gradcheck_model(const std::string& description, const Shape& sample_shape, int batch,
                                             int classes, const GradcheckOptions& opt) {
  Graph graph;
  add_to_graph(parse_model_description(description), classes, graph);
  graph.build(sample_shape, DType::F64, Device::cpu(), opt.seed);
  Rng rng(opt.seed, 0x3d);
  randomise_params(graph, rng);
  Tensor x = Tensor::empty(sample_shape.with_batch(batch), DType::F64);
  fill_distinct(x, rng);
  Tensor labels = Tensor::empty(Shape{batch}, DType::I32);
  for (int i = 0; i < batch; ++i) labels.data<int32_t>()[i] = int32_t(rng.below(uint32_t(classes)));

  Context ctx;
  ctx.training = opt.training;
  ctx.seed = opt.seed;
  SoftmaxCrossEntropy xent;
  auto loss = [&] {
    xent.forward(Backend::Cpu, graph.forward(ctx, x), labels);
    return xent.value();
  };
  loss();
  Tensor dx;
  graph.backward(ctx, xent.backward(Backend::Cpu, labels), &dx);
  const Tensor grads = graph.flat_grads().clone();

  std::vector<Samples> samples{sample("input", x, dx, loss, input_options(opt, x))};
  int64_t offset = 0;
  for (size_t i = 0; i < graph.size(); ++i) {
    for (Param& p : graph.layer(i).params()) {
      const int64_t n = p.shape.numel();
      samples.push_back(sample(graph.node_name(i) + "." + p.name, p.value, grads.slice(offset, offset + n), loss, opt));
      offset += n;
    }
  }
  return score(samples);
}

}  // namespace quill
