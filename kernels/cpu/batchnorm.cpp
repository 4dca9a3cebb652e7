// Batch normalisation per channel over (N, H*W). Statistics and gradient sums are accumulated in double
// (also for float data) in a fixed order; channels are independent and are what the threads split.
#include <cmath>
#include <cstdint>

#include "kernels/binding.h"
#include "kernels/cpu/cpu_kernels.h"
#include "runtime/error.h"
#include "runtime/ops.h"

namespace quill::cpu {
namespace {

void check_sizes(int n, int c, int hw, const char* op) {
  QUILL_CHECK(n > 0 && c > 0 && hw > 0, op, ": sizes must be positive (n=", n, " c=", c, " hw=", hw, ")");
}

bool parallel_worth_it(int n, int c, int hw) { return c > 1 && int64_t(n) * c * hw >= 32768; }

// Sum over the n*hw values of channel ch of term(flat index), in double and in a fixed order: eight
// interleaved partial sums (so the loop vectorises), combined pairwise at the end.
template <class F>
double channel_sum(int n, int c, int hw, int ch, F term) {
  double lane[8] = {};
  for (int i = 0; i < n; ++i) {
    const int64_t base = (int64_t(i) * c + ch) * hw;
    int j = 0;
    for (; j + 8 <= hw; j += 8)
      for (int l = 0; l < 8; ++l) lane[l] += term(base + j + l);
    for (; j < hw; ++j) lane[j % 8] += term(base + j);
  }
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

}  // namespace

template <class T>
void batchnorm_forward_train(int n, int c, int hw, const T* x, const T* gamma, const T* beta, double eps,
                             double momentum, T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var) {
  check_sizes(n, c, hw, "batchnorm_forward_train");
  const int64_t m = int64_t(n) * hw;
  QUILL_CHECK(m > 1, "batchnorm_forward_train: need more than one value per channel (n*h*w = ", m, ")");
  QUILL_CHECK(eps > 0, "batchnorm_forward_train: eps must be positive, got ", eps);
#pragma omp parallel for schedule(static) if (parallel_worth_it(n, c, hw))
  for (int ch = 0; ch < c; ++ch) {
    const double mean = channel_sum(n, c, hw, ch, [&](int64_t e) { return double(x[e]); }) / double(m);
    // Second pass about the mean: no cancellation.
    const double var = channel_sum(n, c, hw, ch, [&](int64_t e) { return (x[e] - mean) * (x[e] - mean); }) / double(m);
    const double invstd = 1.0 / std::sqrt(var + eps);
    save_mean[ch] = T(mean);
    save_invstd[ch] = T(invstd);
    running_mean[ch] = T((1.0 - momentum) * running_mean[ch] + momentum * mean);
    running_var[ch] = T((1.0 - momentum) * running_var[ch] + momentum * var * double(m) / double(m - 1));
    const double scale = double(gamma[ch]) * invstd, shift = double(beta[ch]);
    for (int i = 0; i < n; ++i) {
      const T* xr = x + (int64_t(i) * c + ch) * hw;
      T* yr = y + (int64_t(i) * c + ch) * hw;
      for (int j = 0; j < hw; ++j) yr[j] = T((xr[j] - mean) * scale + shift);
    }
  }
}

template <class T>
void batchnorm_forward_eval(int n, int c, int hw, const T* x, const T* gamma, const T* beta, const T* running_mean,
                            const T* running_var, double eps, T* y) {
  check_sizes(n, c, hw, "batchnorm_forward_eval");
  QUILL_CHECK(eps > 0, "batchnorm_forward_eval: eps must be positive, got ", eps);
#pragma omp parallel for schedule(static) if (parallel_worth_it(n, c, hw))
  for (int ch = 0; ch < c; ++ch) {
    const double mean = running_mean[ch];
    const double scale = double(gamma[ch]) / std::sqrt(double(running_var[ch]) + eps), shift = double(beta[ch]);
    for (int i = 0; i < n; ++i) {
      const T* xr = x + (int64_t(i) * c + ch) * hw;
      T* yr = y + (int64_t(i) * c + ch) * hw;
      for (int j = 0; j < hw; ++j) yr[j] = T((xr[j] - mean) * scale + shift);
    }
  }
}

// With xhat = (x - mean) * invstd and m values per channel:
//   dbeta = sum dy, dgamma = sum dy * xhat,
//   dx = gamma * invstd * (dy - dbeta / m - xhat * dgamma / m).
template <class T>
void batchnorm_backward(int n, int c, int hw, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  check_sizes(n, c, hw, "batchnorm_backward");
  const double m = double(n) * hw;
#pragma omp parallel for schedule(static) if (parallel_worth_it(n, c, hw))
  for (int ch = 0; ch < c; ++ch) {
    const double mean = save_mean[ch], invstd = save_invstd[ch];
    const double sum_dy = channel_sum(n, c, hw, ch, [&](int64_t e) { return double(dy[e]); });
    const double sum_dy_xhat = channel_sum(n, c, hw, ch, [&](int64_t e) { return dy[e] * ((x[e] - mean) * invstd); });
    dbeta[ch] = T(sum_dy);
    dgamma[ch] = T(sum_dy_xhat);
    const double k = double(gamma[ch]) * invstd, mean_dy = sum_dy / m, mean_dy_xhat = sum_dy_xhat / m;
    for (int i = 0; i < n; ++i) {
      const T* xr = x + (int64_t(i) * c + ch) * hw;
      const T* dyr = dy + (int64_t(i) * c + ch) * hw;
      T* dxr = dx + (int64_t(i) * c + ch) * hw;
      for (int j = 0; j < hw; ++j) {
        const double xhat = (xr[j] - mean) * invstd;
        dxr[j] = T(k * (dyr[j] - mean_dy - xhat * mean_dy_xhat));
      }
    }
  }
}

#define QUILL_INSTANTIATE(T)                                                                                        \
  template void batchnorm_forward_train<T>(int, int, int, const T*, const T*, const T*, double, double, T*, T*, T*, \
                                           T*, T*);                                                                 \
  template void batchnorm_forward_eval<T>(int, int, int, const T*, const T*, const T*, const T*, const T*, double,  \
                                          T*);                                                                      \
  template void batchnorm_backward<T>(int, int, int, const T*, const T*, const T*, const T*, const T*, T*, T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

// ---- binding to the ops (runtime/ops.h); register_cpu.cpp calls it ----
void bind_batchnorm_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cpu;
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

}  // namespace quill::cpu
