#pragma once
// Helpers shared by the backends' bindings of raw kernels to the tensor-level ops: dtype dispatch (bind,
// bind_flat: one line per op and backend), sizes, and the shape checks of the ops' contracts
// (kernels/op_contracts.cpp), which the op registry runs once for every backend, as it checks devices
// (check_op_argument in runtime/ops.h).
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <tuple>
#include <type_traits>

#include "runtime/op.h"
#include "runtime/step_values.h"
#include "runtime/tensor.h"

namespace quill::binding {

// Calls fn with a float or double value whose type matches the tensor's dtype.
template <class Fn>
void by_float_type(const Tensor& t, const char* op, Fn&& fn) {
  switch (t.dtype()) {
    case DType::F32: fn(float{}); return;
    case DType::F64: fn(double{}); return;
    default: fail(op, ": unsupported dtype ", dtype_name(t.dtype()));
  }
}

// ---- bind: an op's tensors as a kernel's pointers ----
// A tensor argument of an op as a kernel parameter: converts to a pointer to its elements of the kernel's
// type (T, float or double, or int32_t for labels and argmax; Tensor::data checks that the dtype is that),
// or to null where an optional tensor is absent. Output tensors (Tensor&, Tensor*) give mutable pointers.
template <class T, class Pointee>
class Elements {
 public:
  explicit Elements(const Tensor* t) : t_(t) {}
  operator Pointee*() const { return t_ ? t_->data<std::remove_const_t<Pointee>>() : nullptr; }
  operator std::conditional_t<std::is_const_v<Pointee>, const int32_t, int32_t>*() const {
    return t_ ? t_->data<int32_t>() : nullptr;
  }

 private:
  const Tensor* t_;
};

template <class T>
struct KernelArgument {
  template <class A>
  static const A& of(const A& a) {  // scalars, configurations and geometries pass unchanged
    return a;
  }
  static Elements<T, const T> of(const Tensor& t) { return Elements<T, const T>(&t); }
  static Elements<T, T> of(Tensor& t) { return Elements<T, T>(&t); }
  static Elements<T, const T> of(const Tensor* t) { return Elements<T, const T>(t); }
  static Elements<T, T> of(Tensor* t) { return Elements<T, T>(t); }
};

// The op's first tensor argument given by reference: its dtype is the kernel's T.
template <class A, class... Rest>
const Tensor& first_tensor(const A& a, const Rest&... rest) {
  if constexpr (std::is_same_v<A, Tensor>) {
    return a;
  } else {
    static_assert(sizeof...(Rest) > 0, "bind: the op takes no tensor by reference");
    return first_tensor(rest...);
  }
}

// Defines op on backend b as kernel(T{}, sizes(arguments...), arguments...): T is float or double as the op's
// first tensor is, sizes computes the kernel's leading size arguments from the op's arguments (an element
// count, a channel layout), and each tensor becomes a pointer as KernelArgument makes it.
template <class... Args, class Sizes, class Kernel>
void bind_sized(Op<void(Args...)>& op, Backend b, Sizes sizes, Kernel kernel) {
  op.define(b, [name = op.name(), sizes, kernel](Args... args) {
    by_float_type(first_tensor(args...), name, [&](auto tag) {
      using T = decltype(tag);
      kernel(tag, sizes(args...), KernelArgument<T>::of(args)...);
    });
  });
}

// Defines op on backend b as kernel(T{}, arguments...), with the op's arguments in order. One line per op and
// backend:
//   bind(ops::conv2d_forward, B, [](auto t, auto... a) { conv2d_forward<decltype(t)>(a...); });
template <class... Args, class Kernel>
void bind(Op<void(Args...)>& op, Backend b, Kernel kernel) {
  op.define(b, [name = op.name(), kernel](Args... args) {
    by_float_type(first_tensor(args...), name, [&](auto tag) {
      using T = decltype(tag);
      kernel(tag, KernelArgument<T>::of(args)...);
    });
  });
}

// Kernels over flat buffers take the element count first: kernel(T{}, n, arguments...), n being the first
// tensor's element count.
//   bind_flat(ops::add, B, [](auto t, auto... a) { add<decltype(t)>(a...); });  // add(n, a, b, y)
template <class... Args, class Kernel>
void bind_flat(Op<void(Args...)>& op, Backend b, Kernel kernel) {
  bind_sized(op, b, [](const auto&... args) { return first_tensor(args...).numel(); }, kernel);
}

// ---- sizes ----
inline void check_numel(const Tensor& t, int64_t n, const char* op, const char* what) {
  QUILL_CHECK(t.numel() == n, op, ": ", what, " has shape ", t.shape().str(), ", expected ", n, " elements");
}
inline void check_numel(const Tensor* t, int64_t n, const char* op, const char* what) {
  if (t != nullptr) check_numel(*t, n, op, what);
}

inline int rows_of(const Tensor& t) { return static_cast<int>(t.dim(0)); }
inline int row_size(const Tensor& t) { return static_cast<int>(t.numel() / std::max<int64_t>(1, t.dim(0))); }

// Channels and pixels per channel of a batch-norm input x [n, c, (h, w)] with c = gamma.numel().
struct ChannelLayout {
  int n, c, hw;
};
inline ChannelLayout channel_layout(const Tensor& x, const Tensor& gamma, const char* op) {
  const int c = static_cast<int>(gamma.numel());
  QUILL_CHECK(c > 0 && x.shape().rank() >= 2 && row_size(x) % c == 0, op, ": input ", x.shape().str(),
              " does not have ", c, " channels");
  return {rows_of(x), c, row_size(x) / c};
}

// Kernels over rows (the loss, count_correct) take (n, c, arguments...): the first tensor as n rows of c.
struct RowLayout {
  int n, c;
};
template <class... Args, class Kernel>
void bind_rows(Op<void(Args...)>& op, Backend b, Kernel kernel) {
  bind_sized(op, b, [](const auto&... args) {
    const Tensor& first = first_tensor(args...);
    return RowLayout{rows_of(first), row_size(first)};
  }, kernel);
}

// Dense kernels take (n, in, out, arguments...): x [n, in...] and w [out, in], the op's first two arguments.
struct DenseSizes {
  int64_t n, in, out;  // int64: the contract multiplies them (the kernels take int)
};
inline DenseSizes dense_sizes(const Tensor& x, const Tensor& w) { return {rows_of(x), row_size(x), w.dim(0)}; }
template <class... Args, class Kernel>
void bind_dense(Op<void(Args...)>& op, Backend b, Kernel kernel) {
  bind_sized(op, b, [](const Tensor& x, const Tensor& w, const auto&...) { return dense_sizes(x, w); }, kernel);
}

// Kernels over channels (batch norm) take (n, c, hw, arguments...): the layout of x, the op's first argument,
// with as many channels as its per-channel argument number Channels (gamma) has elements.
//   bind_channels<2>(ops::batchnorm_backward, B, [](auto t, ChannelLayout l, auto... a) {  // (x, dy, gamma, ...)
//     batchnorm_backward<decltype(t)>(l.n, l.c, l.hw, a...); });
template <size_t Channels, class... Args, class Kernel>
void bind_channels(Op<void(Args...)>& op, Backend b, Kernel kernel) {
  bind_sized(op, b, [name = op.name()](const auto&... args) {
    const auto all = std::forward_as_tuple(args...);
    return channel_layout(std::get<0>(all), std::get<Channels>(all), name);
  }, kernel);
}

// The per-step values of an *_indirect op (runtime/step_values.h): float64 [kStepValueCount], a pointer into
// the op's device memory.
inline const double* step_values_of(const Tensor& values, const char* op) {
  QUILL_CHECK(values.dtype() == DType::F64 && values.numel() == kStepValueCount, op, ": step values must be float64 [",
              int(kStepValueCount), "], got ", dtype_name(values.dtype()), " ", values.shape().str());
  return values.data<double>();
}

// The arguments of accumulate_loss: loss [1] float, correct [1] int32, sums [2] float64.
inline void check_loss_sums(const Tensor& loss, const Tensor& correct, const Tensor& sums, const char* op) {
  check_numel(loss, 1, op, "loss");
  check_numel(correct, 1, op, "correct");
  check_numel(sums, 2, op, "sums");
  QUILL_CHECK(correct.dtype() == DType::I32 && sums.dtype() == DType::F64, op,
              ": correct must be int32 and sums float64, got ", dtype_name(correct.dtype()), " and ",
              dtype_name(sums.dtype()));
}

inline void check_per_channel(const char* op, int c, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors) check_numel(*t, c, op, "a per-channel tensor");
}

}  // namespace quill::binding
