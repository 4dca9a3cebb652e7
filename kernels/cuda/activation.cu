// Element-wise kernels: activations (forward and backward), add and fill. Grid-stride loops; the
// activation is a template parameter so each kernel is a straight line of arithmetic.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace quill::cuda {
namespace {

template <Activation A, class T>
__device__ __forceinline__ T activate(T x, T alpha) {
  if constexpr (A == Activation::Relu) return x <= T(0) ? T(0) : x;  // NaN stays NaN, as in cuDNN
  if constexpr (A == Activation::LeakyRelu) return x > T(0) ? x : alpha * x;
  if constexpr (A == Activation::Tanh) return tanh(x);
  if constexpr (A == Activation::Sigmoid) {  // exp only of non-positive numbers: no overflow
    if (x >= T(0)) return T(1) / (T(1) + exp(-x));
    const T e = exp(x);
    return e / (T(1) + e);
  }
}

// dx = dy * derivative, written in the CPU reference's order of operations so the results match exactly.
template <Activation A, class T>
__device__ __forceinline__ T backward(T x, T y, T dy, T alpha) {
  if constexpr (A == Activation::Relu) return x > T(0) ? dy : T(0);
  if constexpr (A == Activation::LeakyRelu) return x > T(0) ? dy : alpha * dy;
  if constexpr (A == Activation::Tanh) return dy * (T(1) - y * y);
  if constexpr (A == Activation::Sigmoid) return dy * y * (T(1) - y);
}

template <Activation A, class T>
__global__ void activation_forward_kernel(int64_t n, T alpha, const T* x, T* y) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) y[i] = activate<A>(x[i], alpha);
}

template <Activation A, class T>
__global__ void activation_backward_kernel(int64_t n, T alpha, const T* x, const T* y, const T* dy, T* dx) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) dx[i] = backward<A>(x[i], y[i], dy[i], alpha);
}

template <class T>
__global__ void add_kernel(int64_t n, const T* a, const T* b, T* y) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) y[i] = a[i] + b[i];
}

template <class T>
__global__ void fill_kernel(int64_t n, T value, T* y) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) y[i] = value;
}

template <Activation A, class T>
void launch_forward(int64_t n, T alpha, const T* x, T* y) {
  launch(activation_forward_kernel<A, T>, blocks_for(n), kThreads, 0, stream(), n, alpha, x, y);
}

template <Activation A, class T>
void launch_backward(int64_t n, T alpha, const T* x, const T* y, const T* dy, T* dx) {
  launch(activation_backward_kernel<A, T>, blocks_for(n), kThreads, 0, stream(), n, alpha, x, y, dy, dx);
}

}  // namespace

template <class T>
void activation_forward(Activation act, double alpha, int64_t n, const T* x, T* y) {
  if (n == 0) return;
  const T a = static_cast<T>(alpha);
  switch (act) {
    case Activation::Relu: return launch_forward<Activation::Relu>(n, a, x, y);
    case Activation::LeakyRelu: return launch_forward<Activation::LeakyRelu>(n, a, x, y);
    case Activation::Tanh: return launch_forward<Activation::Tanh>(n, a, x, y);
    case Activation::Sigmoid: return launch_forward<Activation::Sigmoid>(n, a, x, y);
  }
  fail("activation_forward: unknown activation ", static_cast<int>(act));
}

template <class T>
void activation_backward(Activation act, double alpha, int64_t n, const T* x, const T* y, const T* dy, T* dx) {
  if (n == 0) return;
  const T a = static_cast<T>(alpha);
  switch (act) {
    case Activation::Relu: return launch_backward<Activation::Relu>(n, a, x, y, dy, dx);
    case Activation::LeakyRelu: return launch_backward<Activation::LeakyRelu>(n, a, x, y, dy, dx);
    case Activation::Tanh: return launch_backward<Activation::Tanh>(n, a, x, y, dy, dx);
    case Activation::Sigmoid: return launch_backward<Activation::Sigmoid>(n, a, x, y, dy, dx);
  }
  fail("activation_backward: unknown activation ", static_cast<int>(act));
}

template <class T>
void add(int64_t n, const T* a, const T* b, T* y) {
  if (n == 0) return;
  launch(add_kernel<T>, blocks_for(n), kThreads, 0, stream(), n, a, b, y);
}

template <class T>
void fill(int64_t n, T value, T* y) {
  if (n == 0) return;
  launch(fill_kernel<T>, blocks_for(n), kThreads, 0, stream(), n, value, y);
}

#define QUILL_INSTANTIATE(T)                                                                          \
  template void activation_forward<T>(Activation, double, int64_t, const T*, T*);                     \
  template void activation_backward<T>(Activation, double, int64_t, const T*, const T*, const T*, T*); \
  template void add<T>(int64_t, const T*, const T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE
template void fill<float>(int64_t, float, float*);
template void fill<double>(int64_t, double, double*);
template void fill<int32_t>(int64_t, int32_t, int32_t*);

}  // namespace quill::cuda
