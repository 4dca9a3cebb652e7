// Binds the cuDNN backend to the ops of runtime/ops.h. Every op has a Backend::Cudnn implementation:
// convolution, average pooling, ReLU/tanh/sigmoid and batch normalisation go through cuDNN; the rest
// (max pooling with its argmax, LeakyRelu, dense, dropout, add, fill, the loss, count_correct, optimizers)
// run the CUDA backend's implementation from the registry, and so does any configuration cuDNN reports as
// not supported, counted on the op (OpBase::fallbacks) and said on stderr once per op and reason
// (fallback.h). A cuDNN that cannot run on the machine at all is an error, never a fallback.
//
// The ops capture one Context: the settings store (settings.h) they read at each call and the
// convolution algorithm cache.
#include <memory>
#include <string>
#include <utility>

#include "kernels/backends.h"
#include "kernels/binding.h"
#include "kernels/cudnn/cudnn_check.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "kernels/cudnn/fallback.h"
#include "kernels/cudnn/settings.h"
#include "runtime/ops.h"

namespace quill {
namespace {

using namespace binding;
constexpr Backend B = Backend::Cudnn;

struct Context {
  std::shared_ptr<cudnn::SettingsStore> settings;
  cudnn::ConvAlgoCache conv_algos;
};

// Runs the cuDNN path; where cuDNN has no kernel for the configuration, notes it and runs the custom one.
template <class Describe, class CudnnPath, class CustomPath>
void cudnn_or_custom(const OpBase& op, Describe&& describe, CudnnPath&& cudnn_path, CustomPath&& custom_path) {
  try {
    cudnn_path();
  } catch (const cudnn::NotSupported& e) {
    op.count_fallback(B);
    cudnn::note_fallback(op.name(), describe(), e.what());
    custom_path();
  }
}

void define_convolution(const std::shared_ptr<Context>& ctx) {
  ops::conv2d_forward.define(B, [ctx](const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* b,
                                      Tensor& y) {
    cudnn_or_custom(
        ops::conv2d_forward, [&] { return cudnn::describe(g); },
        [&] { cudnn::conv_forward(ctx->settings->get(), ctx->conv_algos, g, x, w, b, y); },
        [&] { ops::conv2d_forward(Backend::Cuda, g, x, w, b, y); });
  });
  ops::conv2d_backward_data.define(B, [ctx](const ConvGeometry& g, const Tensor& dy, const Tensor& w, Tensor& dx) {
    cudnn_or_custom(
        ops::conv2d_backward_data, [&] { return cudnn::describe(g); },
        [&] { cudnn::conv_backward_data(ctx->settings->get(), ctx->conv_algos, g, dy, w, dx); },
        [&] { ops::conv2d_backward_data(Backend::Cuda, g, dy, w, dx); });
  });
  ops::conv2d_backward_weights.define(B, [ctx](const ConvGeometry& g, const Tensor& x, const Tensor& dy, Tensor& dw,
                                               Tensor* db) {
    cudnn_or_custom(
        ops::conv2d_backward_weights, [&] { return cudnn::describe(g); },
        [&] { cudnn::conv_backward_filter(ctx->settings->get(), ctx->conv_algos, g, x, dy, dw, db); },
        [&] { ops::conv2d_backward_weights(Backend::Cuda, g, x, dy, dw, db); });
  });
}

void define_pooling() {
  // Max pooling keeps Quill's argmax convention (pool.cpp says why): the CUDA backend's kernels, given with the
  // other ops cuDNN lacks at the end of register_cudnn_ops.
  ops::avgpool_forward.define(B, [](const PoolGeometry& g, const Tensor& x, Tensor& y) {
    cudnn_or_custom(
        ops::avgpool_forward, [&] { return cudnn::describe(g); }, [&] { cudnn::avgpool_forward(g, x, y); },
        [&] { ops::avgpool_forward(Backend::Cuda, g, x, y); });
  });
  ops::avgpool_backward.define(B, [](const PoolGeometry& g, const Tensor& dy, Tensor& dx) {
    cudnn_or_custom(
        ops::avgpool_backward, [&] { return cudnn::describe(g); }, [&] { cudnn::avgpool_backward(g, dy, dx); },
        [&] { ops::avgpool_backward(Backend::Cuda, g, dy, dx); });
  });
}

void define_activations() {
  // cuDNN has no leaky ReLU: the custom kernel by design, like the ops given at the end of register_cudnn_ops.
  ops::activation_forward.define(B, [](Activation act, double alpha, const Tensor& x, Tensor& y) {
    if (act == Activation::LeakyRelu) return ops::activation_forward(Backend::Cuda, act, alpha, x, y);
    cudnn_or_custom(
        ops::activation_forward, [&] { return cudnn::describe(x); }, [&] { cudnn::activation_forward(act, x, y); },
        [&] { ops::activation_forward(Backend::Cuda, act, alpha, x, y); });
  });
  ops::activation_backward.define(B, [](Activation act, double alpha, const Tensor& x, const Tensor& y,
                                        const Tensor& dy, Tensor& dx) {
    if (act == Activation::LeakyRelu) return ops::activation_backward(Backend::Cuda, act, alpha, x, y, dy, dx);
    cudnn_or_custom(
        ops::activation_backward, [&] { return cudnn::describe(x); },
        [&] { cudnn::activation_backward(act, x, y, dy, dx); },
        [&] { ops::activation_backward(Backend::Cuda, act, alpha, x, y, dy, dx); });
  });
}

void define_batchnorm() {
  ops::batchnorm_forward_train.define(B, [](const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                                            double momentum, Tensor& y, Tensor& save_mean, Tensor& save_invstd,
                                            Tensor& running_mean, Tensor& running_var) {
    cudnn_or_custom(
        ops::batchnorm_forward_train, [&] { return cudnn::describe(x); },
        [&] {
          cudnn::batchnorm_forward_train(x, gamma, beta, eps, momentum, y, save_mean, save_invstd, running_mean,
                                         running_var);
        },
        [&] {
          ops::batchnorm_forward_train(Backend::Cuda, x, gamma, beta, eps, momentum, y, save_mean, save_invstd,
                                       running_mean, running_var);
        });
  });
  ops::batchnorm_forward_eval.define(B, [](const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                           const Tensor& running_mean, const Tensor& running_var, double eps,
                                           Tensor& y) {
    cudnn_or_custom(
        ops::batchnorm_forward_eval, [&] { return cudnn::describe(x); },
        [&] { cudnn::batchnorm_forward_eval(x, gamma, beta, running_mean, running_var, eps, y); },
        [&] { ops::batchnorm_forward_eval(Backend::Cuda, x, gamma, beta, running_mean, running_var, eps, y); });
  });
  ops::batchnorm_backward.define(B, [](const Tensor& x, const Tensor& dy, const Tensor& gamma,
                                       const Tensor& save_mean, const Tensor& save_invstd, Tensor& dx,
                                       Tensor& dgamma, Tensor& dbeta) {
    cudnn_or_custom(
        ops::batchnorm_backward, [&] { return cudnn::describe(x); },
        [&] { cudnn::batchnorm_backward(x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta); },
        [&] { ops::batchnorm_backward(Backend::Cuda, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta); });
  });
}

}  // namespace

void register_cudnn_ops() {
  auto ctx = std::make_shared<Context>();
  ctx->settings = cudnn::backend_settings();
  define_convolution(ctx);
  define_pooling();
  define_activations();
  define_batchnorm();
  // Every other op runs the CUDA backend's implementation, by design (neither logged nor counted): cuDNN has
  // no kernels with their semantics (max pooling with Quill's argmax, dense, dropout, add, fill, the loss,
  // which needs its own reduction and label smoothing, count_correct, the optimizers, the replayed step's
  // *_indirect ops and accumulate_loss), and so does a new op, with no line here.
  define_missing_as(B, Backend::Cuda);
}

}  // namespace quill
