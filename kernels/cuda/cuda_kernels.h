#pragma once
// The CUDA kernels' host entry points that code outside their own file calls (the tests): the others are
// declared, defined and bound to their ops (runtime/ops.h) in their .cu file, and register_cuda.cpp names
// each file's bind function. All take raw device pointers; T is float or double. Same contracts as
// kernels/cpu/cpu_kernels.h (outputs overwritten, never accumulated). Each call queues its kernels on
// quill::cuda::stream() and returns without waiting. Every reduction has a fixed order: two runs on the
// same device give identical bits.
//
// The matrix products (gemm here; the convolutions and dense in their files) take a Math
// (kernels/cuda/settings.h): Math::Fp32 is strict float32; Math::Tf32 runs float on TF32 tensor cores where the
// kernels were compiled for sm_80+. float64 ignores it. The op bindings pass the backend's setting; direct
// callers of gemm get strict float32.
#include <cstdint>

#include "kernels/cuda/settings.h"
#include "runtime/geometry.h"

namespace quill::cuda {

// C[M x N] = alpha * op(A) * op(B) + beta * C, row-major; lda/ldb/ldc are the row strides as stored.
// C is not read when beta == 0.
template <class T>
void gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
          T beta, T* c, int ldc, Math math = Math::Fp32);

// ---- batch normalisation (batchnorm.cu) ----
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

}  // namespace quill::cuda
