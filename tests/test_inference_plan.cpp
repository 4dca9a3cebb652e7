// The CPU inference plan (engine/inference_plan.h) against the plain eval-mode Graph::forward: on random
// inputs of odd shapes, with random weights, biases and batch-norm statistics (a fresh batch norm is the
// identity, which would fold to nothing), the folded and fused network gives the graph's outputs up to float
// rounding, in float64 (where only rounding at 1e-16 remains, so a slip in the algebra would show) and in
// float32; batch norms that do not follow a convolution or dense layer, convolutions without bias, residual
// adds and a convolution whose output has two consumers stay unfolded and still agree. Where nothing is folded
// (a convolution followed only by a ReLU), the fused ReLU gives the graph's bits exactly; chunked plans give
// each sample the bits it gets alone, as Graph::forward does.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/inference_plan.h"
#include "kernels/backends.h"
#include "layers/model_description.h"
#include "runtime/rng.h"

using namespace quill;

namespace {

double value_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::F32 ? double(t.data<float>()[i]) : t.data<double>()[i];
}
void set_at(Tensor& t, int64_t i, double v) {
  if (t.dtype() == DType::F32)
    t.data<float>()[i] = float(v);
  else
    t.data<double>()[i] = v;
}
void fill_uniform(Tensor& t, Rng& rng, double lo, double hi) {
  for (int64_t i = 0; i < t.numel(); ++i) set_at(t, i, rng.uniform(lo, hi));
}

// Weights as built (He / Xavier), but biases, batch-norm scales, shifts and running statistics random.
void randomise(Graph& graph, uint64_t seed) {
  Rng rng(seed, 11);
  for (size_t i = 0; i < graph.size(); ++i) {
    Layer& layer = graph.layer(i);
    for (Param& p : layer.params()) {
      if (p.name == "b") fill_uniform(p.value, rng, -0.5, 0.5);
      if (p.name == "gamma") fill_uniform(p.value, rng, -1.5, 1.5);  // negative scales flip a channel
      if (p.name == "beta") fill_uniform(p.value, rng, -0.5, 0.5);
    }
    if (layer.kind() == "bn") {
      fill_uniform(*layer.buffers()[0], rng, -0.5, 0.5);  // running mean
      fill_uniform(*layer.buffers()[1], rng, 0.2, 2.0);   // running variance
    }
  }
}

Graph built(const std::string& description, const Shape& input, int classes, DType dtype, uint64_t seed) {
  init_backends();
  Graph graph;
  add_to_graph(parse_model_description(description), classes, graph);
  graph.build(input, dtype, Device::cpu(), seed);
  randomise(graph, seed);
  return graph;
}

Tensor random_input(const Graph& graph, int n, uint64_t seed) {
  Tensor x = Tensor::empty(graph.input_shape().with_batch(n), graph.dtype());
  Rng rng(seed, 12);
  fill_uniform(x, rng, -1.0, 1.0);
  return x;
}

Tensor graph_forward(Graph& graph, const Tensor& x) {
  Context ctx;
  ctx.training = false;
  return graph.forward(ctx, x).clone();
}

// Largest |plan - graph| over the output, relative to max(1, largest |graph|).
double relative_difference(const Tensor& plan, const Tensor& reference) {
  REQUIRE(plan.shape() == reference.shape());
  double diff = 0, scale = 1;
  for (int64_t i = 0; i < plan.numel(); ++i) {
    diff = std::max(diff, std::abs(value_at(plan, i) - value_at(reference, i)));
    scale = std::max(scale, std::abs(value_at(reference, i)));
  }
  return diff / scale;
}

// Tolerances. Folding changes each weight by one rounding (relative 2^-53 in float64, 2^-24 in float32) and
// drops the batch norm's own rounding of its output; the convolutions then sum rounded products of up to 63
// terms here, layer after layer. Measured: at most 2e-15 of the output's scale in float64 and 1.1e-6 in
// float32. Float64 allows 1e-11, far below what a slip in the algebra gives (a wrong eps, mean or bias term
// shows at 1e-6 or more); float32 allows 2e-5, some 20 times the largest difference seen.
constexpr double kTolF64 = 1e-11, kTolF32 = 2e-5;

void check_plan_matches(const std::string& description, const Shape& input, int classes, int folded, int relus) {
  for (DType dtype : {DType::F64, DType::F32}) {
    CAPTURE(dtype_name(dtype));
    Graph graph = built(description, input, classes, dtype, 5);
    InferencePlan plan(graph);
    INFO("plan:\n", plan.summary());
    CHECK(plan.folded_batchnorms() == folded);
    CHECK(plan.fused_relus() == relus);
    const int chunk = int(graph.inference_chunk());
    for (int n : {1, 3, 2 * chunk + 5}) {
      CAPTURE(n);
      const Tensor x = random_input(graph, n, uint64_t(n));
      const Tensor reference = graph_forward(graph, x);
      const Tensor out = plan.forward(x).clone();
      const double d = relative_difference(out, reference);
      CAPTURE(d);
      CHECK(d <= (dtype == DType::F64 ? kTolF64 : kTolF32));
    }
  }
}

}  // namespace

TEST_CASE("inference plan: batch norms folded into convolutions (with and without bias) and a dense layer") {
  // conv+bn+relu (bias), strided conv without bias + bn + relu (explicit column matrix), 1x1 conv + bn with no
  // ReLU, a dropout between, dense + bn + relu, and a last dense layer that runs as it is.
  check_plan_matches("conv 5 k3 p1\nbn\nrelu\nconv 7 k3 s2 nobias\nbn\nrelu\nmaxpool 2\nconv 6 k1\nbn\n"
                     "dropout 0.3\ndense 9\nbn\nrelu\ndense classes\n",
                     Shape{3, 11, 13}, 4, 4, 3);
}

TEST_CASE("inference plan: batch norms that do not follow a convolution or dense layer stay as they are") {
  // bn on the input, after a pooling layer, and after a ReLU; a conv + relu (fused, nothing folded).
  check_plan_matches("bn\nconv 4 k3\nrelu\nmaxpool 2\nbn\nrelu\nconv 3 k2 nobias\nrelu\nbn\nflatten\ndense classes\n",
                     Shape{2, 9, 10}, 3, 0, 2);
}

TEST_CASE("inference plan: residual adds, and a convolution whose output has two consumers") {
  // stem: conv+bn+relu (folded, fused); a block conv+bn (folded, no ReLU) added to the stem; a conv read by both
  // its bn and an add (not folded: the add needs the convolution's own output).
  check_plan_matches("conv 4 k3 p1\nbn\nrelu as stem\nconv 4 k3 p1 nobias\nbn\nadd from stem\nrelu\n"
                     "conv 4 k3 p1 as both\nbn\nadd from both\nflatten\ndense 6\nrelu\ndense classes\n",
                     Shape{1, 7, 8}, 5, 2, 2);
}

TEST_CASE("inference plan: a fused ReLU with nothing folded gives the graph's bits") {
  for (DType dtype : {DType::F32, DType::F64}) {
    Graph graph = built("conv 6 k3 p1\nrelu\nconv 5 k3 s2\nrelu\nflatten\ndense 7\nrelu\ndense classes\n",
                        Shape{2, 10, 9}, 3, dtype, 9);
    InferencePlan plan(graph);
    CHECK(plan.folded_batchnorms() == 0);
    CHECK(plan.fused_relus() == 3);
    const Tensor x = random_input(graph, 13, 4);
    const Tensor reference = graph_forward(graph, x);
    const Tensor& out = plan.forward(x);
    REQUIRE(out.shape() == reference.shape());
    CHECK(std::memcmp(out.raw(), reference.raw(), size_t(out.numel()) * dtype_size(dtype)) == 0);
  }
}

TEST_CASE("inference plan: chunked batches give each sample the bits it gets alone") {
  Graph graph = built(std::string("conv 8 k3 p1\nbn\nrelu\nconv 8 k3 p1\nbn\nrelu\nmaxpool 2\ndense 16\nrelu\n") +
                          "dropout 0.5\ndense classes\n",
                      Shape{1, 28, 28}, 10, DType::F32, 3);
  InferencePlan plan(graph);
  const int64_t chunk = graph.inference_chunk();
  const int n = int(2 * chunk + 3);  // two whole chunks and a short one
  const Tensor x = random_input(graph, n, 6);
  const Tensor all = plan.forward(x).clone();
  REQUIRE(all.shape() == Shape{n, 10});
  for (int i = 0; i < n; i += 7) {
    const Tensor& one = plan.forward(x.slice(i, i + 1));
    CAPTURE(i);
    CHECK(std::memcmp(one.data<float>(), all.data<float>() + i * 10, 10 * sizeof(float)) == 0);
  }
  // And the same bits again on a second call of the whole batch (buffers are reused, nothing accumulates), and
  // on one thread, where the chunks run one after another with the ops' own threading (the whole batch above
  // ran chunks in parallel when the tests have two threads or more).
  const int threads = omp_get_max_threads();
  const Tensor again = plan.forward(x).clone();
  CHECK(std::memcmp(again.data<float>(), all.data<float>(), size_t(all.numel()) * sizeof(float)) == 0);
  CHECK(omp_get_max_threads() == threads);  // the workers' one-thread setting ends with the parallel region
  omp_set_num_threads(1);
  const Tensor one_thread = plan.forward(x).clone();
  omp_set_num_threads(threads);
  CHECK(std::memcmp(one_thread.data<float>(), all.data<float>(), size_t(all.numel()) * sizeof(float)) == 0);
  // And the graph's own forward gives the same bits as the plan here to within rounding (folded batch norms).
  CHECK(relative_difference(all, graph_forward(graph, x)) <= kTolF32);
}

TEST_CASE("inference plan: the graph's weights are not changed, and inputs that do not fit are one-line errors") {
  Graph graph = built("conv 3 k3 p1\nbn\nrelu\nflatten\ndense classes\n", Shape{1, 6, 6}, 2, DType::F32, 1);
  const Tensor before = graph.flat_values().clone();
  InferencePlan plan(graph);
  plan.forward(random_input(graph, 2, 1));
  CHECK(std::memcmp(before.raw(), graph.flat_values().raw(), size_t(before.numel()) * sizeof(float)) == 0);
  CHECK_THROWS_WITH_AS(plan.forward(Tensor::zeros(Shape{2, 1, 5, 6})), doctest::Contains("does not fit the model"),
                       Error);
  CHECK_THROWS_WITH_AS(plan.forward(Tensor::zeros(Shape{2, 1, 6, 6}, DType::F64)), doctest::Contains("the model is"),
                       Error);
}
