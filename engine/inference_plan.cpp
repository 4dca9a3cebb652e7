#include "engine/inference_plan.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <any>
#include <cmath>
#include <map>
#include <sstream>
#include <utility>
#include <variant>

#include "runtime/error.h"
#include "runtime/ops.h"

namespace quill {
namespace {

// The graph's nodes in the order Graph::build runs them: Kahn's algorithm taking ready nodes in declaration
// order. inputs[i]: node i's input nodes, -1 for the graph input.
std::vector<int> execution_order(const std::vector<std::vector<int>>& inputs) {
  std::vector<int> missing(inputs.size()), order;
  for (size_t i = 0; i < inputs.size(); ++i)
    for (int j : inputs[i]) missing[i] += j >= 0;
  std::vector<bool> done(inputs.size(), false);
  while (order.size() < inputs.size()) {
    int next = -1;
    for (size_t i = 0; i < inputs.size() && next < 0; ++i)
      if (!done[i] && missing[i] == 0) next = int(i);
    QUILL_CHECK(next >= 0, "inference plan: the graph's layers form a cycle");
    done[size_t(next)] = true;
    order.push_back(next);
    for (size_t i = 0; i < inputs.size(); ++i)
      for (int j : inputs[i]) missing[i] -= j == next;
  }
  return order;
}

// Each convolution's geometry exactly as its layer passes it to ops::conv2d_forward, by node name: taken from
// the op calls of one eval-mode pass of one zero sample (the op-call trace, runtime/op.h), so the plan needs
// no knowledge of how a layer turns its settings into a geometry. Also the weight tensor it passes, to check
// that the plan folds the weights the layer really uses.
// The same for max pooling's geometry.
struct ConvCalls final : OpRecorder {
  struct Call {
    ConvGeometry geometry;
    const void* weight = nullptr;
    int count = 0;
  };
  struct PoolCall {
    PoolGeometry geometry;
    int count = 0;
  };
  std::map<std::string, Call> by_node;
  std::map<std::string, PoolCall> pools;
  void record(OpCall call) override {
    if (call.op == &ops::maxpool_forward) {
      PoolCall& c = pools[call.part];
      c.geometry = std::any_cast<PoolGeometry>(call.arguments[0]);
      ++c.count;
    }
    if (call.op != &ops::conv2d_forward) return;
    Call& c = by_node[call.part];
    c.geometry = std::any_cast<ConvGeometry>(call.arguments[0]);
    c.weight = std::any_cast<Tensor&>(call.arguments[2]).raw();
    ++c.count;
  }
};

// Layer kinds whose eval forward keeps no state in the layer (it reads its parameters and buffers and writes
// its output only), so two threads may run it at once on different chunks. Max pooling writes its argmax
// buffer: the plan runs its op itself. A kind not listed here makes the plan run chunks one after another.
bool stateless_in_eval(const std::string& kind) {
  for (const char* k : {"conv", "dense", "bn", "relu", "leaky", "tanh", "sigmoid", "flatten", "add", "dropout",
                        "avgpool"})
    if (kind == k) return true;
  return false;
}

ConvCalls trace_conv_calls(Graph& graph) {
  ConvCalls calls;
  OpRecorder* before = std::exchange(op_recorder, &calls);
  try {
    Context ctx;
    ctx.backend = Backend::Cpu;
    ctx.training = false;
    graph.forward(ctx, Tensor::zeros(graph.input_shape().with_batch(1), graph.dtype()));
  } catch (...) {
    op_recorder = before;
    throw;
  }
  op_recorder = before;
  return calls;
}

double as_double(const LayerAttribute& a) {
  if (const double* d = std::get_if<double>(&a.value)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&a.value)) return double(*i);
  fail("inference plan: attribute '", a.name, "' is not a number");
}

double attribute(const Layer& layer, const std::string& name) {
  for (const LayerAttribute& a : layer.attributes())
    if (a.name == name) return as_double(a);
  fail("inference plan: layer '", layer.name, "' (", layer.describe(), ") has no attribute '", name, "'");
}

std::vector<double> to_doubles(const Tensor& t) {
  const Tensor d = t.to(Device::cpu()).cast(DType::F64);
  return std::vector<double>(d.data<double>(), d.data<double>() + d.numel());
}

Tensor from_doubles(const std::vector<double>& v, const Shape& shape, DType dtype) {
  Tensor d = Tensor::empty(shape, DType::F64);
  std::copy(v.begin(), v.end(), d.data<double>());
  return d.cast(dtype);
}

// Folds an eval-mode batch norm (per output channel of a linear layer with `outputs` channels) into the
// layer's weights w [outputs, fan...] and bias b [outputs] (empty: none):
//   bn(w x + b) = s (w x + b - mean) + beta = (s w) x + ((b - mean) s + beta),  s = gamma / sqrt(var + eps),
// the scale computed as the batch-norm kernel computes it (kernels/cpu/batchnorm.cpp).
void fold_batchnorm(Layer& bn, int64_t outputs, std::vector<double>& w, std::vector<double>& b) {
  const std::vector<double> gamma = to_doubles(bn.params()[0].value), beta = to_doubles(bn.params()[1].value);
  const std::vector<Tensor*> stats = bn.buffers();
  QUILL_CHECK(stats.size() == 2 && int64_t(gamma.size()) == outputs, "inference plan: batch norm '", bn.name,
              "' does not match the ", outputs, " channels before it");
  const std::vector<double> mean = to_doubles(*stats[0]), var = to_doubles(*stats[1]);
  const double eps = attribute(bn, "eps");
  if (b.empty()) b.assign(size_t(outputs), 0.0);
  const size_t fan = w.size() / size_t(outputs);
  for (size_t k = 0; k < size_t(outputs); ++k) {
    const double s = gamma[k] / std::sqrt(var[k] + eps);
    for (size_t e = 0; e < fan; ++e) w[k * fan + e] *= s;
    b[k] = (b[k] - mean[k]) * s + beta[k];
  }
}

}  // namespace

InferencePlan::InferencePlan(Graph& graph) : graph_(graph) {
  QUILL_CHECK(graph.built() && graph.device().is_cpu(), "inference plan: needs a built graph on the CPU");
  const size_t count = graph.size();
  std::map<std::string, int> index;
  for (size_t i = 0; i < count; ++i) index[graph.node_name(i)] = int(i);
  std::vector<std::vector<int>> inputs(count);
  std::vector<int> consumers(count, 0);
  for (size_t i = 0; i < count; ++i)
    for (const std::string& name : graph.node_inputs(i)) {
      const int j = name == Graph::kInput ? -1 : index.at(name);
      inputs[i].push_back(j);
      if (j >= 0) ++consumers[size_t(j)];
    }
  // The single consumer of node i, when it has exactly one and takes only that input; else -1.
  auto only_consumer = [&](int i) {
    if (consumers[size_t(i)] != 1) return -1;
    for (size_t c = 0; c < count; ++c)
      if (inputs[c].size() == 1 && inputs[c][0] == i) return int(c);
    return -1;
  };
  const ConvCalls conv_calls = trace_conv_calls(graph);

  slot_of_.assign(count, -1);
  std::vector<bool> covered(count, false);
  for (int i : execution_order(inputs)) {
    if (covered[size_t(i)]) continue;
    Layer& layer = graph.layer(size_t(i));
    const std::string kind = layer.kind();
    if (kind == "dropout") {  // the identity in eval mode: its consumers read its input
      const int j = inputs[size_t(i)][0];
      slot_of_[size_t(i)] = j < 0 ? -1 : slot_of_[size_t(j)];
      continue;
    }
    Step step;
    step.node = step.output = i;
    step.covers = graph.node_name(size_t(i));
    for (int j : inputs[size_t(i)]) step.inputs.push_back(j < 0 ? -1 : slot_of_[size_t(j)]);
    std::vector<int> absorbed;  // nodes after `i` that the step computes too
    if (kind == "maxpool") {
      auto call = conv_calls.pools.find(graph.node_name(size_t(i)));
      QUILL_CHECK(call != conv_calls.pools.end() && call->second.count == 1, "inference plan: max pooling '",
                  graph.node_name(size_t(i)), "' did not make one maxpool_forward call");
      step.kind = Kind::MaxPool;
      step.pool = call->second.geometry;
    } else if (!stateless_in_eval(kind)) {
      chunks_in_parallel_ = false;
    }
    if (kind == "conv" || kind == "dense") {
      // Absorb a batch norm and then a ReLU that take this node's output alone.
      int next = only_consumer(i);
      const int bn_node = next >= 0 && graph.layer(size_t(next)).kind() == "bn" ? next : -1;
      if (bn_node >= 0) next = only_consumer(bn_node);
      const int relu_node = next >= 0 && graph.layer(size_t(next)).kind() == "relu" ? next : -1;
      if (bn_node >= 0 || relu_node >= 0) {
        step.kind = kind == "conv" ? Kind::Conv : Kind::Dense;
        const std::vector<Param>& params = layer.params();
        const Tensor& w = params[0].value;
        const int64_t outputs = w.dim(0);
        if (step.kind == Kind::Conv) {
          auto call = conv_calls.by_node.find(graph.node_name(size_t(i)));
          QUILL_CHECK(call != conv_calls.by_node.end() && call->second.count == 1 && call->second.weight == w.raw(),
                      "inference plan: convolution '", graph.node_name(size_t(i)),
                      "' did not make one conv2d_forward call with its weights");
          step.geometry = call->second.geometry;
        }
        std::vector<double> wv = to_doubles(w), bv;
        if (params.size() > 1) bv = to_doubles(params[1].value);
        if (bn_node >= 0) {
          fold_batchnorm(graph.layer(size_t(bn_node)), outputs, wv, bv);
          step.folded_bn = true;
          absorbed.push_back(bn_node);
          ++folded_;
        }
        if (bv.empty()) bv.assign(size_t(outputs), 0.0);
        step.weight = from_doubles(wv, w.shape(), graph.dtype());
        step.bias = from_doubles(bv, Shape{outputs}, graph.dtype());
        if (relu_node >= 0) {
          step.relu = true;
          absorbed.push_back(relu_node);
          ++fused_relus_;
        }
      }
    }
    for (int a : absorbed) {
      covered[size_t(a)] = true;
      step.covers += "+" + graph.node_name(size_t(a));
      step.output = a;
    }
    slot_of_[size_t(i)] = step.output;
    for (int a : absorbed) slot_of_[size_t(a)] = step.output;
    steps_.push_back(std::move(step));
  }
  chunk_ = graph.inference_chunk();
}

const Tensor& InferencePlan::forward(const Tensor& input) {
  QUILL_CHECK(input.shape().rank() >= 1 && input.shape().drop_batch() == graph_.input_shape(), "input of shape ",
              input.shape().str(), " does not fit the model, which takes [batch, ",
              graph_.input_shape().str().substr(1));
  QUILL_CHECK(input.dtype() == graph_.dtype() && input.device().is_cpu(), "inference plan: input is ",
              dtype_name(input.dtype()), " on ", input.device().str(), ", the model is ", dtype_name(graph_.dtype()),
              " on the CPU");
  const int64_t n = input.dim(0);
  ensure(output_, graph_.output_shape().with_batch(n), graph_.dtype(), Device::cpu());
  const int threads = omp_get_max_threads();
  const int64_t chunks = (n + chunk_ - 1) / chunk_;
  if (buffers_.size() < size_t(threads)) buffers_.resize(size_t(threads));
  auto run = [&](Buffers& b, int64_t c) {
    const int64_t begin = c * chunk_, end = std::min(n, begin + chunk_);
    Tensor out = output_.slice(begin, end);
    run_chunk(b, input.slice(begin, end), out);
  };
  if (!chunks_in_parallel_ || threads < 2 || chunks < 2) {
    for (int64_t c = 0; c < chunks; ++c) run(buffers_[0], c);
    return output_;
  }
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
    omp_set_num_threads(1);  // this thread's ops run on it alone (nested regions would be serialised anyway)
    Buffers& b = buffers_[size_t(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      try {
        run(b, c);
      } catch (...) {
#pragma omp critical(quill_inference_plan_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
  return output_;
}

void InferencePlan::run_chunk(Buffers& b, const Tensor& input, Tensor& final_output) {
  const int64_t m = input.dim(0);
  const int final_slot = slot_of_.back();
  if (final_slot < 0) {  // nothing but dropouts
    final_output.copy_from(input);
    return;
  }
  const DType dtype = graph_.dtype();
  b.storage.resize(graph_.size());
  b.values.resize(graph_.size());
  b.argmax.resize(graph_.size());
  Context ctx;
  ctx.backend = Backend::Cpu;
  ctx.training = false;
  for (Step& step : steps_) {
    Tensor& out = b.values[size_t(step.output)];
    if (step.output == final_slot) {
      out = final_output;
    } else {
      Tensor& buffer = b.storage[size_t(step.output)];
      ensure(buffer, graph_.node_shape(size_t(step.output)).with_batch(chunk_), dtype, Device::cpu());
      out = m == chunk_ ? buffer : buffer.slice(0, m);
    }
    std::vector<const Tensor*> in;
    for (int s : step.inputs) in.push_back(s < 0 ? &input : &b.values[size_t(s)]);
    switch (step.kind) {
      case Kind::Layer: {
        OpCallScope scope(graph_.node_name(size_t(step.node)), "fwd");
        graph_.layer(size_t(step.node)).forward(ctx, in, out);
        break;
      }
      case Kind::Conv: {
        ConvGeometry g = step.geometry;
        g.n = int(m);
        (step.relu ? ops::conv2d_forward_relu : ops::conv2d_forward)(Backend::Cpu, g, *in[0], step.weight, &step.bias,
                                                                     out);
        break;
      }
      case Kind::MaxPool: {
        PoolGeometry g = step.pool;
        g.n = int(m);
        Tensor& argmax = b.argmax[size_t(step.output)];  // not used: no backward follows
        ensure(argmax, graph_.node_shape(size_t(step.node)).with_batch(chunk_), DType::I32, Device::cpu());
        Tensor argmax_view = m == chunk_ ? argmax : argmax.slice(0, m);
        ops::maxpool_forward(Backend::Cpu, g, *in[0], out, argmax_view);
        break;
      }
      case Kind::Dense:
        ops::dense_forward(Backend::Cpu, *in[0], step.weight, &step.bias, out);
        if (step.relu) ops::activation_forward(Backend::Cpu, Activation::Relu, 0.0, out, out);
        break;
    }
  }
}

std::string InferencePlan::summary() const {
  std::ostringstream os;
  for (const Step& s : steps_) {
    os << s.covers;
    if (s.kind == Kind::Conv || s.kind == Kind::Dense)
      os << ": " << (s.kind == Kind::Conv ? "conv" : "dense") << (s.folded_bn ? ", folded bn" : "")
         << (s.relu ? ", relu" : "");
    os << '\n';
  }
  return os.str();
}

}  // namespace quill
