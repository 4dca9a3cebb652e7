// Binds the CUDA kernels of step_kernels.h to the *_indirect ops and accumulate_loss of runtime/ops.h, with
// the registry checking their arguments as for their direct counterparts (kernels/op_contracts.cpp).
#include "kernels/backends.h"
#include "kernels/binding.h"
#include "kernels/cuda/step_kernels.h"
#include "runtime/ops.h"

namespace quill {
using namespace binding;

void register_cuda_step_ops() {
  constexpr Backend B = Backend::Cuda;

  ops::dropout_forward_indirect.define(B, [](double p, uint64_t seed, uint64_t node, const Tensor& values,
                                             const Tensor& x, Tensor& y) {
    const char* op = "dropout_forward_indirect";
    const double* k = step_values_of(values, op);
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::dropout_indirect<T>(x.numel(), p, seed, node, k, x.data<T>(), y.data<T>());
    });
  });
  ops::dropout_backward_indirect.define(B, [](double p, uint64_t seed, uint64_t node, const Tensor& values,
                                              const Tensor& dy, Tensor& dx) {
    const char* op = "dropout_backward_indirect";
    const double* k = step_values_of(values, op);
    by_float_type(dy, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::dropout_indirect<T>(dy.numel(), p, seed, node, k, dy.data<T>(), dx.data<T>());
    });
  });
  ops::sgd_step_indirect.define(B, [](const SgdConfig& cfg, const Tensor& values, Tensor& param, const Tensor& grad,
                                      Tensor& velocity) {
    const char* op = "sgd_step_indirect";
    const bool momentum = cfg.momentum != 0;
    const double* k = step_values_of(values, op);
    by_float_type(param, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::sgd_step_indirect<T>(param.numel(), cfg, k, param.data<T>(), grad.data<T>(),
                                 momentum ? velocity.data<T>() : nullptr);
    });
  });
  ops::adam_step_indirect.define(B, [](const AdamConfig& cfg, const Tensor& values, Tensor& param, const Tensor& grad,
                                       Tensor& m, Tensor& v) {
    const char* op = "adam_step_indirect";
    const double* k = step_values_of(values, op);
    by_float_type(param, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::adam_step_indirect<T>(param.numel(), cfg, k, param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>());
    });
  });
  ops::accumulate_loss.define(B, [](const Tensor& loss, const Tensor& correct, int64_t n, Tensor& sums) {
    const char* op = "accumulate_loss";
    by_float_type(loss, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::accumulate_loss<T>(loss.data<T>(), correct.data<int32_t>(), n, sums.data<double>());
    });
  });
}

}  // namespace quill
