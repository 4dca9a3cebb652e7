// 2-D convolution: the three passes of conv2d_gemm.cuh, each one launch of the tiled GEMM core
// (gemm_tiles.cuh) over the whole batch; backward-weights adds its split-K chunks in order afterwards.
#include "kernels/binding.h"
#include "kernels/cuda/conv2d_gemm.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "runtime/ops.h"

namespace quill::cuda {
namespace {

using conv::ConvDims;
using conv::dims_of;

// out[i] = sum over splits of partial[split][i], in split order.
template <class T>
__global__ void sum_splits_kernel(int64_t size, int splits, const T* partial, T* out) {
  for (int64_t i = grid_index(); i < size; i += grid_stride()) {
    double sum = 0;
    for (int z = 0; z < splits; ++z) sum += partial[z * size + i];
    out[i] = T(sum);
  }
}

// dbias[k] = sum over images and pixels of dy[image][k][...]; one block per filter, fixed order.
template <class T>
__global__ void __launch_bounds__(kThreads) bias_gradient_kernel(int n, int k, int pq, const T* dy, T* dbias) {
  const int filter = blockIdx.x;
  const int64_t count = int64_t(n) * pq;
  double sum = 0;
  for (int64_t i = threadIdx.x; i < count; i += kThreads) {
    const int64_t image = i / pq, offset = i % pq;
    sum += dy[(image * k + filter) * pq + offset];
  }
  sum = block_sum<kThreads>(sum);
  if (threadIdx.x == 0) dbias[filter] = T(sum);
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y, Math math) {
  launch_gemm_problem<T>(math, conv::forward_problem(dims_of(g, "conv2d_forward"), x, w, bias, y));
}

template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx, Math math) {
  launch_gemm_problem<T>(math, conv::backward_data_problem(dims_of(g, "conv2d_backward_data"), dy, w, dx));
}

template <class T>
void conv2d_backward_weights(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* dbias, Math math) {
  const ConvDims d = dims_of(g, "conv2d_backward_weights");
  const int64_t w_size = int64_t(d.k) * d.crs();
  auto p = conv::backward_weights_problem(d, x, dy, dw);
  if (p.split.splits == 1) {
    launch_gemm_problem<T>(math, p);
  } else {
    DeviceScratch<T> partial(size_t(p.split.splits) * w_size);
    p.store.out = partial.get();
    launch_gemm_problem<T>(math, p);
    launch(sum_splits_kernel<T>, blocks_for(w_size), kThreads, 0, stream(), w_size, p.split.splits, partial.get(), dw);
  }
  if (dbias != nullptr) {
    launch(bias_gradient_kernel<T>, d.k, kThreads, 0, stream(), d.n, d.k, d.pq(), dy, dbias);
  }
}

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_convolution_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  // The math mode of each call's matrix products, from the store a program switches (settings.h).
  auto math = [settings = backend_settings()] { return settings->get().math(); };
  bind(ops::conv2d_forward, B, [math](auto t, auto... a) { conv2d_forward<decltype(t)>(a..., math()); });
  bind(ops::conv2d_backward_data, B, [math](auto t, auto... a) { conv2d_backward_data<decltype(t)>(a..., math()); });
  bind(ops::conv2d_backward_weights, B,
       [math](auto t, auto... a) { conv2d_backward_weights<decltype(t)>(a..., math()); });
}

}  // namespace quill::cuda
