// Element-wise kernels: activations, addition, inverted dropout. Every output element depends on its own
// inputs only, so any thread split gives the same bits.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/binding.h"
#include "kernels/cpu/cpu_kernels.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "runtime/ops.h"

namespace quill::cpu {
namespace {

constexpr int64_t kParallelMin = 32768;  // below this, starting threads costs more than it saves

void check_count(int64_t n, const char* op) { QUILL_CHECK(n >= 0, op, ": negative element count ", n); }

// Logistic function without overflow: exp is only taken of non-positive numbers.
template <class T>
T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <class F>
void for_each_index(int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace

template <class T>
void activation_forward(Activation act, double alpha, int64_t n, const T* x, T* y) {
  check_count(n, "activation_forward");
  const T a = T(alpha);
  switch (act) {
    case Activation::Relu:
      for_each_index(n, [&](int64_t i) { y[i] = x[i] <= T(0) ? T(0) : x[i]; });  // NaN stays NaN
      break;
    case Activation::LeakyRelu:
      for_each_index(n, [&](int64_t i) { y[i] = x[i] > T(0) ? x[i] : a * x[i]; });
      break;
    case Activation::Tanh:
      for_each_index(n, [&](int64_t i) { y[i] = std::tanh(x[i]); });
      break;
    case Activation::Sigmoid:
      for_each_index(n, [&](int64_t i) { y[i] = sigmoid(x[i]); });
      break;
    default:
      fail("activation_forward: unknown activation ", int(act));
  }
}

// Derivatives: ReLU 1 for x > 0 else 0 (0 at exactly 0); LeakyRelu 1 for x > 0 else alpha (alpha at 0, so
// alpha = 0 reduces to ReLU); tanh 1 - y^2 and sigmoid y (1 - y), from the output.
template <class T>
void activation_backward(Activation act, double alpha, int64_t n, const T* x, const T* y, const T* dy, T* dx) {
  check_count(n, "activation_backward");
  const T a = T(alpha);
  switch (act) {
    case Activation::Relu:  // dy is loaded unconditionally: a conditional load would block vectorisation
      for_each_index(n, [&](int64_t i) {
        const T d = dy[i];
        dx[i] = x[i] > T(0) ? d : T(0);
      });
      break;
    case Activation::LeakyRelu:
      for_each_index(n, [&](int64_t i) { dx[i] = x[i] > T(0) ? dy[i] : a * dy[i]; });
      break;
    case Activation::Tanh:
      for_each_index(n, [&](int64_t i) { dx[i] = dy[i] * (T(1) - y[i] * y[i]); });
      break;
    case Activation::Sigmoid:
      for_each_index(n, [&](int64_t i) { dx[i] = dy[i] * y[i] * (T(1) - y[i]); });
      break;
    default:
      fail("activation_backward: unknown activation ", int(act));
  }
}

template <class T>
void add(int64_t n, const T* a, const T* b, T* y) {
  check_count(n, "add");
  for_each_index(n, [&](int64_t i) { y[i] = a[i] + b[i]; });
}

namespace {

// out[i] = keep(i) ? in[i] / (1-p) : 0 with keep(i) = random_uniform(seed, stream, i) >= p. A Philox block
// serves four consecutive elements, exactly as random_uniform indexes them; blocks are drawn kBatchBlocks
// at a time so the compiler vectorises Philox across blocks.
constexpr int kBatchBlocks = 16;
constexpr int64_t kBatchElements = 4 * kBatchBlocks;

template <class T>
void apply_dropout_mask(const char* op, int64_t n, double p, uint64_t seed, uint64_t stream, const T* in, T* out) {
  check_count(n, op);
  QUILL_CHECK(p >= 0.0 && p < 1.0, op, ": drop probability ", p, " must be in [0, 1)");
  const T scale = T(1.0 / (1.0 - p));
  const int64_t batches = (n + kBatchElements - 1) / kBatchElements;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t batch = 0; batch < batches; ++batch) {
    uint32_t bits[kBatchElements];
    for (int b = 0; b < kBatchBlocks; ++b) {
      const Philox4x32 block = random_block(seed, stream, uint64_t(batch * kBatchBlocks + b));
      for (int j = 0; j < 4; ++j) bits[4 * b + j] = block.v[j];
    }
    const int64_t first = batch * kBatchElements, count = std::min(kBatchElements, n - first);
    for (int64_t j = 0; j < count; ++j) out[first + j] = uniform01(bits[j]) >= p ? in[first + j] * scale : T(0);
  }
}

}  // namespace

template <class T>
void dropout_forward(int64_t n, double p, uint64_t seed, uint64_t stream, const T* x, T* y) {
  apply_dropout_mask("dropout_forward", n, p, seed, stream, x, y);
}

template <class T>
void dropout_backward(int64_t n, double p, uint64_t seed, uint64_t stream, const T* dy, T* dx) {
  apply_dropout_mask("dropout_backward", n, p, seed, stream, dy, dx);
}

#define QUILL_INSTANTIATE(T)                                                                           \
  template void activation_forward<T>(Activation, double, int64_t, const T*, T*);                      \
  template void activation_backward<T>(Activation, double, int64_t, const T*, const T*, const T*, T*); \
  template void add<T>(int64_t, const T*, const T*, T*);                                               \
  template void dropout_forward<T>(int64_t, double, uint64_t, uint64_t, const T*, T*);                 \
  template void dropout_backward<T>(int64_t, double, uint64_t, uint64_t, const T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

// ---- binding to the ops (runtime/ops.h); register_cpu.cpp calls it ----
void bind_elementwise_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cpu;
  bind_flat(ops::activation_forward, B, [](auto t, int64_t n, Activation act, double alpha, auto... a) {
    activation_forward<decltype(t)>(act, alpha, n, a...);
  });
  bind_flat(ops::activation_backward, B, [](auto t, int64_t n, Activation act, double alpha, auto... a) {
    activation_backward<decltype(t)>(act, alpha, n, a...);
  });
  bind_flat(ops::add, B, [](auto t, auto... a) { add<decltype(t)>(a...); });
  bind_flat(ops::dropout_forward, B, [](auto t, auto... a) { dropout_forward<decltype(t)>(a...); });
  bind_flat(ops::dropout_backward, B, [](auto t, auto... a) { dropout_backward<decltype(t)>(a...); });
  ops::fill.define(B, [](Tensor& t, double value) { t.fill(value); });

  // The *_indirect ops read the step's values from a CPU tensor and run the kernels above with them: the CPU
  // stand-in of a replayed CUDA graph (runtime/step_graph.h) runs the trainer's graph path through these.
  ops::dropout_forward_indirect.define(B, [](double p, uint64_t seed, uint64_t node, const Tensor& values,
                                             const Tensor& x, Tensor& y) {
    const uint64_t step = uint64_t(step_values_of(values, "dropout_forward_indirect")[kStepNumber]);
    ops::dropout_forward(B, p, seed, dropout_stream(step, node), x, y);
  });
  ops::dropout_backward_indirect.define(B, [](double p, uint64_t seed, uint64_t node, const Tensor& values,
                                              const Tensor& dy, Tensor& dx) {
    const uint64_t step = uint64_t(step_values_of(values, "dropout_backward_indirect")[kStepNumber]);
    ops::dropout_backward(B, p, seed, dropout_stream(step, node), dy, dx);
  });
}

}  // namespace quill::cpu
