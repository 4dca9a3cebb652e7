// Optimizer updates as single fused element-wise kernels over the flat parameter buffer: each element's
// parameter, gradient and moments are read once and written once. As in the CPU reference, the arithmetic
// is in double and each stored value is rounded once, so the two backends agree to the last bit or so
// (the update is memory-bound; double arithmetic costs nothing measurable).
#include "kernels/binding.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "runtime/ops.h"
#include "runtime/step_values.h"

namespace quill::cuda {
namespace {

struct SgdCoefficients {
  double lr, momentum, weight_decay;
  bool nesterov;
};

// g = grad + wd*param; v = momentum*v + g; step = nesterov ? g + momentum*v : v; param -= lr*step.
// Without momentum (velocity == nullptr) the step is g. With step_values (a step replayed from a CUDA graph)
// lr is read from them: one kernel for both paths, so they compute the same bits.
template <class T>
__global__ void sgd_kernel(int64_t n, SgdCoefficients k, const double* step_values, T* param, const T* grad,
                           T* velocity) {
  if (step_values != nullptr) k.lr = step_values[kStepLearningRate];
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    const double g = double(grad[i]) + k.weight_decay * double(param[i]);
    double step = g;
    if (velocity != nullptr) {
      const double v = k.momentum * double(velocity[i]) + g;
      velocity[i] = T(v);
      step = k.nesterov ? g + k.momentum * v : v;
    }
    param[i] = T(double(param[i]) - k.lr * step);
  }
}

struct AdamCoefficients {
  double lr, beta1, beta2, eps, weight_decay, correction1, correction2;
  bool decoupled;
};

// Adam: g = grad + wd*param. AdamW: param *= 1 - lr*wd first, g = grad. Then
// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; param -= lr * (m/bc1) / (sqrt(v/bc2) + eps).
// With step_values, lr, bc1 and bc2 are read from them.
template <class T>
__global__ void adam_kernel(int64_t n, AdamCoefficients k, const double* step_values, T* param, const T* grad, T* m,
                            T* v) {
  if (step_values != nullptr) {
    k.lr = step_values[kStepLearningRate];
    k.correction1 = step_values[kStepCorrection1];
    k.correction2 = step_values[kStepCorrection2];
  }
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    double p = param[i];
    double g = grad[i];
    if (k.decoupled)
      p *= 1.0 - k.lr * k.weight_decay;
    else
      g += k.weight_decay * p;
    const double mi = k.beta1 * double(m[i]) + (1.0 - k.beta1) * g;
    const double vi = k.beta2 * double(v[i]) + (1.0 - k.beta2) * g * g;
    m[i] = T(mi);
    v[i] = T(vi);
    p -= k.lr * (mi / k.correction1) / (sqrt(vi / k.correction2) + k.eps);
    param[i] = T(p);
  }
}

template <class T>
void launch_sgd(int64_t n, const SgdConfig& cfg, const double* step_values, T* param, const T* grad, T* velocity) {
  QUILL_CHECK(n >= 0, "sgd_step: negative element count ", n);
  QUILL_CHECK(cfg.momentum >= 0 && cfg.weight_decay >= 0, "sgd_step: momentum (", cfg.momentum,
              ") and weight decay (", cfg.weight_decay, ") must be non-negative");
  QUILL_CHECK(!cfg.nesterov || cfg.momentum > 0, "sgd_step: Nesterov needs a positive momentum");
  QUILL_CHECK(velocity != nullptr || cfg.momentum == 0, "sgd_step: momentum ", cfg.momentum,
              " needs a velocity buffer");
  if (n == 0) return;
  const SgdCoefficients k{cfg.lr, cfg.momentum, cfg.weight_decay, cfg.nesterov};
  launch(sgd_kernel<T>, blocks_for(n), kThreads, 0, stream(), n, k, step_values, param, grad,
         cfg.momentum != 0 ? velocity : nullptr);
}

// t is only used without step_values.
template <class T>
void launch_adam(int64_t n, const AdamConfig& cfg, int64_t t, const double* step_values, T* param, const T* grad, T* m,
                 T* v) {
  QUILL_CHECK(n >= 0, "adam_step: negative element count ", n);
  QUILL_CHECK(step_values != nullptr || t >= 1, "adam_step: step number t is 1-based, got ", t);
  QUILL_CHECK(cfg.beta1 >= 0 && cfg.beta1 < 1 && cfg.beta2 >= 0 && cfg.beta2 < 1, "adam_step: betas (",
              cfg.beta1, ", ", cfg.beta2, ") must be in [0, 1)");
  if (n == 0) return;
  const AdamCoefficients k{cfg.lr,
                           cfg.beta1,
                           cfg.beta2,
                           cfg.eps,
                           cfg.weight_decay,
                           step_values != nullptr ? 0.0 : adam_bias_correction(cfg.beta1, t),
                           step_values != nullptr ? 0.0 : adam_bias_correction(cfg.beta2, t),
                           cfg.decoupled_weight_decay};
  launch(adam_kernel<T>, blocks_for(n), kThreads, 0, stream(), n, k, step_values, param, grad, m, v);
}

}  // namespace

// velocity is null without momentum. The *_indirect versions read lr (and Adam's bias corrections) from
// step_values (runtime/step_values.h) when they run.
template <class T>
void sgd_step(int64_t n, const SgdConfig& cfg, T* param, const T* grad, T* velocity) {
  launch_sgd(n, cfg, nullptr, param, grad, velocity);
}

template <class T>
void adam_step(int64_t n, const AdamConfig& cfg, int64_t t, T* param, const T* grad, T* m, T* v) {
  launch_adam(n, cfg, t, nullptr, param, grad, m, v);
}

template <class T>
void sgd_step_indirect(int64_t n, const SgdConfig& cfg, const double* step_values, T* param, const T* grad,
                       T* velocity) {
  launch_sgd(n, cfg, step_values, param, grad, velocity);
}

template <class T>
void adam_step_indirect(int64_t n, const AdamConfig& cfg, const double* step_values, T* param, const T* grad, T* m,
                        T* v) {
  launch_adam(n, cfg, 0, step_values, param, grad, m, v);
}

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_optimizer_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  bind_flat(ops::sgd_step, B, [](auto t, int64_t n, const SgdConfig& cfg, auto param, auto grad, auto velocity) {
    using T = decltype(t);
    sgd_step<T>(n, cfg, param, grad, cfg.momentum != 0 ? static_cast<T*>(velocity) : nullptr);
  });
  bind_flat(ops::adam_step, B, [](auto t, auto... a) { adam_step<decltype(t)>(a...); });
  ops::sgd_step_indirect.define(B, [](const SgdConfig& cfg, const Tensor& values, Tensor& param, const Tensor& grad,
                                      Tensor& velocity) {
    const char* op = "sgd_step_indirect";
    const bool momentum = cfg.momentum != 0;
    const double* k = step_values_of(values, op);
    by_float_type(param, op, [&](auto tag) {
      using T = decltype(tag);
      sgd_step_indirect<T>(param.numel(), cfg, k, param.data<T>(), grad.data<T>(),
                           momentum ? velocity.data<T>() : nullptr);
    });
  });
  ops::adam_step_indirect.define(B, [](const AdamConfig& cfg, const Tensor& values, Tensor& param, const Tensor& grad,
                                       Tensor& m, Tensor& v) {
    const char* op = "adam_step_indirect";
    const double* k = step_values_of(values, op);
    by_float_type(param, op, [&](auto tag) {
      using T = decltype(tag);
      adam_step_indirect<T>(param.numel(), cfg, k, param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>());
    });
  });
}

}  // namespace quill::cuda
