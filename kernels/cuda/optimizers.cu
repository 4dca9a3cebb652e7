// Optimizer updates as single fused element-wise kernels over the flat parameter buffer: each element's
// parameter, gradient and moments are read once and written once. As in the CPU reference, the arithmetic
// is in double and each stored value is rounded once, so the two backends agree to the last bit or so
// (the update is memory-bound; double arithmetic costs nothing measurable).
#include <cmath>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace quill::cuda {
namespace {

struct SgdCoefficients {
  double lr, momentum, weight_decay;
  bool nesterov;
};

// g = grad + wd*param; v = momentum*v + g; step = nesterov ? g + momentum*v : v; param -= lr*step.
// Without momentum (velocity == nullptr) the step is g.
template <class T>
__global__ void sgd_kernel(int64_t n, SgdCoefficients k, T* param, const T* grad, T* velocity) {
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
template <class T>
__global__ void adam_kernel(int64_t n, AdamCoefficients k, T* param, const T* grad, T* m, T* v) {
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

}  // namespace

template <class T>
void sgd_step(int64_t n, const SgdConfig& cfg, T* param, const T* grad, T* velocity) {
  QUILL_CHECK(n >= 0, "sgd_step: negative element count ", n);
  QUILL_CHECK(cfg.momentum >= 0 && cfg.weight_decay >= 0, "sgd_step: momentum (", cfg.momentum,
              ") and weight decay (", cfg.weight_decay, ") must be non-negative");
  QUILL_CHECK(!cfg.nesterov || cfg.momentum > 0, "sgd_step: Nesterov needs a positive momentum");
  QUILL_CHECK(velocity != nullptr || cfg.momentum == 0, "sgd_step: momentum ", cfg.momentum,
              " needs a velocity buffer");
  if (n == 0) return;
  const SgdCoefficients k{cfg.lr, cfg.momentum, cfg.weight_decay, cfg.nesterov};
  sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(n, k, param, grad, cfg.momentum != 0 ? velocity : nullptr);
  QUILL_CUDA_CHECK_LAUNCH();
}

template <class T>
void adam_step(int64_t n, const AdamConfig& cfg, int64_t t, T* param, const T* grad, T* m, T* v) {
  QUILL_CHECK(n >= 0, "adam_step: negative element count ", n);
  QUILL_CHECK(t >= 1, "adam_step: step number t is 1-based, got ", t);
  QUILL_CHECK(cfg.beta1 >= 0 && cfg.beta1 < 1 && cfg.beta2 >= 0 && cfg.beta2 < 1, "adam_step: betas (",
              cfg.beta1, ", ", cfg.beta2, ") must be in [0, 1)");
  if (n == 0) return;
  const AdamCoefficients k{cfg.lr,
                           cfg.beta1,
                           cfg.beta2,
                           cfg.eps,
                           cfg.weight_decay,
                           1.0 - std::pow(cfg.beta1, double(t)),
                           1.0 - std::pow(cfg.beta2, double(t)),
                           cfg.decoupled_weight_decay};
  adam_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(n, k, param, grad, m, v);
  QUILL_CUDA_CHECK_LAUNCH();
}

template void sgd_step<float>(int64_t, const SgdConfig&, float*, const float*, float*);
template void sgd_step<double>(int64_t, const SgdConfig&, double*, const double*, double*);
template void adam_step<float>(int64_t, const AdamConfig&, int64_t, float*, const float*, float*, float*);
template void adam_step<double>(int64_t, const AdamConfig&, int64_t, double*, const double*, double*, double*);

}  // namespace quill::cuda
