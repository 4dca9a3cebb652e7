#pragma once
// Helpers shared by the backends' bindings of raw kernels to the tensor-level ops: dtype dispatch, sizes,
// and the shape checks of the ops' contracts (kernels/op_contracts.cpp), which the op registry runs once
// for every backend, as it checks devices (check_op_argument in runtime/ops.h).
#include <algorithm>
#include <initializer_list>

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

template <class T>
const T* ptr_or_null(const Tensor* t) {
  return t ? t->data<T>() : nullptr;
}
template <class T>
T* mut_ptr_or_null(Tensor* t) {
  return t ? t->data<T>() : nullptr;
}

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

// The per-step values of an *_indirect op (kernels/step_values.h): float64 [kStepValueCount], a pointer into
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
