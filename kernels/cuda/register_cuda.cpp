// Binds the CUDA kernels (raw device pointers, cuda_kernels.h) to the tensor-level ops of runtime/ops.h.
// The op registry has already checked every tensor's size (kernels/op_contracts.cpp) and that it lives on
// the GPU (a host pointer handed to a kernel would fault asynchronously, far from the cause). Also installs
// the device runtime. The ops that run matrix products read the backend's math mode (kernels/cuda/settings.h)
// at every call.
#include <algorithm>

#include "kernels/backends.h"
#include "kernels/binding.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_runtime.h"
#include "kernels/cuda/settings.h"
#include "runtime/ops.h"

namespace quill {
using namespace binding;

void register_cuda_ops() {
  cuda::install_device_runtime();  // ops are defined either way; without a device no tensor can reach them
  set_device_unavailable_reason(DeviceType::Cuda, cuda::unavailable_reason());
  constexpr Backend B = Backend::Cuda;
  // The math mode of this call's matrix products, from the store a program switches (settings.h).
  auto math = [settings = cuda::backend_settings()] { return settings->get().math(); };

  ops::conv2d_forward.define(B, [math](const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* b,
                                       Tensor& y) {
    const char* op = "conv2d_forward";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::conv2d_forward<T>(g, x.data<T>(), w.data<T>(), ptr_or_null<T>(b), y.data<T>(), math());
    });
  });
  ops::conv2d_backward_data.define(B, [math](const ConvGeometry& g, const Tensor& dy, const Tensor& w, Tensor& dx) {
    const char* op = "conv2d_backward_data";
    by_float_type(dy, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::conv2d_backward_data<T>(g, dy.data<T>(), w.data<T>(), dx.data<T>(), math());
    });
  });
  ops::conv2d_backward_weights.define(B, [math](const ConvGeometry& g, const Tensor& x, const Tensor& dy,
                                                Tensor& dw, Tensor* db) {
    const char* op = "conv2d_backward_weights";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::conv2d_backward_weights<T>(g, x.data<T>(), dy.data<T>(), dw.data<T>(), mut_ptr_or_null<T>(db),
                                       math());
    });
  });

  ops::maxpool_forward.define(B, [](const PoolGeometry& g, const Tensor& x, Tensor& y, Tensor& argmax) {
    const char* op = "maxpool_forward";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::maxpool_forward<T>(g, x.data<T>(), y.data<T>(), argmax.data<int32_t>());
    });
  });
  ops::maxpool_backward.define(B, [](const PoolGeometry& g, const Tensor& dy, const Tensor& argmax, Tensor& dx) {
    const char* op = "maxpool_backward";
    by_float_type(dy, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::maxpool_backward<T>(g, dy.data<T>(), argmax.data<int32_t>(), dx.data<T>());
    });
  });
  ops::avgpool_forward.define(B, [](const PoolGeometry& g, const Tensor& x, Tensor& y) {
    const char* op = "avgpool_forward";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::avgpool_forward<T>(g, x.data<T>(), y.data<T>());
    });
  });
  ops::avgpool_backward.define(B, [](const PoolGeometry& g, const Tensor& dy, Tensor& dx) {
    const char* op = "avgpool_backward";
    by_float_type(dy, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::avgpool_backward<T>(g, dy.data<T>(), dx.data<T>());
    });
  });

  ops::activation_forward.define(B, [](Activation act, double alpha, const Tensor& x, Tensor& y) {
    const char* op = "activation_forward";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::activation_forward<T>(act, alpha, x.numel(), x.data<T>(), y.data<T>());
    });
  });
  ops::activation_backward.define(B, [](Activation act, double alpha, const Tensor& x, const Tensor& y,
                                        const Tensor& dy, Tensor& dx) {
    const char* op = "activation_backward";
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::activation_backward<T>(act, alpha, x.numel(), x.data<T>(), y.data<T>(), dy.data<T>(), dx.data<T>());
    });
  });
  ops::add.define(B, [](const Tensor& a, const Tensor& b, Tensor& y) {
    by_float_type(a, "add", [&](auto tag) {
      using T = decltype(tag);
      cuda::add<T>(a.numel(), a.data<T>(), b.data<T>(), y.data<T>());
    });
  });
  ops::dropout_forward.define(B, [](double p, uint64_t seed, uint64_t stream, const Tensor& x, Tensor& y) {
    by_float_type(x, "dropout_forward", [&](auto tag) {
      using T = decltype(tag);
      cuda::dropout_forward<T>(x.numel(), p, seed, stream, x.data<T>(), y.data<T>());
    });
  });
  ops::dropout_backward.define(B, [](double p, uint64_t seed, uint64_t stream, const Tensor& dy, Tensor& dx) {
    by_float_type(dy, "dropout_backward", [&](auto tag) {
      using T = decltype(tag);
      cuda::dropout_backward<T>(dy.numel(), p, seed, stream, dy.data<T>(), dx.data<T>());
    });
  });
  ops::fill.define(B, [](Tensor& t, double value) {
    switch (t.dtype()) {
      case DType::F32: cuda::fill<float>(t.numel(), float(value), t.data<float>()); return;
      case DType::F64: cuda::fill<double>(t.numel(), value, t.data<double>()); return;
      case DType::I32: cuda::fill<int32_t>(t.numel(), int32_t(value), t.data<int32_t>()); return;
    }
  });

  ops::dense_forward.define(B, [math](const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
    const char* op = "dense_forward";
    const int n = rows_of(x), in = row_size(x), out = static_cast<int>(w.dim(0));
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::dense_forward<T>(n, in, out, x.data<T>(), w.data<T>(), ptr_or_null<T>(b), y.data<T>(), math());
    });
  });
  ops::dense_backward.define(B, [math](const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                                       Tensor* db) {
    const char* op = "dense_backward";
    const int n = rows_of(x), in = row_size(x), out = static_cast<int>(w.dim(0));
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::dense_backward<T>(n, in, out, x.data<T>(), w.data<T>(), dy.data<T>(), mut_ptr_or_null<T>(dx),
                              dw.data<T>(), mut_ptr_or_null<T>(db), math());
    });
  });

  ops::batchnorm_forward_train.define(B, [](const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                                            double momentum, Tensor& y, Tensor& save_mean, Tensor& save_invstd,
                                            Tensor& running_mean, Tensor& running_var) {
    const char* op = "batchnorm_forward_train";
    const ChannelLayout l = channel_layout(x, gamma, op);
    by_float_type(x, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::batchnorm_forward_train<T>(l.n, l.c, l.hw, x.data<T>(), gamma.data<T>(), beta.data<T>(), eps,
                                       momentum, y.data<T>(), save_mean.data<T>(), save_invstd.data<T>(),
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
      cuda::batchnorm_forward_eval<T>(l.n, l.c, l.hw, x.data<T>(), gamma.data<T>(), beta.data<T>(),
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
      cuda::batchnorm_backward<T>(l.n, l.c, l.hw, x.data<T>(), dy.data<T>(), gamma.data<T>(),
                                  save_mean.data<T>(), save_invstd.data<T>(), dx.data<T>(), dgamma.data<T>(),
                                  dbeta.data<T>());
    });
  });

  ops::softmax_xent_forward.define(B, [](const Tensor& logits, const Tensor& labels, double smoothing,
                                         Tensor& probs, Tensor& loss) {
    const char* op = "softmax_xent_forward";
    const int n = rows_of(logits), c = row_size(logits);
    by_float_type(logits, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::softmax_xent_forward<T>(n, c, logits.data<T>(), labels.data<int32_t>(), smoothing, probs.data<T>(),
                                    loss.data<T>());
    });
  });
  ops::softmax_xent_backward.define(B, [](const Tensor& probs, const Tensor& labels, double smoothing,
                                          Tensor& dlogits) {
    const char* op = "softmax_xent_backward";
    const int n = rows_of(probs), c = row_size(probs);
    by_float_type(probs, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::softmax_xent_backward<T>(n, c, probs.data<T>(), labels.data<int32_t>(), smoothing, dlogits.data<T>());
    });
  });
  ops::count_correct.define(B, [](const Tensor& scores, const Tensor& labels, Tensor& correct) {
    const char* op = "count_correct";
    const int n = rows_of(scores), c = row_size(scores);
    by_float_type(scores, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::count_correct<T>(n, c, scores.data<T>(), labels.data<int32_t>(), correct.data<int32_t>());
    });
  });

  ops::sgd_step.define(B, [](const SgdConfig& cfg, Tensor& param, const Tensor& grad, Tensor& velocity) {
    const char* op = "sgd_step";
    const bool momentum = cfg.momentum != 0;
    by_float_type(param, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::sgd_step<T>(param.numel(), cfg, param.data<T>(), grad.data<T>(), momentum ? velocity.data<T>() : nullptr);
    });
  });
  ops::adam_step.define(B, [](const AdamConfig& cfg, int64_t step, Tensor& param, const Tensor& grad, Tensor& m,
                              Tensor& v) {
    const char* op = "adam_step";
    by_float_type(param, op, [&](auto tag) {
      using T = decltype(tag);
      cuda::adam_step<T>(param.numel(), cfg, step, param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>());
    });
  });
}

}  // namespace quill
