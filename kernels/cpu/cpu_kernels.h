#pragma once
// CPU reference kernels. Raw pointers over dense NCHW buffers; T is float or double.
// Every function overwrites its outputs (no accumulation) and gives bit-identical results whatever
// the number of OpenMP threads: reductions are split at fixed points, never by thread count.
#include <cstdint>

#include "runtime/geometry.h"

namespace quill::cpu {

// C[M x N] = alpha * op(A) * op(B) + beta * C, row-major; op(A) is M x K, op(B) is K x N.
// lda/ldb/ldc are the row strides of A, B, C as stored (before the transpose).
template <class T>
void gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
          T beta, T* c, int ldc);

// ---- convolution (im2col + gemm, the whole batch) ----
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias /*nullable*/, T* y);
template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx);
// dw[k][c][r][s] and dbias[k] (nullable), summed over the batch.
template <class T>
void conv2d_backward_weights(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* dbias);

// ---- pooling ----
// argmax[i] holds the flat index (within its n,c plane: ih * w + iw) of the maximum of window i.
template <class T>
void maxpool_forward(const PoolGeometry& g, const T* x, T* y, int32_t* argmax);
template <class T>
void maxpool_backward(const PoolGeometry& g, const T* dy, const int32_t* argmax, T* dx);
// Average over the window's elements inside the image (padding is not counted).
template <class T>
void avgpool_forward(const PoolGeometry& g, const T* x, T* y);
template <class T>
void avgpool_backward(const PoolGeometry& g, const T* dy, T* dx);

// ---- element-wise ----
// alpha is the negative slope of LeakyRelu (ignored otherwise).
template <class T>
void activation_forward(Activation act, double alpha, int64_t n, const T* x, T* y);
// Uses x (the input) and y (the output), whichever is cheaper for the activation.
template <class T>
void activation_backward(Activation act, double alpha, int64_t n, const T* x, const T* y, const T* dy, T* dx);
template <class T>
void add(int64_t n, const T* a, const T* b, T* y);
// Inverted dropout: keep with probability 1-p and scale by 1/(1-p). The keep decision for element i is
// random_uniform(seed, stream, i) >= p (runtime/rng.h), so backward recomputes it and no mask is stored.
template <class T>
void dropout_forward(int64_t n, double p, uint64_t seed, uint64_t stream, const T* x, T* y);
template <class T>
void dropout_backward(int64_t n, double p, uint64_t seed, uint64_t stream, const T* dy, T* dx);

// ---- fully connected: y[n][out] = x[n][in] * w[out][in]^T + b[out] ----
template <class T>
void dense_forward(int n, int in, int out, const T* x, const T* w, const T* b /*nullable*/, T* y);
// dx may be null (first layer); db may be null.
template <class T>
void dense_backward(int n, int in, int out, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db);

// ---- batch normalisation over (N, H*W) per channel ----
// Training: normalises with the batch statistics, saves mean and 1/sqrt(var+eps) for backward, and
// updates running_mean/var as r = (1-momentum) r + momentum * batch (running_var uses the unbiased variance).
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

// ---- softmax cross-entropy, mean over the batch ----
// logits[n][c], labels in [0, c). With label smoothing s the target is (1-s) one-hot + s/c.
// Writes probs[n][c] (kept for backward) and returns the mean loss.
template <class T>
double softmax_xent_forward(int n, int c, const T* logits, const int32_t* labels, double smoothing, T* probs);
// dlogits = (probs - target) / n
template <class T>
void softmax_xent_backward(int n, int c, const T* probs, const int32_t* labels, double smoothing, T* dlogits);

// ---- optimizers, in place over flat buffers ----
// SGD (PyTorch convention): g = grad + wd*param; v = momentum*v + g; step = nesterov ? g + momentum*v : v;
// param -= lr * step.
template <class T>
void sgd_step(int64_t n, const SgdConfig& cfg, T* param, const T* grad, T* velocity);
// Adam step number t (1-based), bias-corrected. Adam: g = grad + wd*param. AdamW: param *= 1 - lr*wd first.
template <class T>
void adam_step(int64_t n, const AdamConfig& cfg, int64_t t, T* param, const T* grad, T* m, T* v);
// adam_step with its bias corrections 1 - beta1^t and 1 - beta2^t given instead of t (what a step replayed
// from a CUDA graph reads from memory, runtime/step_values.h); adam_step computes them and calls this.
template <class T>
void adam_step_corrected(int64_t n, const AdamConfig& cfg, double correction1, double correction2, T* param,
                         const T* grad, T* m, T* v);

}  // namespace quill::cpu
