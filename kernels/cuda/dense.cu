// Fully connected layer on the shared tiled GEMM core:
//   forward  y[n][out]  = x[n][in] * w[out][in]^T (+ b[out], added in the GEMM's store)
//   backward dx[n][in]  = dy[n][out] * w[out][in]
//            dw[out][in] = dy[n][out]^T * x[n][in]   (the batch is the GEMM's reduction: one block per
//                                                    tile of dw sums it in order, so it is deterministic)
//            db[out]    = column sums of dy, one thread per column, rows in order.
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/gemm_tiles.cuh"

namespace quill::cuda {
namespace {

template <class T>
struct BiasStore {  // y[m][n] = value + b[n]
  T* y;
  const T* b;
  int ld;
  __host__ __device__ void operator()(int m, int n, int, T value) const {
    y[int64_t(m) * ld + n] = b != nullptr ? value + b[n] : value;
  }
};

template <class T>
__global__ void column_sums_kernel(int rows, int cols, const T* a, T* sums) {
  for (int64_t j = grid_index(); j < cols; j += grid_stride()) {
    double sum = 0;
    for (int i = 0; i < rows; ++i) sum += a[int64_t(i) * cols + j];
    sums[j] = T(sum);
  }
}

void check_sizes(int n, int in, int out, const char* op) {
  QUILL_CHECK(n > 0 && in > 0 && out > 0, op, ": sizes must be positive (n=", n, " in=", in, " out=", out, ")");
}

}  // namespace

template <class T>
void dense_forward(int n, int in, int out, const T* x, const T* w, const T* b, T* y, Math math) {
  check_sizes(n, in, out, "dense_forward");
  launch_gemm_tiles<T>(math, n, out, in, no_split(in), MatrixA<T, false>{x, in}, MatrixB<T, true>{w, in},
                       BiasStore<T>{y, b, out});
}

template <class T>
void dense_backward(int n, int in, int out, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, Math math) {
  check_sizes(n, in, out, "dense_backward");
  if (dx != nullptr) gemm<T>(false, false, n, in, out, T(1), dy, out, w, in, T(0), dx, in, math);
  gemm<T>(true, false, out, in, n, T(1), dy, out, x, in, T(0), dw, in, math);
  if (db != nullptr) {
    column_sums_kernel<T><<<blocks_for(out), kThreads, 0, stream()>>>(n, out, dy, db);
    QUILL_CUDA_CHECK_LAUNCH();
  }
}

template void dense_forward<float>(int, int, int, const float*, const float*, const float*, float*, Math);
template void dense_forward<double>(int, int, int, const double*, const double*, const double*, double*, Math);
template void dense_backward<float>(int, int, int, const float*, const float*, const float*, float*, float*,
                                    float*, Math);
template void dense_backward<double>(int, int, int, const double*, const double*, const double*, double*,
                                     double*, double*, Math);

}  // namespace quill::cuda
