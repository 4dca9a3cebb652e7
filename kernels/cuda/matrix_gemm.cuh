#pragma once
// Products of plain row-major matrices as GEMM problems for the tiled core (GemmProblem, gemm_tiles.cuh):
// the general gemm (kernels/cuda/gemm.cu) and the fully connected layer's three passes
// (kernels/cuda/dense.cu). tests/test_cuda_index_maps.cu multiplies the same problems on the host against the
// CPU reference, so transposes, row strides and epilogues are checked without a GPU.
//
//   gemm:                     C[m][n]     = alpha * op(A) op(B) + beta * C
//   dense forward:            y[n][out]   = x[n][in] * w[out][in]^T (+ b[out], added in the store)
//   dense backward-data:      dx[n][in]   = dy[n][out] * w[out][in]
//   dense backward-weights:   dw[out][in] = dy[n][out]^T * x[n][in]  (the batch is the GEMM's reduction: one
//                                           block per tile of dw sums it in order, so it is deterministic)
#include "kernels/cuda/gemm_tiles.cuh"

namespace quill::cuda {

// C = alpha * product + beta * C; C is not read when beta is zero (it may hold garbage or NaN).
template <class T>
struct ScaledStore {
  T* c;
  int ldc;
  T alpha, beta;
  __host__ __device__ void operator()(int m, int n, int, T value) const {
    T* dst = c + int64_t(m) * ldc + n;
    *dst = beta == T(0) ? alpha * value : alpha * value + beta * *dst;
  }
};

// C[m][n] = value (+ b[n] when b is given).
template <class T>
struct RowStore {
  T* c;
  const T* b;
  int ldc;
  __host__ __device__ void operator()(int m, int n, int, T value) const {
    c[int64_t(m) * ldc + n] = b != nullptr ? value + b[n] : value;
  }
};

template <class T, bool TransA, bool TransB>
GemmProblem<MatrixA<T, TransA>, MatrixB<T, TransB>, ScaledStore<T>> matrix_problem(int m, int n, int k, T alpha,
                                                                                   const T* a, int lda, const T* b,
                                                                                   int ldb, T beta, T* c, int ldc) {
  const ScaledStore<T> store{c, ldc, alpha, beta};
  return {m, n, k, no_split(k), MatrixA<T, TransA>{a, lda}, MatrixB<T, TransB>{b, ldb}, store};
}

namespace dense {

template <class T>
GemmProblem<MatrixA<T, false>, MatrixB<T, true>, RowStore<T>> forward_problem(int n, int in, int out, const T* x,
                                                                              const T* w, const T* b, T* y) {
  return {n, out, in, no_split(in), MatrixA<T, false>{x, in}, MatrixB<T, true>{w, in}, RowStore<T>{y, b, out}};
}

template <class T>
GemmProblem<MatrixA<T, false>, MatrixB<T, false>, RowStore<T>> backward_data_problem(int n, int in, int out,
                                                                                     const T* dy, const T* w, T* dx) {
  const RowStore<T> store{dx, nullptr, in};
  return {n, in, out, no_split(out), MatrixA<T, false>{dy, out}, MatrixB<T, false>{w, in}, store};
}

template <class T>
GemmProblem<MatrixA<T, true>, MatrixB<T, false>, RowStore<T>> backward_weights_problem(int n, int in, int out,
                                                                                       const T* x, const T* dy, T* dw) {
  return {out, in, n, no_split(n), MatrixA<T, true>{dy, out}, MatrixB<T, false>{x, in}, RowStore<T>{dw, nullptr, in}};
}

}  // namespace dense
}  // namespace quill::cuda
