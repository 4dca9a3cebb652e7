// Max and average pooling: one thread per output element forward, one thread per input element backward,
// each running one element function of pool_elements.cuh.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/pool_elements.cuh"

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

#define QUILL_INSTANTIATE(T)                                                                       \
  template void maxpool_forward<T>(const PoolGeometry&, const T*, T*, int32_t*);                   \
  template void maxpool_backward<T>(const PoolGeometry&, const T*, const int32_t*, T*);            \
  template void avgpool_forward<T>(const PoolGeometry&, const T*, T*);                             \
  template void avgpool_backward<T>(const PoolGeometry&, const T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

}  // namespace quill::cuda
