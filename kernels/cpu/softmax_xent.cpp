// Softmax cross-entropy with label smoothing, mean over the batch. Per-row work is independent; the batch
// mean adds the rows' losses in row order, so it does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/binding.h"
#include "kernels/cpu/cpu_kernels.h"
#include "runtime/error.h"
#include "runtime/ops.h"

namespace quill::cpu {
namespace {

void check_args(int n, int c, const int32_t* labels, double smoothing, const char* op) {
  QUILL_CHECK(n > 0 && c > 0, op, ": sizes must be positive (n=", n, " c=", c, ")");
  QUILL_CHECK(smoothing >= 0.0 && smoothing <= 1.0, op, ": label smoothing ", smoothing, " must be in [0, 1]");
  for (int i = 0; i < n; ++i)
    QUILL_CHECK(labels[i] >= 0 && labels[i] < c, op, ": label ", labels[i], " of sample ", i, " is outside [0, ", c,
                ")");
}

bool parallel_worth_it(int n, int c) { return int64_t(n) * c >= 32768; }

}  // namespace

// Per row, with z = x - max(x) and log_sum = log(sum exp z): log p_j = z_j - log_sum, and the loss is
// -sum_j target_j log p_j = (1-s) (log_sum - z_label) + (s/c) sum_j (log_sum - z_j).
// Shifting by the maximum keeps exp from overflowing (logits of 1000 are fine).
template <class T>
double softmax_xent_forward(int n, int c, const T* logits, const int32_t* labels, double smoothing, T* probs) {
  check_args(n, c, labels, smoothing, "softmax_xent_forward");
  std::vector<double> loss(n);
#pragma omp parallel for schedule(static) if (parallel_worth_it(n, c))
  for (int i = 0; i < n; ++i) {
    const T* x = logits + int64_t(i) * c;
    T* p = probs + int64_t(i) * c;
    const double mx = *std::max_element(x, x + c);
    double sum_exp = 0, sum_z = 0;
    for (int j = 0; j < c; ++j) {
      const double z = double(x[j]) - mx;
      sum_exp += std::exp(z);
      sum_z += z;
    }
    const double log_sum = std::log(sum_exp);
    for (int j = 0; j < c; ++j) p[j] = T(std::exp(double(x[j]) - mx - log_sum));
    const double z_label = double(x[labels[i]]) - mx;
    loss[i] = (1.0 - smoothing) * (log_sum - z_label) + (smoothing / c) * (c * log_sum - sum_z);
  }
  double total = 0;
  for (int i = 0; i < n; ++i) total += loss[i];
  return total / n;
}

template <class T>
void softmax_xent_backward(int n, int c, const T* probs, const int32_t* labels, double smoothing, T* dlogits) {
  check_args(n, c, labels, smoothing, "softmax_xent_backward");
  const double off = smoothing / c, on = 1.0 - smoothing + off;
#pragma omp parallel for schedule(static) if (parallel_worth_it(n, c))
  for (int i = 0; i < n; ++i) {
    const T* p = probs + int64_t(i) * c;
    T* d = dlogits + int64_t(i) * c;
    for (int j = 0; j < c; ++j) d[j] = T((double(p[j]) - (j == labels[i] ? on : off)) / n);
  }
}

#define QUILL_INSTANTIATE(T)                                                               \
  template double softmax_xent_forward<T>(int, int, const T*, const int32_t*, double, T*); \
  template void softmax_xent_backward<T>(int, int, const T*, const int32_t*, double, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

// ---- binding to the ops (runtime/ops.h); register_cpu.cpp calls it ----
void bind_loss_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cpu;
  bind_rows(ops::softmax_xent_forward, B, [](auto t, RowLayout r, auto logits, auto labels, double smoothing,
                                             auto probs, auto loss) {
    using T = decltype(t);  // the CPU kernel returns the loss; the op writes it into loss [1]
    static_cast<T*>(loss)[0] = static_cast<T>(softmax_xent_forward<T>(r.n, r.c, logits, labels, smoothing, probs));
  });
  bind_rows(ops::softmax_xent_backward, B, [](auto t, RowLayout r, auto... a) {
    softmax_xent_backward<decltype(t)>(r.n, r.c, a...);
  });
  ops::count_correct.define(B, [](const Tensor& scores, const Tensor& labels, Tensor& correct) {
    const int n = rows_of(scores), c = row_size(scores);
    by_float_type(scores, "count_correct", [&](auto tag) {
      using T = decltype(tag);
      const T* s = scores.data<T>();
      const int32_t* y = labels.data<int32_t>();
      int32_t hits = 0;
      for (int i = 0; i < n; ++i) {
        int best = 0;
        for (int j = 1; j < c; ++j)
          if (s[int64_t(i) * c + j] > s[int64_t(i) * c + best]) best = j;
        hits += best == y[i];
      }
      correct.data<int32_t>()[0] = hits;
    });
  });
  ops::accumulate_loss.define(B, [](const Tensor& loss, const Tensor& correct, int64_t n, Tensor& sums) {
    double* s = sums.data<double>();
    s[0] = std::fma(loss.item(), double(n), s[0]);
    s[1] += correct.data<int32_t>()[0];
  });
}

}  // namespace quill::cpu
