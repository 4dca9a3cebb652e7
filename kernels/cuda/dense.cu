// Fully connected layer: the three passes of matrix_gemm.cuh on the shared tiled GEMM core, and the bias
// gradient db[out] = column sums of dy, one thread per column, rows in order (deterministic).
#include "kernels/binding.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/matrix_gemm.cuh"
#include "runtime/ops.h"

namespace quill::cuda {
namespace {

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
  launch_gemm_problem<T>(math, dense::forward_problem(n, in, out, x, w, b, y));
}

template <class T>
void dense_backward(int n, int in, int out, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, Math math) {
  check_sizes(n, in, out, "dense_backward");
  if (dx != nullptr) launch_gemm_problem<T>(math, dense::backward_data_problem(n, in, out, dy, w, dx));
  launch_gemm_problem<T>(math, dense::backward_weights_problem(n, in, out, x, dy, dw));
  if (db != nullptr) {
    launch(column_sums_kernel<T>, blocks_for(out), kThreads, 0, stream(), n, out, dy, db);
  }
}

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_dense_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  // The math mode of each call's matrix products, from the store a program switches (settings.h).
  auto math = [settings = backend_settings()] { return settings->get().math(); };
  bind_dense(ops::dense_forward, B, [math](auto t, DenseSizes s, auto... a) {
    dense_forward<decltype(t)>(s.n, s.in, s.out, a..., math());
  });
  bind_dense(ops::dense_backward, B, [math](auto t, DenseSizes s, auto... a) {
    dense_backward<decltype(t)>(s.n, s.in, s.out, a..., math());
  });
}

}  // namespace quill::cuda
