// Inverted dropout. The keep decision for element i is random_uniform(seed, stream, i) >= p, the same
// counter-based Philox draw as the CPU reference (runtime/rng.h), so backward recomputes the mask and
// the two backends drop exactly the same elements.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/step_kernels.h"
#include "runtime/step_values.h"
#include "runtime/rng.h"

namespace quill::cuda {
namespace {

// y = keep(i) ? x * scale : 0; forward and backward are the same map (dx from dy). With step_values (a step
// replayed from a CUDA graph) the stream is dropout_stream(step read from them, stream): one kernel for
// both paths, so they draw the same masks.
template <class T>
__global__ void dropout_kernel(int64_t n, double p, T scale, uint64_t seed, uint64_t stream,
                               const double* step_values, const T* x, T* y) {
  if (step_values != nullptr) stream = dropout_stream(static_cast<uint64_t>(step_values[kStepNumber]), stream);
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    const bool keep = random_uniform(seed, stream, static_cast<uint64_t>(i)) >= p;
    y[i] = keep ? x[i] * scale : T(0);
  }
}

template <class T>
void launch_dropout(int64_t n, double p, uint64_t seed, uint64_t stream_id, const double* step_values, const T* x,
                    T* y, const char* op) {
  QUILL_CHECK(p >= 0.0 && p < 1.0, op, ": drop probability ", p, " must be in [0, 1)");
  if (n == 0) return;
  const T scale = T(1.0 / (1.0 - p));
  launch(dropout_kernel<T>, blocks_for(n), kThreads, 0, stream(), n, p, scale, seed, stream_id, step_values, x, y);
}

}  // namespace

template <class T>
void dropout_forward(int64_t n, double p, uint64_t seed, uint64_t stream_id, const T* x, T* y) {
  launch_dropout(n, p, seed, stream_id, nullptr, x, y, "dropout_forward");
}

template <class T>
void dropout_backward(int64_t n, double p, uint64_t seed, uint64_t stream_id, const T* dy, T* dx) {
  launch_dropout(n, p, seed, stream_id, nullptr, dy, dx, "dropout_backward");
}

template <class T>
void dropout_indirect(int64_t n, double p, uint64_t seed, uint64_t node, const double* step_values, const T* x, T* y) {
  launch_dropout(n, p, seed, node, step_values, x, y, "dropout_indirect");
}

template void dropout_forward<float>(int64_t, double, uint64_t, uint64_t, const float*, float*);
template void dropout_forward<double>(int64_t, double, uint64_t, uint64_t, const double*, double*);
template void dropout_backward<float>(int64_t, double, uint64_t, uint64_t, const float*, float*);
template void dropout_backward<double>(int64_t, double, uint64_t, uint64_t, const double*, double*);
template void dropout_indirect<float>(int64_t, double, uint64_t, uint64_t, const double*, const float*, float*);
template void dropout_indirect<double>(int64_t, double, uint64_t, uint64_t, const double*, const double*, double*);

}  // namespace quill::cuda
