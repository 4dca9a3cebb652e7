// Batch normalisation through cuDNN: x [n, c, (h, w)] is described as n x c x hw x 1, in SPATIAL mode
// (statistics per channel over n and hw); a 2-D x [n, c] uses PER_ACTIVATION, the same statistics there.
// cuDNN's conventions already match Quill's: the running averages are r = (1 - factor) r + factor * batch
// with factor = momentum, the running variance is the unbiased batch variance, and the saved
// "inverse variance" is 1 / sqrt(var + eps), Quill's save_invstd. cuDNN requires eps >= CUDNN_BN_MIN_EPSILON;
// a smaller eps throws NotSupported (the binding then runs the custom kernel).
#include <string>

#include "kernels/binding.h"
#include "kernels/cudnn/cudnn_check.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "kernels/cudnn/handle.h"

namespace quill::cudnn {
namespace {

// The descriptors of x and of the per-channel tensors (gamma, beta, statistics).
struct BatchNormProblem {
  BatchNormProblem(const Tensor& x, const Tensor& gamma, const char* op)
      : layout(binding::channel_layout(x, gamma, op)),
        type(data_type(x.dtype(), op)),
        mode(layout.hw == 1 ? CUDNN_BATCHNORM_PER_ACTIVATION : CUDNN_BATCHNORM_SPATIAL),
        x(type, layout.n, layout.c, layout.hw, 1) {
    QUILL_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(per_channel.get(), this->x.get(), mode));
  }
  binding::ChannelLayout layout;
  cudnnDataType_t type;
  cudnnBatchNormMode_t mode;
  TensorDesc x;
  TensorDesc per_channel;
};

void check_eps(double eps, const char* op) {
  if (eps < CUDNN_BN_MIN_EPSILON)
    throw NotSupported(std::string(op) + ": eps " + std::to_string(eps) + " is below cuDNN's minimum " +
                       std::to_string(CUDNN_BN_MIN_EPSILON));
}

}  // namespace

void batchnorm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                             Tensor& y, Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                             Tensor& running_var) {
  const char* op = "batchnorm_forward_train";
  check_eps(eps, op);
  const BatchNormProblem p(x, gamma, op);
  QUILL_CHECK(int64_t(p.layout.n) * p.layout.hw > 1, op, ": need more than one value per channel (n*h*w = ",
              int64_t(p.layout.n) * p.layout.hw, ")");
  QUILL_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      handle(), p.mode, one(p.type), zero(p.type), p.x.get(), x.raw(), p.x.get(), y.raw(), p.per_channel.get(),
      gamma.raw(), beta.raw(), momentum, running_mean.raw(), running_var.raw(), eps, save_mean.raw(),
      save_invstd.raw()));
}

void batchnorm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                            const Tensor& running_var, double eps, Tensor& y) {
  const char* op = "batchnorm_forward_eval";
  check_eps(eps, op);
  const BatchNormProblem p(x, gamma, op);
  QUILL_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      handle(), p.mode, one(p.type), zero(p.type), p.x.get(), x.raw(), p.x.get(), y.raw(), p.per_channel.get(),
      gamma.raw(), beta.raw(), running_mean.raw(), running_var.raw(), eps));
}

// The op does not carry eps: with the saved mean and inverse deviation given, cuDNN does not recompute
// them, so any valid eps (its minimum) will do.
void batchnorm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& save_mean,
                        const Tensor& save_invstd, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  const BatchNormProblem p(x, gamma, "batchnorm_backward");
  QUILL_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      handle(), p.mode, one(p.type), zero(p.type), one(p.type), zero(p.type), p.x.get(), x.raw(), p.x.get(),
      dy.raw(), p.x.get(), dx.raw(), p.per_channel.get(), gamma.raw(), dgamma.raw(), dbeta.raw(),
      CUDNN_BN_MIN_EPSILON, save_mean.raw(), save_invstd.raw()));
}

}  // namespace quill::cudnn
