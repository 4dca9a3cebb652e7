// ReLU, tanh and sigmoid through cuDNN, on the tensor as NCHW (missing dimensions 1). LeakyRelu has no
// cuDNN mode with Quill's semantics (CUDNN_ACTIVATION_CLIPPED_RELU and ELU differ): the binding runs the
// custom kernel for it (register_cudnn.cpp), and asked here it throws NotSupported.
#include <string>

#include "kernels/cudnn/cudnn_check.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "kernels/cudnn/handle.h"

namespace quill::cudnn {
namespace {

cudnnActivationMode_t mode_of(Activation act, const char* op) {
  switch (act) {
    case Activation::Relu: return CUDNN_ACTIVATION_RELU;
    case Activation::Tanh: return CUDNN_ACTIVATION_TANH;
    case Activation::Sigmoid: return CUDNN_ACTIVATION_SIGMOID;
    default: throw NotSupported(std::string(op) + ": no cuDNN activation mode for this activation");
  }
}

}  // namespace

void activation_forward(Activation act, const Tensor& x, Tensor& y) {
  const cudnnDataType_t t = data_type(x.dtype(), "activation_forward");
  const ActivationDesc desc(mode_of(act, "activation_forward"), 0.0);
  const TensorDesc xd(x, t);
  QUILL_CUDNN_CHECK(cudnnActivationForward(handle(), desc.get(), one(t), xd.get(), x.raw(), zero(t), xd.get(),
                                           y.raw()));
}

void activation_backward(Activation act, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) {
  const cudnnDataType_t t = data_type(x.dtype(), "activation_backward");
  const ActivationDesc desc(mode_of(act, "activation_backward"), 0.0);
  const TensorDesc xd(x, t);
  QUILL_CUDNN_CHECK(cudnnActivationBackward(handle(), desc.get(), one(t), xd.get(), y.raw(), xd.get(), dy.raw(),
                                            xd.get(), x.raw(), zero(t), xd.get(), dx.raw()));
}

}  // namespace quill::cudnn
