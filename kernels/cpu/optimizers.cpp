// Optimizer steps, in place over flat buffers, exactly as cpu_kernels.h defines them. Arithmetic is done in
// double and rounded once per stored value; elements are independent, so threads only split the range.
#include <cmath>
#include <cstdint>

#include "kernels/binding.h"
#include "kernels/cpu/cpu_kernels.h"
#include "runtime/step_values.h"
#include "runtime/error.h"
#include "runtime/ops.h"

namespace quill::cpu {
namespace {

constexpr int64_t kParallelMin = 32768;

}  // namespace

template <class T>
void sgd_step(int64_t n, const SgdConfig& cfg, T* param, const T* grad, T* velocity) {
  QUILL_CHECK(n >= 0, "sgd_step: negative element count ", n);
  QUILL_CHECK(cfg.momentum >= 0 && cfg.weight_decay >= 0, "sgd_step: momentum (", cfg.momentum, ") and weight decay (",
              cfg.weight_decay, ") must be non-negative");
  QUILL_CHECK(!cfg.nesterov || cfg.momentum > 0, "sgd_step: Nesterov needs a positive momentum");
  QUILL_CHECK(velocity != nullptr || cfg.momentum == 0, "sgd_step: momentum ", cfg.momentum,
              " needs a velocity buffer");
  const double lr = cfg.lr, mu = cfg.momentum, wd = cfg.weight_decay;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const double g = double(grad[i]) + wd * double(param[i]);
    double step = g;
    if (velocity != nullptr) {  // without momentum v = 0*v + g = g, so keeping no buffer is the same step
      const double v = mu * double(velocity[i]) + g;
      velocity[i] = T(v);
      step = cfg.nesterov ? g + mu * v : v;
    }
    param[i] = T(double(param[i]) - lr * step);
  }
}

template <class T>
void adam_step(int64_t n, const AdamConfig& cfg, int64_t t, T* param, const T* grad, T* m, T* v) {
  QUILL_CHECK(t >= 1, "adam_step: step number t is 1-based, got ", t);
  adam_step_corrected(n, cfg, adam_bias_correction(cfg.beta1, t), adam_bias_correction(cfg.beta2, t), param, grad,
                      m, v);
}

template <class T>
void adam_step_corrected(int64_t n, const AdamConfig& cfg, double correction1, double correction2, T* param,
                         const T* grad, T* m, T* v) {
  QUILL_CHECK(n >= 0, "adam_step: negative element count ", n);
  QUILL_CHECK(cfg.beta1 >= 0 && cfg.beta1 < 1 && cfg.beta2 >= 0 && cfg.beta2 < 1, "adam_step: betas (", cfg.beta1, ", ",
              cfg.beta2, ") must be in [0, 1)");
  const double lr = cfg.lr, b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps, wd = cfg.weight_decay;
  const bool decoupled = cfg.decoupled_weight_decay;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    double p = param[i];
    double g = grad[i];
    if (decoupled)
      p *= 1.0 - lr * wd;  // AdamW: decay the weight itself, outside the adaptive step
    else
      g += wd * p;  // Adam: L2 penalty folded into the gradient
    const double mi = b1 * double(m[i]) + (1.0 - b1) * g;
    const double vi = b2 * double(v[i]) + (1.0 - b2) * g * g;
    m[i] = T(mi);
    v[i] = T(vi);
    p -= lr * (mi / correction1) / (std::sqrt(vi / correction2) + eps);
    param[i] = T(p);
  }
}

#define QUILL_INSTANTIATE(T)                                                             \
  template void sgd_step<T>(int64_t, const SgdConfig&, T*, const T*, T*);                \
  template void adam_step<T>(int64_t, const AdamConfig&, int64_t, T*, const T*, T*, T*); \
  template void adam_step_corrected<T>(int64_t, const AdamConfig&, double, double, T*, const T*, T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

// ---- binding to the ops (runtime/ops.h); register_cpu.cpp calls it ----
void bind_optimizer_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cpu;
  bind_flat(ops::sgd_step, B, [](auto t, int64_t n, const SgdConfig& cfg, auto param, auto grad, auto velocity) {
    using T = decltype(t);
    sgd_step<T>(n, cfg, param, grad, cfg.momentum != 0 ? static_cast<T*>(velocity) : nullptr);
  });
  bind_flat(ops::adam_step, B, [](auto t, auto... a) { adam_step<decltype(t)>(a...); });

  // The *_indirect ops read the step's values from a CPU tensor (see elementwise.cpp's dropout).
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
      adam_step_corrected<T>(param.numel(), c, k[kStepCorrection1], k[kStepCorrection2], param.data<T>(),
                             grad.data<T>(), m.data<T>(), v.data<T>());
    });
  });
}

}  // namespace quill::cpu
