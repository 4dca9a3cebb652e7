// Fully connected layer on top of gemm: y = x w^T + b, with its gradients.
#include <algorithm>

#include "kernels/binding.h"
#include "kernels/cpu/cpu_kernels.h"
#include "runtime/error.h"
#include "runtime/ops.h"

namespace quill::cpu {
namespace {

void check_sizes(int n, int in, int out, const char* op) {
  QUILL_CHECK(n > 0 && in > 0 && out > 0, op, ": sizes must be positive (n=", n, " in=", in, " out=", out, ")");
}

}  // namespace

template <class T>
void dense_forward(int n, int in, int out, const T* x, const T* w, const T* b, T* y) {
  check_sizes(n, in, out, "dense_forward");
  if (b != nullptr)  // start from the bias and accumulate the product on top
    for (int i = 0; i < n; ++i) std::copy_n(b, out, y + size_t(i) * out);
  gemm<T>(false, true, n, out, in, T(1), x, in, w, in, b != nullptr ? T(1) : T(0), y, out);
}

template <class T>
void dense_backward(int n, int in, int out, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  check_sizes(n, in, out, "dense_backward");
  QUILL_CHECK(dw != nullptr, "dense_backward: dw must not be null");
  if (dx != nullptr) gemm<T>(false, false, n, in, out, T(1), dy, out, w, in, T(0), dx, in);  // dy w
  gemm<T>(true, false, out, in, n, T(1), dy, out, x, in, T(0), dw, in);                      // dy^T x
  if (db != nullptr) {
    // Column sums over the batch in row order, in double; columns are independent, so threads split columns.
#pragma omp parallel for schedule(static) if (int64_t(n) * out >= 65536)
    for (int o = 0; o < out; ++o) {
      double sum = 0;
      for (int i = 0; i < n; ++i) sum += dy[size_t(i) * out + o];
      db[o] = T(sum);
    }
  }
}

#define QUILL_INSTANTIATE(T)                                                       \
  template void dense_forward<T>(int, int, int, const T*, const T*, const T*, T*); \
  template void dense_backward<T>(int, int, int, const T*, const T*, const T*, T*, T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

// ---- binding to the ops (runtime/ops.h); register_cpu.cpp calls it ----
void bind_dense_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cpu;
  bind_dense(ops::dense_forward, B, [](auto t, DenseSizes s, auto... a) {
    dense_forward<decltype(t)>(s.n, s.in, s.out, a...);
  });
  bind_dense(ops::dense_backward, B, [](auto t, DenseSizes s, auto... a) {
    dense_backward<decltype(t)>(s.n, s.in, s.out, a...);
  });
}

}  // namespace quill::cpu
