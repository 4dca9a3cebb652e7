#pragma once
// The CUDA kernels' host entry points, over raw device pointers; T is float or double. Same contracts as
// kernels/cpu/cpu_kernels.h (outputs overwritten, never accumulated). Each call queues its kernels on
// quill::cuda::stream() and returns without waiting. Every reduction has a fixed order: two runs on the
// same device give identical bits.
//
// The matrix products (gemm, the convolutions, dense) take a Math (kernels/cuda/settings.h): Math::Fp32 is
// strict float32; Math::Tf32 runs float on TF32 tensor cores where the kernels were compiled for sm_80+.
// float64 ignores it. The op bindings pass the backend's setting; direct callers get strict float32.
#include <cstdint>

#include "kernels/cuda/settings.h"
#include "runtime/geometry.h"

namespace quill::cuda {

// C[M x N] = alpha * op(A) * op(B) + beta * C, row-major; lda/ldb/ldc are the row strides as stored.
// C is not read when beta == 0.
template <class T>
void gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
          T beta, T* c, int ldc, Math math = Math::Fp32);

// ---- convolution, implicit GEMM over the whole batch ----
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias /*nullable*/, T* y,
                    Math math = Math::Fp32);
template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx, Math math = Math::Fp32);
template <class T>
void conv2d_backward_weights(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* dbias /*nullable*/,
                             Math math = Math::Fp32);

// ---- pooling ----
template <class T>
void maxpool_forward(const PoolGeometry& g, const T* x, T* y, int32_t* argmax);
template <class T>
void maxpool_backward(const PoolGeometry& g, const T* dy, const int32_t* argmax, T* dx);
template <class T>
void avgpool_forward(const PoolGeometry& g, const T* x, T* y);
template <class T>
void avgpool_backward(const PoolGeometry& g, const T* dy, T* dx);

// ---- element-wise ----
template <class T>
void activation_forward(Activation act, double alpha, int64_t n, const T* x, T* y);
template <class T>
void activation_backward(Activation act, double alpha, int64_t n, const T* x, const T* y, const T* dy, T* dx);
template <class T>
void add(int64_t n, const T* a, const T* b, T* y);
template <class T>
void fill(int64_t n, T value, T* y);  // T may also be int32_t
template <class T>
void dropout_forward(int64_t n, double p, uint64_t seed, uint64_t stream, const T* x, T* y);
template <class T>
void dropout_backward(int64_t n, double p, uint64_t seed, uint64_t stream, const T* dy, T* dx);

// ---- fully connected ----
template <class T>
void dense_forward(int n, int in, int out, const T* x, const T* w, const T* b /*nullable*/, T* y,
                   Math math = Math::Fp32);
template <class T>
void dense_backward(int n, int in, int out, const T* x, const T* w, const T* dy, T* dx /*nullable*/, T* dw,
                    T* db /*nullable*/, Math math = Math::Fp32);

// ---- batch normalisation ----
template <class T>
void batchnorm_forward_train(int n, int c, int hw, const T* x, const T* gamma, const T* beta, double eps,
                             double momentum, T* y, T* save_mean, T* save_invstd, T* running_mean,
                             T* running_var);
template <class T>
void batchnorm_forward_eval(int n, int c, int hw, const T* x, const T* gamma, const T* beta,
                            const T* running_mean, const T* running_var, double eps, T* y);
template <class T>
void batchnorm_backward(int n, int c, int hw, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta);

// ---- softmax cross-entropy; loss is a device pointer to one element (the batch mean) ----
// A label outside [0, c) makes its row's loss, and so the mean, NaN (checking on the host would cost a copy).
template <class T>
void softmax_xent_forward(int n, int c, const T* logits, const int32_t* labels, double smoothing, T* probs,
                          T* loss);
template <class T>
void softmax_xent_backward(int n, int c, const T* probs, const int32_t* labels, double smoothing, T* dlogits);
// correct[0] = number of rows whose first maximum is at the label.
template <class T>
void count_correct(int n, int c, const T* scores, const int32_t* labels, int32_t* correct);

// ---- optimizers, one fused kernel over the flat buffers ----
template <class T>
void sgd_step(int64_t n, const SgdConfig& cfg, T* param, const T* grad, T* velocity /*null if no momentum*/);
template <class T>
void adam_step(int64_t n, const AdamConfig& cfg, int64_t t, T* param, const T* grad, T* m, T* v);

}  // namespace quill::cuda
