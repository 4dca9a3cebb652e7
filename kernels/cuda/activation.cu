// Element-wise kernels: activations (forward and backward), add and fill. Grid-stride loops; the
// activation is a template parameter so each kernel is a straight line of arithmetic.
#include "kernels/binding.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "runtime/ops.h"

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

// T may also be int32_t.
template <class T>
void fill(int64_t n, T value, T* y) {
  if (n == 0) return;
  launch(fill_kernel<T>, blocks_for(n), kThreads, 0, stream(), n, value, y);
}

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_elementwise_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  bind_flat(ops::activation_forward, B, [](auto t, int64_t n, Activation act, double alpha, auto... a) {
    activation_forward<decltype(t)>(act, alpha, n, a...);
  });
  bind_flat(ops::activation_backward, B, [](auto t, int64_t n, Activation act, double alpha, auto... a) {
    activation_backward<decltype(t)>(act, alpha, n, a...);
  });
  bind_flat(ops::add, B, [](auto t, auto... a) { add<decltype(t)>(a...); });
  ops::fill.define(B, [](Tensor& t, double value) {
    switch (t.dtype()) {
      case DType::F32: fill<float>(t.numel(), float(value), t.data<float>()); return;
      case DType::F64: fill<double>(t.numel(), value, t.data<double>()); return;
      case DType::I32: fill<int32_t>(t.numel(), int32_t(value), t.data<int32_t>()); return;
    }
  });
}

}  // namespace quill::cuda
