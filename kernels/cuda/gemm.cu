// General matrix product on the shared tiled core (matrix_gemm.cuh); the transposes only change how the
// tiles are gathered.
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/matrix_gemm.cuh"

namespace quill::cuda {

template <class T>
void gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
          T beta, T* c, int ldc, Math math) {
  QUILL_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size ", m, "x", n, "x", k);
  if (trans_a && trans_b)
    launch_gemm_problem<T>(math, matrix_problem<T, true, true>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
  else if (trans_a)
    launch_gemm_problem<T>(math, matrix_problem<T, true, false>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
  else if (trans_b)
    launch_gemm_problem<T>(math, matrix_problem<T, false, true>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
  else
    launch_gemm_problem<T>(math, matrix_problem<T, false, false>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

template void gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*,
                          int, Math);
template void gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double,
                           double*, int, Math);

}  // namespace quill::cuda
