// Binds the CPU reference kernels (raw pointers) to the tensor-level ops of runtime/ops.h. The op registry
// has already checked every tensor's device and size (kernels/op_contracts.cpp).
#include <cmath>

#include "kernels/backends.h"
#include "kernels/binding.h"
#include "kernels/cpu/cpu_kernels.h"
#include "runtime/ops.h"

namespace quill {
using namespace binding;

void register_cpu_ops() {
  constexpr Backend B = Backend::Cpu;

  ops::conv2d_forward.define(B, [](const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* b,
                                   Tensor& y) {
    const char* op = "conv2d_forward";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::conv2d_forward<T>(g, x.data<T>(), w.data<T>(), ptr_or_null<T>(b), y.data<T>());
    });
  });
  ops::conv2d_backward_data.define(B, [](const ConvGeometry& g, const Tensor& dy, const Tensor& w, Tensor& dx) {
    const char* op = "conv2d_backward_data";
    by_float_type(dy, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::conv2d_backward_data<T>(g, dy.data<T>(), w.data<T>(), dx.data<T>());
    });
  });
  ops::conv2d_backward_weights.define(B, [](const ConvGeometry& g, const Tensor& x, const Tensor& dy, Tensor& dw,
                                            Tensor* db) {
    const char* op = "conv2d_backward_weights";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::conv2d_backward_weights<T>(g, x.data<T>(), dy.data<T>(), dw.data<T>(), mut_ptr_or_null<T>(db));
    });
  });

  ops::maxpool_forward.define(B, [](const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor& argmax) {
    const char* op = "maxpool_forward";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::maxpool_forward<T>(g, x.data<T>(), y.data<T>(), argmax.data<int32_t>());
    });
  });
  ops::maxpool_backward.define(B, [](const PoolGeometry& g, const Tensor& dy, const Tensor& argmax, Tensor& dx) {
    const char* op = "maxpool_backward";
    by_float_type(dy, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::maxpool_backward<T>(g, dy.data<T>(), argmax.data<int32_t>(), dx.data<T>());
    });
  });
  ops::avgpool_forward.define(B, [](const PoolGeometry& g, const Tensor& x, Tensor& y) {
    const char* op = "avgpool_forward";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::avgpool_forward<T>(g, x.data<T>(), y.data<T>());
    });
  });
  ops::avgpool_backward.define(B, [](const PoolGeometry& g, const Tensor& dy, Tensor& dx) {
    const char* op = "avgpool_backward";
    by_float_type(dy, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::avgpool_backward<T>(g, dy.data<T>(), dx.data<T>());
    });
  });

  ops::activation_forward.define(B, [](Activation act, double alpha, const Tensor& x, Tensor& y) {
    by_float_type(x, "activation_forward", [&](auto tag) {
      using T = decltype(tag);
      cpu::activation_forward<T>(act, alpha, x.numel(), x.data<T>(), y.data<T>());
    });
  });
  ops::activation_backward.define(B, [](Activation act, double alpha, const Tensor& x, const Tensor& y,
                                        const Tensor& dy, Tensor& dx) {
    by_float_type(x, "activation_backward", [&](auto tag) {
      using T = decltype(tag);
      cpu::activation_backward<T>(act, alpha, x.numel(), x.data<T>(), y.data<T>(), dy.data<T>(), dx.data<T>());
    });
  });
  ops::add.define(B, [](const Tensor& a, const Tensor& b, Tensor& y) {
    by_float_type(a, "add", [&](auto tag) {
      using T = decltype(tag);
      cpu::add<T>(a.numel(), a.data<T>(), b.data<T>(), y.data<T>());
    });
  });
  ops::dropout_forward.define(B, [](double p, uint64_t seed, uint64_t stream, const Tensor& x, Tensor& y) {
    by_float_type(x, "dropout_forward", [&](auto tag) {
      using T = decltype(tag);
      cpu::dropout_forward<T>(x.numel(), p, seed, stream, x.data<T>(), y.data<T>());
    });
  });
  ops::dropout_backward.define(B, [](double p, uint64_t seed, uint64_t stream, const Tensor& dy, Tensor& dx) {
    by_float_type(dy, "dropout_backward", [&](auto tag) {
      using T = decltype(tag);
      cpu::dropout_backward<T>(dy.numel(), p, seed, stream, dy.data<T>(), dx.data<T>());
    });
  });
  ops::fill.define(B, [](Tensor& t, double value) {
    t.fill(value);
  });

  ops::dense_forward.define(B, [](const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
    const int n = rows_of(x), in = row_size(x), out = static_cast<int>(w.dim(0));
    by_float_type(x, "dense_forward", [&](auto tag) {
      using T = decltype(tag);
      cpu::dense_forward<T>(n, in, out, x.data<T>(), w.data<T>(), ptr_or_null<T>(b), y.data<T>());
    });
  });
  ops::dense_backward.define(B, [](const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                                   Tensor* db) {
    const int n = rows_of(x), in = row_size(x), out = static_cast<int>(w.dim(0));
    by_float_type(x, "dense_backward", [&](auto tag) {
      using T = decltype(tag);
      cpu::dense_backward<T>(n, in, out, x.data<T>(), w.data<T>(), dy.data<T>(), mut_ptr_or_null<T>(dx),
                             dw.data<T>(), mut_ptr_or_null<T>(db));
    });
  });

  ops::batchnorm_forward_train.define(B, [](const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                                            double momentum, Tensor& y, Tensor& save_mean, Tensor& save_invstd,
                                            Tensor& running_mean, Tensor& running_var) {
    const char* op = "batchnorm_forward_train";
    const ChannelLayout l = channel_layout(x, gamma, op);
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::batchnorm_forward_train<T>(l.n, l.c, l.hw, x.data<T>(), gamma.data<T>(), beta.data<T>(), eps, momentum,
                                      y.data<T>(), save_mean.data<T>(), save_invstd.data<T>(),
                                      running_mean.data<T>(), running_var.data<T>());
    });
  });
  ops::batchnorm_forward_eval.define(B, [](const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                           const Tensor& running_mean, const Tensor& running_var, double eps,
                                           Tensor& y) {
    const char* op = "batchnorm_forward_eval";
    const ChannelLayout l = channel_layout(x, gamma, op);
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::batchnorm_forward_eval<T>(l.n, l.c, l.hw, x.data<T>(), gamma.data<T>(), beta.data<T>(),
                                     running_mean.data<T>(), running_var.data<T>(), eps, y.data<T>());
    });
  });
  ops::batchnorm_backward.define(B, [](const Tensor& x, const Tensor& dy, const Tensor& gamma,
                                       const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx,
                                       Tensor& dgamma, Tensor& dbeta) {
    const char* op = "batchnorm_backward";
    const ChannelLayout l = channel_layout(x, gamma, op);
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cpu::batchnorm_backward<T>(l.n, l.c, l.hw, x.data<T>(), dy.data<T>(), gamma.data<T>(), save_mean.data<T>(),
                                 save_invstd.data<T>(), dx.data<T>(), dgamma.data<T>(), dbeta.data<T>());
    });
  });

  ops::softmax_xent_forward.define(B, [](const Tensor& logits, const Tensor& labels, double smoothing,
                                         Tensor& probs, Tensor& loss) {
    const int n = rows_of(logits), c = row_size(logits);
    by_float_type(logits, "softmax_xent_forward", [&](auto tag) {
      using T = decltype(tag);
      loss.data<T>()[0] = static_cast<T>(cpu::softmax_xent_forward<T>(n, c, logits.data<T>(),
                                                                        labels.data<int32_t>(), smoothing,
                                                                        probs.data<T>()));
    });
  });
  ops::softmax_xent_backward.define(B, [](const Tensor& probs, const Tensor& labels, double smoothing,
                                          Tensor& dlogits) {
    const int n = rows_of(probs), c = row_size(probs);
    by_float_type(probs, "softmax_xent_backward", [&](auto tag) {
      using T = decltype(tag);
      cpu::softmax_xent_backward<T>(n, c, probs.data<T>(), labels.data<int32_t>(), smoothing, dlogits.data<T>());
    });
  });
  ops::count_correct.define(B, [](const Tensor& scores, const Tensor& labels, Tensor& correct) {
    const int n = rows_of(scores), c = row_size(scores);
    by_float_type(scores, "count_correct", [&](auto tag) {
      using T = decltype(tag);
      const T* s = scores.data<T>();
      const int32_t* y = labels.data<int32_t>();
      int32_t hits = 0;
      for (int i = 0; i < n; ++i) {
        int best = 0;
        for (int j = 1; j < c; ++j)
          if (s[int64_t(i) * c + j] > s[int64_t(i) * c + best]) best = j;
        hits += best == y[i];
      }
      correct.data<int32_t>()[0] = hits;
    });
  });

  ops::sgd_step.define(B, [](const SgdConfig& cfg, Tensor& param, const Tensor& grad, Tensor& velocity) {
    by_float_type(param, "sgd_step", [&](auto tag) {
      using T = decltype(tag);
      cpu::sgd_step<T>(param.numel(), cfg, param.data<T>(), grad.data<T>(),
                       cfg.momentum != 0 ? velocity.data<T>() : nullptr);
    });
  });
  ops::adam_step.define(B, [](const AdamConfig& cfg, int64_t step, Tensor& param, const Tensor& grad, Tensor& m,
                              Tensor& v) {
    by_float_type(param, "adam_step", [&](auto tag) {
      using T = decltype(tag);
      cpu::adam_step<T>(param.numel(), cfg, step, param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>());
    });
  });

  // The *_indirect ops read the step's values from a CPU tensor and run the kernels above with them: the CPU
  // stand-in of a replayed CUDA graph (runtime/step_graph.h) runs the trainer's graph path through these.
  ops::dropout_forward_indirect.define(B, [](double p, uint64_t seed, uint64_t node, const Tensor& values,
                                             const Tensor& x, Tensor& y) {
    const uint64_t step = uint64_t(step_values_of(values, "dropout_forward_indirect")[kStepNumber]);
    ops::dropout_forward(B, p, seed, dropout_stream(step, node), x, y);
  });
  ops::dropout_backward_indirect.define(B, [](double p, uint64_t seed, uint64_t node, const Tensor& values,
                                              const Tensor& dy, Tensor& dx) {
    const uint64_t step = uint64_t(step_values_of(values, "dropout_backward_indirect")[kStepNumber]);
    ops::dropout_backward(B, p, seed, dropout_stream(step, node), dy, dx);
  });
  ops::sgd_step_indirect.define(B, [](const SgdConfig& cfg, const Tensor& values, Tensor& param, const Tensor& grad,
                                      Tensor& velocity) {
    SgdConfig c = cfg;
    c.lr = step_values_of(values, "sgd_step_indirect")[kStepLearningRate];
    ops::sgd_step(B, c, param, grad, velocity);
  });
  ops::adam_step_indirect.define(B, [](const AdamConfig& cfg, const Tensor& values, Tensor& param, const Tensor& grad,
                                       Tensor& m, Tensor& v) {
    const double* k = step_values_of(values, "adam_step_indirect");
    AdamConfig c = cfg;
    c.lr = k[kStepLearningRate];
    by_float_type(param, "adam_step_indirect", [&](auto tag) {
      using T = decltype(tag);
      cpu::adam_step_corrected<T>(param.numel(), c, k[kStepCorrection1], k[kStepCorrection2], param.data<T>(),
                                  grad.data<T>(), m.data<T>(), v.data<T>());
    });
  });
  ops::accumulate_loss.define(B, [](const Tensor& loss, const Tensor& correct, int64_t n, Tensor& sums) {
    double* s = sums.data<double>();
    s[0] = std::fma(loss.item(), double(n), s[0]);
    s[1] += correct.data<int32_t>()[0];
  });
}

}  // namespace quill
