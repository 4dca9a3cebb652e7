// Inverted dropout. The keep decision for element i is random_uniform(seed, stream, i) >= p, the same
// counter-based Philox draw as the CPU reference (runtime/rng.h), so backward recomputes the mask and
// the two backends drop exactly the same elements.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "runtime/rng.h"

namespace quill::cuda {
namespace {

// y = keep(i) ? x * scale : 0; forward and backward are the same map (dx from dy).
template <class T>
__global__ void dropout_kernel(int64_t n, double p, T scale, uint64_t seed, uint64_t stream, const T* x, T* y) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    const bool keep = random_uniform(seed, stream, static_cast<uint64_t>(i)) >= p;
    y[i] = keep ? x[i] * scale : T(0);
  }
}

template <class T>
void launch_dropout(int64_t n, double p, uint64_t seed, uint64_t stream_id, const T* x, T* y, const char* op) {
  QUILL_CHECK(p >= 0.0 && p < 1.0, op, ": drop probability ", p, " must be in [0, 1)");
  if (n == 0) return;
  const T scale = T(1.0 / (1.0 - p));
  dropout_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(n, p, scale, seed, stream_id, x, y);
  QUILL_CUDA_CHECK_LAUNCH();
}

}  // namespace

template <class T>
void dropout_forward(int64_t n, double p, uint64_t seed, uint64_t stream_id, const T* x, T* y) {
  launch_dropout(n, p, seed, stream_id, x, y, "dropout_forward");
}

template <class T>
void dropout_backward(int64_t n, double p, uint64_t seed, uint64_t stream_id, const T* dy, T* dx) {
  launch_dropout(n, p, seed, stream_id, dy, dx, "dropout_backward");
}

template void dropout_forward<float>(int64_t, double, uint64_t, uint64_t, const float*, float*);
template void dropout_forward<double>(int64_t, double, uint64_t, uint64_t, const double*, double*);
template void dropout_backward<float>(int64_t, double, uint64_t, uint64_t, const float*, float*);
template void dropout_backward<double>(int64_t, double, uint64_t, uint64_t, const double*, double*);

}  // namespace quill::cuda
