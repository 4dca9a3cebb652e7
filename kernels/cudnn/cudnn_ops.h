#pragma once
// The ops cuDNN implements, over CUDA tensors whose shapes the binding has checked. Each throws
// NotSupported (cudnn_check.h) when cuDNN has no kernel for the configuration; the binding then runs the
// custom CUDA kernel instead. Outputs are overwritten (cuDNN's beta = 0), as the ops require.
#include "kernels/cudnn/conv_algo.h"
#include "kernels/cudnn/settings.h"
#include "runtime/geometry.h"
#include "runtime/tensor.h"

namespace quill::cudnn {

// ---- convolution (conv.cpp); the algorithm comes from the cache, searched on first use ----
void conv_forward(const Settings& s, ConvAlgoCache& cache, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                  const Tensor* bias, Tensor& y);
void conv_backward_data(const Settings& s, ConvAlgoCache& cache, const ConvGeometry& g, const Tensor& dy,
                        const Tensor& w, Tensor& dx);
void conv_backward_filter(const Settings& s, ConvAlgoCache& cache, const ConvGeometry& g, const Tensor& x,
                          const Tensor& dy, Tensor& dw, Tensor* dbias);

// ---- average pooling, padding excluded from the count (pool.cpp) ----
void avgpool_forward(const PoolGeometry& g, const Tensor& x, Tensor& y);
void avgpool_backward(const PoolGeometry& g, const Tensor& dy, Tensor& dx);

// ---- ReLU, tanh, sigmoid (activation.cpp); LeakyRelu throws NotSupported ----
void activation_forward(Activation act, const Tensor& x, Tensor& y);
void activation_backward(Activation act, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx);

// ---- batch normalisation per channel of x [n, c, (h, w)] (batchnorm.cpp) ----
void batchnorm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                             Tensor& y, Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                             Tensor& running_var);
void batchnorm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                            const Tensor& running_var, double eps, Tensor& y);
void batchnorm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& save_mean,
                        const Tensor& save_invstd, Tensor& dx, Tensor& dgamma, Tensor& dbeta);

}  // namespace quill::cudnn
