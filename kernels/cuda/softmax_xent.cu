// Softmax cross-entropy with label smoothing. Forward: one warp per row (the class count of a character
// set, 10 to a few hundred, fits a warp's stride loop), max and sums by warp shuffles, a stable
// log-sum-exp; each row's loss goes to scratch and a single block adds the rows in a fixed order, so the
// batch mean is bit-reproducible. Backward is element-wise.
#include <cmath>

#include "kernels/binding.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "runtime/ops.h"

namespace quill::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;

// Per row, with z = x - max(x) and log_sum = log(sum exp z): log p_j = z_j - log_sum, and with smoothing s
// (target (1-s) one-hot + s/c) the loss -sum_j target_j log p_j is
//   (1-s) (log_sum - z_label) + (s/c) (c log_sum - sum_j z_j),
// the CPU reference's formula, in double.
template <class T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    softmax_xent_rows_kernel(int n, int c, const T* logits, const int32_t* labels, double smoothing, T* probs,
                             double* row_loss) {
  const int lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= n) return;  // whole warps leave together; no block-wide barrier follows
  const T* x = logits + int64_t(row) * c;
  T* p = probs + int64_t(row) * c;

  T max_x = x[0];
  for (int j = lane; j < c; j += 32) max_x = x[j] > max_x ? x[j] : max_x;
  const double mx = warp_max(max_x);

  double sum_exp = 0, sum_z = 0;
  for (int j = lane; j < c; j += 32) {
    const double z = double(x[j]) - mx;
    sum_exp += exp(z);
    sum_z += z;
  }
  sum_exp = warp_sum(sum_exp);
  sum_z = warp_sum(sum_z);
  const double log_sum = log(sum_exp);

  for (int j = lane; j < c; j += 32) p[j] = T(exp(double(x[j]) - mx - log_sum));

  if (lane == 0) {
    const int label = labels[row];
    // The CPU checks labels on the host; here that would cost a device-to-host copy per step, so an
    // invalid label makes the loss NaN instead of reading out of bounds.
    row_loss[row] = label >= 0 && label < c ? (1.0 - smoothing) * (log_sum - (double(x[label]) - mx)) +
                                                  (smoothing / c) * (c * log_sum - sum_z)
                                            : nan("");
  }
}

// loss[0] = mean of row_loss, summed by one block in a fixed order.
template <class T>
__global__ void __launch_bounds__(kThreads) mean_loss_kernel(int n, const double* row_loss, T* loss) {
  double sum = 0;
  for (int i = threadIdx.x; i < n; i += kThreads) sum += row_loss[i];
  sum = block_sum<kThreads>(sum);
  if (threadIdx.x == 0) loss[0] = T(sum / n);
}

// dlogits = (probs - target) / n, target = on at the label and off elsewhere.
template <class T>
__global__ void softmax_xent_backward_kernel(int64_t total, int n, int c, const T* probs, const int32_t* labels,
                                             double on, double off, T* dlogits) {
  for (int64_t i = grid_index(); i < total; i += grid_stride()) {
    const int row = static_cast<int>(i / c), j = static_cast<int>(i % c);
    dlogits[i] = T((double(probs[i]) - (j == labels[row] ? on : off)) / n);
  }
}

void check_args(int n, int c, double smoothing, const char* op) {
  QUILL_CHECK(n > 0 && c > 0, op, ": sizes must be positive (n=", n, " c=", c, ")");
  QUILL_CHECK(smoothing >= 0.0 && smoothing <= 1.0, op, ": label smoothing ", smoothing, " must be in [0, 1]");
}

}  // namespace

// loss is a device pointer to one element (the batch mean). A label outside [0, c) makes its row's loss, and
// so the mean, NaN (checking on the host would cost a copy).
template <class T>
void softmax_xent_forward(int n, int c, const T* logits, const int32_t* labels, double smoothing, T* probs,
                          T* loss) {
  check_args(n, c, smoothing, "softmax_xent_forward");
  DeviceScratch<double> row_loss(n);
  launch(softmax_xent_rows_kernel<T>, ceil_div(n, kWarpsPerBlock), kWarpsPerBlock * 32, 0, stream(), n, c, logits,
         labels, smoothing, probs, row_loss.get());
  launch(mean_loss_kernel<T>, 1, kThreads, 0, stream(), n, row_loss.get(), loss);
}

template <class T>
void softmax_xent_backward(int n, int c, const T* probs, const int32_t* labels, double smoothing, T* dlogits) {
  check_args(n, c, smoothing, "softmax_xent_backward");
  const int64_t total = int64_t(n) * c;
  const double off = smoothing / c, on = 1.0 - smoothing + off;
  launch(softmax_xent_backward_kernel<T>, blocks_for(total), kThreads, 0, stream(), total, n, c, probs, labels, on, off,
         dlogits);
}

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_loss_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  bind_rows(ops::softmax_xent_forward, B, [](auto t, RowLayout r, auto... a) {
    softmax_xent_forward<decltype(t)>(r.n, r.c, a...);
  });
  bind_rows(ops::softmax_xent_backward, B, [](auto t, RowLayout r, auto... a) {
    softmax_xent_backward<decltype(t)>(r.n, r.c, a...);
  });
}

}  // namespace quill::cuda
