// General matrix product on the shared tiled core (gemm_tiles.cuh); the transposes only change how the
// tiles are gathered.
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/gemm_tiles.cuh"

namespace quill::cuda {
namespace {

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

template <class T, bool TransA, bool TransB>
void gemm_with(Math math, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c,
               int ldc) {
  launch_gemm_tiles<T>(math, m, n, k, no_split(k), MatrixA<T, TransA>{a, lda}, MatrixB<T, TransB>{b, ldb},
                       ScaledStore<T>{c, ldc, alpha, beta});
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
          T beta, T* c, int ldc, Math math) {
  QUILL_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size ", m, "x", n, "x", k);
  if (trans_a && trans_b)
    gemm_with<T, true, true>(math, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else if (trans_a)
    gemm_with<T, true, false>(math, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else if (trans_b)
    gemm_with<T, false, true>(math, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    gemm_with<T, false, false>(math, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*,
                          int, Math);
template void gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double,
                           double*, int, Math);

}  // namespace quill::cuda
