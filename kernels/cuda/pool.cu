// Max and average pooling: one thread per output element forward, one thread per input element backward,
// each running one element function of pool_elements.cuh.
#include "kernels/binding.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/pool_elements.cuh"
#include "runtime/ops.h"

namespace quill::cuda {
namespace {

using pool::PoolDims;
using pool::dims_of;

template <class T>
__global__ void maxpool_forward_kernel(PoolDims d, int64_t total, const T* x, T* y, int32_t* argmax) {
  for (int64_t i = grid_index(); i < total; i += grid_stride()) pool::maxpool_forward_at(d, i, x, y, argmax);
}
template <class T>
__global__ void maxpool_backward_kernel(PoolDims d, int64_t total, const T* dy, const int32_t* argmax, T* dx) {
  for (int64_t i = grid_index(); i < total; i += grid_stride()) pool::maxpool_backward_at(d, i, dy, argmax, dx);
}
template <class T>
__global__ void avgpool_forward_kernel(PoolDims d, int64_t total, const T* x, T* y) {
  for (int64_t i = grid_index(); i < total; i += grid_stride()) pool::avgpool_forward_at(d, i, x, y);
}
template <class T>
__global__ void avgpool_backward_kernel(PoolDims d, int64_t total, const T* dy, T* dx) {
  for (int64_t i = grid_index(); i < total; i += grid_stride()) pool::avgpool_backward_at(d, i, dy, dx);
}

}  // namespace

template <class T>
void maxpool_forward(const PoolGeometry& g, const T* x, T* y, int32_t* argmax) {
  const PoolDims d = dims_of(g, "maxpool_forward");
  const int64_t total = g.y_size();
  launch(maxpool_forward_kernel<T>, blocks_for(total), kThreads, 0, stream(), d, total, x, y, argmax);
}

template <class T>
void maxpool_backward(const PoolGeometry& g, const T* dy, const int32_t* argmax, T* dx) {
  const PoolDims d = dims_of(g, "maxpool_backward");
  const int64_t total = g.x_size();
  launch(maxpool_backward_kernel<T>, blocks_for(total), kThreads, 0, stream(), d, total, dy, argmax, dx);
}

template <class T>
void avgpool_forward(const PoolGeometry& g, const T* x, T* y) {
  const PoolDims d = dims_of(g, "avgpool_forward");
  const int64_t total = g.y_size();
  launch(avgpool_forward_kernel<T>, blocks_for(total), kThreads, 0, stream(), d, total, x, y);
}

template <class T>
void avgpool_backward(const PoolGeometry& g, const T* dy, T* dx) {
  const PoolDims d = dims_of(g, "avgpool_backward");
  const int64_t total = g.x_size();
  launch(avgpool_backward_kernel<T>, blocks_for(total), kThreads, 0, stream(), d, total, dy, dx);
}

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_pooling_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  bind(ops::maxpool_forward, B, [](auto t, auto... a) { maxpool_forward<decltype(t)>(a...); });
  bind(ops::maxpool_backward, B, [](auto t, auto... a) { maxpool_backward<decltype(t)>(a...); });
  bind(ops::avgpool_forward, B, [](auto t, auto... a) { avgpool_forward<decltype(t)>(a...); });
  bind(ops::avgpool_backward, B, [](auto t, auto... a) { avgpool_backward<decltype(t)>(a...); });
}

}  // namespace quill::cuda
