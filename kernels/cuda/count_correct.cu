// Number of rows whose arg-max (the first maximum, as the CPU reference picks it) equals the label.
// One block: each thread takes rows in a fixed stride, then a block sum. Integer sums are exact, so the
// order does not matter here, but one launch with no memset keeps it simple.
#include "kernels/binding.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "runtime/ops.h"

namespace quill::cuda {
namespace {

constexpr int kBlock = 1024;

template <class T>
__global__ void __launch_bounds__(kBlock) count_correct_kernel(int n, int c, const T* scores,
                                                               const int32_t* labels, int32_t* correct) {
  int hits = 0;
  for (int row = threadIdx.x; row < n; row += kBlock) {
    const T* s = scores + int64_t(row) * c;
    int best = 0;
    for (int j = 1; j < c; ++j)
      if (s[j] > s[best]) best = j;
    hits += best == labels[row];
  }
  hits = block_sum<kBlock>(hits);
  if (threadIdx.x == 0) correct[0] = hits;
}

}  // namespace

template <class T>
void count_correct(int n, int c, const T* scores, const int32_t* labels, int32_t* correct) {
  QUILL_CHECK(n >= 0 && (n == 0 || c > 0), "count_correct: needs at least one class");
  launch(count_correct_kernel<T>, 1, kBlock, 0, stream(), n, c, scores, labels, correct);
}

// ---- binding to the ops (runtime/ops.h); register_cuda.cpp calls it ----
void bind_count_correct_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cuda;
  bind_rows(ops::count_correct, B, [](auto t, RowLayout r, auto... a) { count_correct<decltype(t)>(r.n, r.c, a...); });
}

}  // namespace quill::cuda
