#include "apps/bench/op_cases.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "layers/layer_args.h"
#include "runtime/ops.h"
#include "runtime/rng.h"

namespace quill {
namespace {

constexpr uint64_t kSeed = 0x0b5eed;  // the inputs' seed; each tensor of each case has its own stream
constexpr double kElement = 4;        // bytes of a float32 or int32 element

Device device_of(Backend b) { return b == Backend::Cpu ? Device::cpu() : Device::cuda(0); }

// Uniform in [lo, hi], with a random sign when `sign`: random and never zero (a zero would hide a term).
Tensor random_tensor(const Shape& shape, uint64_t stream, Device device, double lo = 0.05, double hi = 1.0,
                     bool sign = true) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  const int64_t n = t.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const double magnitude = lo + (hi - lo) * random_uniform(kSeed, stream, uint64_t(2 * i));
    const bool negative = sign && random_uniform(kSeed, stream, uint64_t(2 * i + 1)) < 0.5f;
    p[i] = float(negative ? -magnitude : magnitude);
  }
  return t.to(device);
}

Tensor positive_tensor(const Shape& shape, uint64_t stream, Device device, double lo, double hi) {
  return random_tensor(shape, stream, device, lo, hi, false);
}

Tensor random_labels(int64_t n, int classes, uint64_t stream, Device device) {
  Tensor t = Tensor::empty(Shape{n}, DType::I32);
  for (int64_t i = 0; i < n; ++i)
    t.data<int32_t>()[i] = std::min(classes - 1, int32_t(random_uniform(kSeed, stream, uint64_t(i)) * classes));
  return t.to(device);
}

Tensor output(const Shape& shape, Device device, DType dtype = DType::F32) {
  return Tensor::empty(shape, dtype, device);
}

std::string dims(const Shape& s) {
  std::string out;
  for (int i = 0; i < s.rank(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Appends the cases, each with its own block of random streams.
class CaseList {
 public:
  explicit CaseList(int batch) : batch_(batch) {}
  int batch() const { return batch_; }

  // Adds a case whose prepare is made by make(stream_base).
  template <class MakePrepare>
  void add(std::vector<OpCase>& to, std::string layer, std::string pass, std::string op, std::string shape,
           WorkKind kind, double work, MakePrepare&& make) {
    OpCase c;
    c.layer = std::move(layer);
    c.pass = std::move(pass);
    c.op = std::move(op);
    c.shape = std::move(shape);
    c.kind = kind;
    c.work = work;
    c.prepare = make(next_stream_);
    next_stream_ += 16;
    to.push_back(std::move(c));
  }

 private:
  int batch_;
  uint64_t next_stream_ = 16;
};

// ---- per layer kind: forward ops into `fwd`, backward ops into `bwd` ----

void conv_cases(CaseList& list, std::vector<OpCase>& fwd, std::vector<OpCase>& bwd, const std::string& layer,
                LayerArgs& args, const Shape& in, bool needs_dx) {
  ConvGeometry g;
  g.n = list.batch();
  g.c = int(in[0]), g.h = int(in[1]), g.w = int(in[2]);
  g.k = args.integer(0, "the number of filters");
  g.r = g.s = args.option("k", 3);
  g.stride_h = g.stride_w = args.option("s", 1);
  g.pad_h = g.pad_w = args.option("p", 0);
  const bool bias = !args.flag("nobias");
  std::string shape = std::to_string(g.c) + "->" + std::to_string(g.k) + " k" + std::to_string(g.r);
  if (g.stride_h != 1) shape += " s" + std::to_string(g.stride_h);
  if (g.pad_h != 0) shape += " p" + std::to_string(g.pad_h);
  shape += " " + std::to_string(g.h) + "x" + std::to_string(g.w);
  const Shape xs{g.n, g.c, g.h, g.w}, ws{g.k, g.c, g.r, g.s}, ys{g.n, g.k, g.p(), g.q()};

  list.add(fwd, layer, "fwd", "conv2d_forward", shape, WorkKind::Flops, conv_flops(g), [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor x = random_tensor(xs, s, d), w = random_tensor(ws, s + 1, d);
      Tensor bt = bias ? random_tensor(Shape{g.k}, s + 2, d) : Tensor();
      Tensor y = output(ys, d);
      return PreparedCall{[=]() mutable { ops::conv2d_forward(b, g, x, w, bt.defined() ? &bt : nullptr, y); }, {y}};
    };
  });
  list.add(bwd, layer, "bwd-weights", "conv2d_backward_weights", shape, WorkKind::Flops, conv_flops(g),
           [=](uint64_t s) {
             return [=](Backend b) {
               const Device d = device_of(b);
               Tensor x = random_tensor(xs, s, d), dy = random_tensor(ys, s + 1, d);
               Tensor dw = output(ws, d), db = bias ? output(Shape{g.k}, d) : Tensor();
               std::vector<Tensor> outs{dw};
               if (bias) outs.push_back(db);
               return PreparedCall{
                   [=]() mutable { ops::conv2d_backward_weights(b, g, x, dy, dw, db.defined() ? &db : nullptr); },
                   outs};
             };
           });
  if (!needs_dx) return;
  list.add(bwd, layer, "bwd-data", "conv2d_backward_data", shape, WorkKind::Flops, conv_flops(g), [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor dy = random_tensor(ys, s, d), w = random_tensor(ws, s + 1, d), dx = output(xs, d);
      return PreparedCall{[=]() mutable { ops::conv2d_backward_data(b, g, dy, w, dx); }, {dx}};
    };
  });
}

void pool_cases(CaseList& list, std::vector<OpCase>& fwd, std::vector<OpCase>& bwd, const std::string& layer,
                LayerArgs& args, const Shape& in, bool needs_dx) {
  const bool max = args.kind() == "maxpool";
  PoolGeometry g;
  g.n = list.batch();
  g.c = int(in[0]), g.h = int(in[1]), g.w = int(in[2]);
  g.kh = g.kw = args.integer(0, "the window size");
  g.stride_h = g.stride_w = args.option("s", g.kh);
  g.pad_h = g.pad_w = args.option("p", 0);
  const std::string shape = std::to_string(g.c) + "x" + std::to_string(g.h) + "x" + std::to_string(g.w) + " " +
                            args.kind() + " " + std::to_string(g.kh) + " -> " + std::to_string(g.p()) + "x" +
                            std::to_string(g.q());
  const Shape xs{g.n, g.c, g.h, g.w}, ys{g.n, g.c, g.p(), g.q()};
  const double x_bytes = kElement * double(g.x_size()), y_bytes = kElement * double(g.y_size());
  if (max) {
    list.add(fwd, layer, "fwd", "maxpool_forward", shape, WorkKind::Bytes, x_bytes + 2 * y_bytes, [=](uint64_t s) {
      return [=](Backend b) {
        const Device d = device_of(b);
        Tensor x = random_tensor(xs, s, d), y = output(ys, d), argmax = output(ys, d, DType::I32);
        return PreparedCall{[=]() mutable { ops::maxpool_forward(b, g, x, y, argmax); }, {y, argmax}};
      };
    });
    if (!needs_dx) return;
    list.add(bwd, layer, "bwd", "maxpool_backward", shape, WorkKind::Bytes, x_bytes + 2 * y_bytes, [=](uint64_t s) {
      return [=](Backend b) {
        const Device d = device_of(b);
        Tensor x = random_tensor(xs, s, d), y = output(ys, d), argmax = output(ys, d, DType::I32);
        ops::maxpool_forward(b, g, x, y, argmax);
        Tensor dy = random_tensor(ys, s + 1, d), dx = output(xs, d);
        return PreparedCall{[=]() mutable { ops::maxpool_backward(b, g, dy, argmax, dx); }, {dx}};
      };
    });
  } else {
    list.add(fwd, layer, "fwd", "avgpool_forward", shape, WorkKind::Bytes, x_bytes + y_bytes, [=](uint64_t s) {
      return [=](Backend b) {
        const Device d = device_of(b);
        Tensor x = random_tensor(xs, s, d), y = output(ys, d);
        return PreparedCall{[=]() mutable { ops::avgpool_forward(b, g, x, y); }, {y}};
      };
    });
    if (!needs_dx) return;
    list.add(bwd, layer, "bwd", "avgpool_backward", shape, WorkKind::Bytes, x_bytes + y_bytes, [=](uint64_t s) {
      return [=](Backend b) {
        const Device d = device_of(b);
        Tensor dy = random_tensor(ys, s, d), dx = output(xs, d);
        return PreparedCall{[=]() mutable { ops::avgpool_backward(b, g, dy, dx); }, {dx}};
      };
    });
  }
}

void activation_cases(CaseList& list, std::vector<OpCase>& fwd, std::vector<OpCase>& bwd, const std::string& layer,
                      LayerArgs& args, const Shape& in, bool needs_dx) {
  const std::string& kind = args.kind();
  const Activation act = kind == "relu"    ? Activation::Relu
                         : kind == "leaky" ? Activation::LeakyRelu
                         : kind == "tanh"  ? Activation::Tanh
                                           : Activation::Sigmoid;
  const double alpha = kind == "leaky" ? args.number(0, "the negative slope", 0.01) : 0.0;
  const Shape xs = in.with_batch(list.batch());
  const double bytes = kElement * double(xs.numel());
  const std::string shape = kind + " " + dims(in);
  list.add(fwd, layer, "fwd", "activation_forward", shape, WorkKind::Bytes, 2 * bytes, [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor x = random_tensor(xs, s, d), y = output(xs, d);
      return PreparedCall{[=]() mutable { ops::activation_forward(b, act, alpha, x, y); }, {y}};
    };
  });
  if (!needs_dx) return;
  list.add(bwd, layer, "bwd", "activation_backward", shape, WorkKind::Bytes, 4 * bytes, [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor x = random_tensor(xs, s, d), y = output(xs, d);
      ops::activation_forward(b, act, alpha, x, y);
      Tensor dy = random_tensor(xs, s + 1, d), dx = output(xs, d);
      return PreparedCall{[=]() mutable { ops::activation_backward(b, act, alpha, x, y, dy, dx); }, {dx}};
    };
  });
}

void batchnorm_cases(CaseList& list, std::vector<OpCase>& fwd, std::vector<OpCase>& bwd, const std::string& layer,
                     const Shape& in) {
  constexpr double kEps = 1e-5, kMomentum = 0.1;  // the layer's (layers/batchnorm.cpp)
  const Shape xs = in.with_batch(list.batch()), cs{in[0]};
  const double x_bytes = kElement * double(xs.numel()), c_bytes = kElement * double(in[0]);
  const std::string shape = dims(in);
  // gamma, beta and the running statistics as a trained layer has them.
  struct Stats {
    Tensor gamma, beta, running_mean, running_var, save_mean, save_invstd;
  };
  auto stats = [cs](uint64_t s, Device d) {
    return Stats{positive_tensor(cs, s + 2, d, 0.5, 1.5), random_tensor(cs, s + 3, d),
                 random_tensor(cs, s + 4, d, 0.0, 0.2), positive_tensor(cs, s + 5, d, 0.5, 2.0), output(cs, d),
                 output(cs, d)};
  };
  list.add(fwd, layer, "fwd", "batchnorm_forward_train", shape, WorkKind::Bytes, 2 * x_bytes + 6 * c_bytes,
           [=](uint64_t s) {
             return [=](Backend b) {
               const Device d = device_of(b);
               Tensor x = random_tensor(xs, s, d), y = output(xs, d);
               Stats t = stats(s, d);
               return PreparedCall{[=]() mutable {
                                     ops::batchnorm_forward_train(b, x, t.gamma, t.beta, kEps, kMomentum, y,
                                                                  t.save_mean, t.save_invstd, t.running_mean,
                                                                  t.running_var);
                                   },
                                   {y, t.save_mean, t.save_invstd, t.running_mean, t.running_var}};
             };
           });
  // The layer runs batch-norm backward even for the graph's input (it needs dx for dgamma and dbeta).
  list.add(bwd, layer, "bwd", "batchnorm_backward", shape, WorkKind::Bytes, 3 * x_bytes + 5 * c_bytes,
           [=](uint64_t s) {
             return [=](Backend b) {
               const Device d = device_of(b);
               Tensor x = random_tensor(xs, s, d), y = output(xs, d);
               Stats t = stats(s, d);
               ops::batchnorm_forward_train(b, x, t.gamma, t.beta, kEps, kMomentum, y, t.save_mean, t.save_invstd,
                                            t.running_mean, t.running_var);
               Tensor dy = random_tensor(xs, s + 1, d), dx = output(xs, d), dgamma = output(cs, d),
                      dbeta = output(cs, d);
               return PreparedCall{[=]() mutable {
                                     ops::batchnorm_backward(b, x, dy, t.gamma, t.save_mean, t.save_invstd, dx,
                                                             dgamma, dbeta);
                                   },
                                   {dx, dgamma, dbeta}};
             };
           });
}

void dense_cases(CaseList& list, std::vector<OpCase>& fwd, std::vector<OpCase>& bwd, const std::string& layer,
                 LayerArgs& args, const Shape& in, bool needs_dx) {
  const int64_t n = list.batch(), inputs = in.numel(), units = args.integer(0, "the number of units");
  const bool bias = !args.flag("nobias");
  const Shape xs{n, inputs}, ws{units, inputs}, ys{n, units};
  const std::string shape = std::to_string(inputs) + "->" + std::to_string(units);
  const double macs = double(n) * double(inputs) * double(units);
  list.add(fwd, layer, "fwd", "dense_forward", shape, WorkKind::Flops, 2 * macs, [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor x = random_tensor(xs, s, d), w = random_tensor(ws, s + 1, d);
      Tensor bt = bias ? random_tensor(Shape{units}, s + 2, d) : Tensor();
      Tensor y = output(ys, d);
      return PreparedCall{[=]() mutable { ops::dense_forward(b, x, w, bt.defined() ? &bt : nullptr, y); }, {y}};
    };
  });
  // dx and dw are each one product of the layer's size; dx is skipped for the graph's input.
  list.add(bwd, layer, "bwd", "dense_backward", shape, WorkKind::Flops, (needs_dx ? 4 : 2) * macs, [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor x = random_tensor(xs, s, d), w = random_tensor(ws, s + 1, d), dy = random_tensor(ys, s + 2, d);
      Tensor dx = needs_dx ? output(xs, d) : Tensor(), dw = output(ws, d), db = bias ? output(Shape{units}, d) : Tensor();
      std::vector<Tensor> outs{dw};
      if (needs_dx) outs.push_back(dx);
      if (bias) outs.push_back(db);
      return PreparedCall{[=]() mutable {
                            ops::dense_backward(b, x, w, dy, dx.defined() ? &dx : nullptr, dw,
                                                db.defined() ? &db : nullptr);
                          },
                          outs};
    };
  });
}

void dropout_cases(CaseList& list, std::vector<OpCase>& fwd, std::vector<OpCase>& bwd, const std::string& layer,
                   LayerArgs& args, const Shape& in, bool needs_dx) {
  const double p = args.number(0, "the drop probability");
  if (p <= 0) return;  // a copy, not an op
  const Shape xs = in.with_batch(list.batch());
  const double bytes = 2 * kElement * double(xs.numel());
  std::ostringstream shape_text;
  shape_text << "p " << p << " " << dims(in);
  const std::string shape = shape_text.str();
  constexpr uint64_t kMaskSeed = 7, kMaskStream = 3;
  list.add(fwd, layer, "fwd", "dropout_forward", shape, WorkKind::Bytes, bytes, [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor x = random_tensor(xs, s, d), y = output(xs, d);
      return PreparedCall{[=]() mutable { ops::dropout_forward(b, p, kMaskSeed, kMaskStream, x, y); }, {y}};
    };
  });
  if (!needs_dx) return;
  list.add(bwd, layer, "bwd", "dropout_backward", shape, WorkKind::Bytes, bytes, [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor dy = random_tensor(xs, s, d), dx = output(xs, d);
      return PreparedCall{[=]() mutable { ops::dropout_backward(b, p, kMaskSeed, kMaskStream, dy, dx); }, {dx}};
    };
  });
}

// An element-wise sum: the add layer's forward, and the graph's summing of the gradients of a node that
// feeds several others.
void add_case(CaseList& list, std::vector<OpCase>& to, const std::string& layer, const std::string& pass,
              const Shape& in) {
  const Shape xs = in.with_batch(list.batch());
  list.add(to, layer, pass, "add", dims(in), WorkKind::Bytes, 3 * kElement * double(xs.numel()), [=](uint64_t s) {
    return [=](Backend b) {
      const Device d = device_of(b);
      Tensor a = random_tensor(xs, s, d), c = random_tensor(xs, s + 1, d), y = output(xs, d);
      return PreparedCall{[=]() mutable { ops::add(b, a, c, y); }, {y}};
    };
  });
}

void loss_cases(CaseList& list, std::vector<OpCase>& to, int64_t classes) {
  const int64_t n = list.batch();
  const Shape ls{n, classes};
  const double logits_bytes = kElement * double(n * classes), labels_bytes = kElement * double(n);
  const std::string shape = std::to_string(classes) + " classes";
  list.add(to, "loss", "fwd", "softmax_xent_forward", shape, WorkKind::Bytes,
           2 * logits_bytes + labels_bytes + kElement, [=](uint64_t s) {
             return [=](Backend b) {
               const Device d = device_of(b);
               Tensor logits = random_tensor(ls, s, d, 0.05, 4.0), labels = random_labels(n, int(classes), s + 1, d);
               Tensor probs = output(ls, d), loss = output(Shape{1}, d);
               return PreparedCall{[=]() mutable { ops::softmax_xent_forward(b, logits, labels, 0.0, probs, loss); },
                                   {probs, loss}};
             };
           });
  list.add(to, "loss", "bwd", "softmax_xent_backward", shape, WorkKind::Bytes, 2 * logits_bytes + labels_bytes,
           [=](uint64_t s) {
             return [=](Backend b) {
               const Device d = device_of(b);
               Tensor logits = random_tensor(ls, s, d, 0.05, 4.0), labels = random_labels(n, int(classes), s + 1, d);
               Tensor probs = output(ls, d), loss = output(Shape{1}, d), dlogits = output(ls, d);
               ops::softmax_xent_forward(b, logits, labels, 0.0, probs, loss);
               return PreparedCall{[=]() mutable { ops::softmax_xent_backward(b, probs, labels, 0.0, dlogits); },
                                   {dlogits}};
             };
           });
}

void optimizer_case(CaseList& list, std::vector<OpCase>& to, const OptimizerConfig& cfg, int64_t params) {
  const Shape ps{params};
  const double bytes = kElement * double(params);
  const std::string shape = std::to_string(params) + " params";
  if (cfg.kind == "sgd") {
    SgdConfig c;
    c.lr = 1e-3, c.momentum = cfg.momentum, c.nesterov = cfg.nesterov, c.weight_decay = cfg.weight_decay;
    list.add(to, "optimizer", "update", "sgd_step", "sgd " + shape, WorkKind::Bytes, 5 * bytes, [=](uint64_t s) {
      return [=](Backend b) {
        const Device d = device_of(b);
        Tensor param = random_tensor(ps, s, d), grad = random_tensor(ps, s + 1, d),
               velocity = random_tensor(ps, s + 2, d, 0.0, 0.1);
        return PreparedCall{[=]() mutable { ops::sgd_step(b, c, param, grad, velocity); }, {param, velocity}};
      };
    });
    return;
  }
  AdamConfig c;
  c.lr = 1e-3, c.beta1 = cfg.beta1, c.beta2 = cfg.beta2, c.eps = cfg.eps, c.weight_decay = cfg.weight_decay;
  c.decoupled_weight_decay = cfg.kind == "adamw";
  list.add(to, "optimizer", "update", "adam_step", cfg.kind + " " + shape, WorkKind::Bytes, 7 * bytes,
           [=](uint64_t s) {
             return [=](Backend b) {
               const Device d = device_of(b);
               Tensor param = random_tensor(ps, s, d), grad = random_tensor(ps, s + 1, d),
                      m = random_tensor(ps, s + 2, d, 0.0, 0.1), v = positive_tensor(ps, s + 3, d, 0.001, 0.01);
               return PreparedCall{[=]() mutable { ops::adam_step(b, c, 10, param, grad, m, v); }, {param, m, v}};
             };
           });
}

// Each node's inputs as add_to_graph and the graph resolve them (-1: the graph's input).
std::vector<std::vector<int>> node_inputs(Graph& graph, const ModelDescription& desc) {
  std::map<std::string, int> index;
  for (size_t i = 0; i < graph.size(); ++i) index[graph.node_name(i)] = int(i);
  std::vector<std::vector<int>> out(graph.size());
  for (size_t i = 0; i < graph.size(); ++i) {
    std::vector<std::string> names = desc.lines[i].inputs;
    if (!names.empty() && int(names.size()) < graph.layer(i).arity())
      names.insert(names.begin(), i == 0 ? std::string(Graph::kInput) : graph.node_name(i - 1));
    if (names.empty()) out[i].push_back(int(i) - 1);
    for (const std::string& name : names) {
      if (name == Graph::kInput) {
        out[i].push_back(-1);
        continue;
      }
      auto it = index.find(name);
      QUILL_CHECK(it != index.end(), "layer '", graph.node_name(i), "': unknown input '", name, "'");
      out[i].push_back(it->second);
    }
  }
  return out;
}

}  // namespace

double conv_flops(const ConvGeometry& g) { return 2.0 * double(g.macs()); }

std::vector<OpCase> training_step_cases(Graph& graph, const ModelDescription& desc, int batch,
                                        const OptimizerConfig& optimizer) {
  QUILL_CHECK(graph.built() && graph.size() == desc.lines.size(),
              "op cases: the graph must be built from the model description");
  QUILL_CHECK(batch >= 1, "op cases: the batch must be at least 1, got ", batch);
  QUILL_CHECK(graph.output_shape().rank() == 1, "op cases: the model's output must be one score per class, got ",
              graph.output_shape().str());
  const std::vector<std::vector<int>> inputs = node_inputs(graph, desc);
  std::vector<int> consumers(graph.size(), 0);
  for (const std::vector<int>& in : inputs)
    for (int j : in)
      if (j >= 0) ++consumers[size_t(j)];

  CaseList list(batch);
  std::vector<std::vector<OpCase>> fwd(graph.size()), bwd(graph.size());
  for (size_t i = 0; i < graph.size(); ++i) {
    Layer& layer = graph.layer(i);
    const std::string& name = graph.node_name(i);
    const int first = inputs[i][0];
    const Shape in = first < 0 ? graph.input_shape() : graph.node_shape(size_t(first));
    const bool needs_dx = first >= 0;  // the graph's input gets no gradient in training
    LayerArgs args(words_of(layer.describe()), int(graph.output_shape()[0]));
    const std::string& kind = args.kind();
    if (kind == "conv")
      conv_cases(list, fwd[i], bwd[i], name, args, in, needs_dx);
    else if (kind == "maxpool" || kind == "avgpool")
      pool_cases(list, fwd[i], bwd[i], name, args, in, needs_dx);
    else if (kind == "relu" || kind == "leaky" || kind == "tanh" || kind == "sigmoid")
      activation_cases(list, fwd[i], bwd[i], name, args, in, needs_dx);
    else if (kind == "bn")
      batchnorm_cases(list, fwd[i], bwd[i], name, in);
    else if (kind == "dense")
      dense_cases(list, fwd[i], bwd[i], name, args, in, needs_dx);
    else if (kind == "dropout")
      dropout_cases(list, fwd[i], bwd[i], name, args, in, needs_dx);
    else if (kind == "add")
      add_case(list, fwd[i], name, "fwd", in);
    else
      QUILL_CHECK(kind == "flatten", "op cases: layer '", name, "' (", layer.describe(), ") is not known to the op benchmark");
  }
  std::vector<OpCase> cases;
  for (std::vector<OpCase>& f : fwd)
    for (OpCase& c : f) cases.push_back(std::move(c));
  loss_cases(list, cases, graph.output_shape()[0]);
  for (size_t i = graph.size(); i-- > 0;) {
    // A node feeding several others gets its gradient summed from theirs (Graph::backward's adds).
    for (int k = 1; k < consumers[i]; ++k) add_case(list, cases, graph.node_name(i), "grad-sum", graph.node_shape(i));
    for (OpCase& c : bwd[i]) cases.push_back(std::move(c));
  }
  optimizer_case(list, cases, optimizer, graph.num_params());
  return cases;
}

}  // namespace quill
