// Inverted dropout. The keep decision for element i is random_uniform(seed, stream, i) >= p, the same
// counter-based Philox draw as the CPU reference (runtime/rng.h), so backward recomputes the mask and
// the two backends drop exactly the same elements.
#include "kernels/binding.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "runtime/step_values.h"
#include "runtime/rng.h"
#include "runtime/ops.h"

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

// Dropout (forward, and backward, which is the same map) with stream dropout_stream(step, node), the step
// read from step_values (runtime/step_values.h) when the kernel runs: the op of a replayed CUDA graph.
template <class T>
void dropout_indirect(int64_t n, double p, uint64_t seed, uint64_t node, const double* step_values, const T* x, T* y) {
  launch_dropout(n, p, seed, node, step_values, x, y, "dropout_indirect");
}

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_dropout_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  bind_flat(ops::dropout_forward, B, [](auto t, auto... a) { dropout_forward<decltype(t)>(a...); });
  bind_flat(ops::dropout_backward, B, [](auto t, auto... a) { dropout_backward<decltype(t)>(a...); });
  // Forward and backward apply the same mask, to x or to dy: one binding for both.
  auto indirect = [](const char* op) {
    return [op](double p, uint64_t seed, uint64_t node, const Tensor& values, const Tensor& in, Tensor& out) {
      const double* k = step_values_of(values, op);
      by_float_type(in, op, [&](auto tag) {
        using T = decltype(tag);
        dropout_indirect<T>(in.numel(), p, seed, node, k, in.data<T>(), out.data<T>());
      });
    };
  };
  ops::dropout_forward_indirect.define(B, indirect("dropout_forward_indirect"));
  ops::dropout_backward_indirect.define(B, indirect("dropout_backward_indirect"));
}

}  // namespace quill::cuda
