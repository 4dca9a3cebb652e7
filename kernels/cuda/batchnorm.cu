// Batch normalisation per channel over (N, H*W). Training forward and backward run one block per channel:
// the block reduces the channel's statistics in a fixed tree order (two passes: mean, then the centred
// sum of squares, so no cancellation), then normalises the channel. Sums are in double. Evaluation is a
// plain element-wise kernel.
#include <cmath>

#include "kernels/binding.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "runtime/ops.h"

namespace quill::cuda {
namespace {

constexpr int kBlock = 256;

// Element i in [0, n*hw) of channel `channel`: image i / hw, pixel i % hw.
__device__ __forceinline__ int64_t channel_element(int i, int channel, int c, int hw) {
  return (int64_t(i / hw) * c + channel) * hw + i % hw;
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    batchnorm_forward_train_kernel(int n, int c, int hw, const T* x, const T* gamma, const T* beta, double eps,
                                   double momentum, T* y, T* save_mean, T* save_invstd, T* running_mean,
                                   T* running_var) {
  const int channel = blockIdx.x, count = n * hw;
  double sum = 0;
  for (int i = threadIdx.x; i < count; i += kBlock) sum += x[channel_element(i, channel, c, hw)];
  const double mean = block_sum<kBlock>(sum) / count;
  double squares = 0;
  for (int i = threadIdx.x; i < count; i += kBlock) {
    const double d = x[channel_element(i, channel, c, hw)] - mean;
    squares += d * d;
  }
  const double var = block_sum<kBlock>(squares) / count;  // biased: what normalisation uses
  const double invstd = 1.0 / sqrt(var + eps);
  const double scale = invstd * gamma[channel], shift = beta[channel];
  for (int i = threadIdx.x; i < count; i += kBlock) {
    const int64_t e = channel_element(i, channel, c, hw);
    y[e] = T((x[e] - mean) * scale + shift);
  }
  if (threadIdx.x == 0) {
    save_mean[channel] = T(mean);
    save_invstd[channel] = T(invstd);
    running_mean[channel] = T((1.0 - momentum) * running_mean[channel] + momentum * mean);
    running_var[channel] =
        T((1.0 - momentum) * running_var[channel] + momentum * var * double(count) / double(count - 1));
  }
}

template <class T>
__global__ void batchnorm_forward_eval_kernel(int64_t total, int c, int hw, const T* x, const T* gamma,
                                              const T* beta, const T* running_mean, const T* running_var,
                                              double eps, T* y) {
  for (int64_t i = grid_index(); i < total; i += grid_stride()) {
    const int channel = static_cast<int>((i / hw) % c);
    const double scale = double(gamma[channel]) / sqrt(double(running_var[channel]) + eps);
    y[i] = T((x[i] - double(running_mean[channel])) * scale + double(beta[channel]));
  }
}

// dbeta = sum dy, dgamma = sum dy * xhat, dx = gamma * invstd * (dy - dbeta/m - xhat * dgamma/m).
template <class T>
__global__ void __launch_bounds__(kBlock)
    batchnorm_backward_kernel(int n, int c, int hw, const T* x, const T* dy, const T* gamma, const T* save_mean,
                              const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const int channel = blockIdx.x, count = n * hw;
  const double mean = save_mean[channel], invstd = save_invstd[channel];
  double sum_dy = 0, sum_dy_xhat = 0;
  for (int i = threadIdx.x; i < count; i += kBlock) {
    const int64_t e = channel_element(i, channel, c, hw);
    const double g = dy[e];
    sum_dy += g;
    sum_dy_xhat += g * ((x[e] - mean) * invstd);
  }
  sum_dy = block_sum<kBlock>(sum_dy);
  sum_dy_xhat = block_sum<kBlock>(sum_dy_xhat);
  const double scale = double(gamma[channel]) * invstd;
  const double mean_dy = sum_dy / count, mean_dy_xhat = sum_dy_xhat / count;
  for (int i = threadIdx.x; i < count; i += kBlock) {
    const int64_t e = channel_element(i, channel, c, hw);
    const double xhat = (x[e] - mean) * invstd;
    dx[e] = T(scale * (dy[e] - mean_dy - xhat * mean_dy_xhat));
  }
  if (threadIdx.x == 0) {
    dgamma[channel] = T(sum_dy_xhat);
    dbeta[channel] = T(sum_dy);
  }
}

void check_sizes(int n, int c, int hw, const char* op) {
  QUILL_CHECK(n > 0 && c > 0 && hw > 0, op, ": sizes must be positive (n=", n, " c=", c, " hw=", hw, ")");
  QUILL_CHECK(int64_t(n) * hw <= kMaxIntExtent, op, ": too many elements per channel (", int64_t(n) * hw,
              ", at most ", kMaxIntExtent, ")");
}

void check_eps(double eps, const char* op) { QUILL_CHECK(eps > 0, op, ": eps must be positive, got ", eps); }

}  // namespace

template <class T>
void batchnorm_forward_train(int n, int c, int hw, const T* x, const T* gamma, const T* beta, double eps,
                             double momentum, T* y, T* save_mean, T* save_invstd, T* running_mean,
                             T* running_var) {
  check_sizes(n, c, hw, "batchnorm_forward_train");
  check_eps(eps, "batchnorm_forward_train");
  QUILL_CHECK(int64_t(n) * hw > 1, "batchnorm_forward_train: need more than one value per channel (n*h*w = ",
              int64_t(n) * hw, ")");
  launch(batchnorm_forward_train_kernel<T>, c, kBlock, 0, stream(), n, c, hw, x, gamma, beta, eps, momentum, y,
         save_mean, save_invstd, running_mean, running_var);
}

template <class T>
void batchnorm_forward_eval(int n, int c, int hw, const T* x, const T* gamma, const T* beta,
                            const T* running_mean, const T* running_var, double eps, T* y) {
  check_sizes(n, c, hw, "batchnorm_forward_eval");
  check_eps(eps, "batchnorm_forward_eval");
  const int64_t total = int64_t(n) * c * hw;
  launch(batchnorm_forward_eval_kernel<T>, blocks_for(total), kThreads, 0, stream(), total, c, hw, x, gamma, beta,
         running_mean, running_var, eps, y);
}

template <class T>
void batchnorm_backward(int n, int c, int hw, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  check_sizes(n, c, hw, "batchnorm_backward");
  launch(batchnorm_backward_kernel<T>, c, kBlock, 0, stream(), n, c, hw, x, dy, gamma, save_mean, save_invstd, dx,
         dgamma, dbeta);
}

#define QUILL_INSTANTIATE(T)                                                                              \
  template void batchnorm_forward_train<T>(int, int, int, const T*, const T*, const T*, double, double, T*, \
                                           T*, T*, T*, T*);                                                \
  template void batchnorm_forward_eval<T>(int, int, int, const T*, const T*, const T*, const T*, const T*,  \
                                          double, T*);                                                     \
  template void batchnorm_backward<T>(int, int, int, const T*, const T*, const T*, const T*, const T*, T*,  \
                                      T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_batchnorm_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  bind_channels<1>(ops::batchnorm_forward_train, B, [](auto t, ChannelLayout l, auto... a) {  // (x, gamma, ...)
    batchnorm_forward_train<decltype(t)>(l.n, l.c, l.hw, a...);
  });
  bind_channels<1>(ops::batchnorm_forward_eval, B, [](auto t, ChannelLayout l, auto... a) {
    batchnorm_forward_eval<decltype(t)>(l.n, l.c, l.hw, a...);
  });
  bind_channels<2>(ops::batchnorm_backward, B, [](auto t, ChannelLayout l, auto... a) {  // (x, dy, gamma, ...)
    batchnorm_backward<decltype(t)>(l.n, l.c, l.hw, a...);
  });
}

}  // namespace quill::cuda
