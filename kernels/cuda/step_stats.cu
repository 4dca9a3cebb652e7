// A training epoch's running loss sum and correct count, added to on the device after every step so that no
// step waits for the host to read its loss (engine/trainer.cpp reads the sums when it reports).
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/step_kernels.h"

namespace quill::cuda {
namespace {

// One thread. fma(), as the host's `sum += loss * n` compiles for x86-64 with FMA; a double's integer sum of
// counts is exact below 2^53.
template <class T>
__global__ void accumulate_loss_kernel(const T* loss, const int32_t* correct, double n, double* sums) {
  sums[0] = fma(double(loss[0]), n, sums[0]);
  sums[1] += double(correct[0]);
}

}  // namespace

template <class T>
void accumulate_loss(const T* loss, const int32_t* correct, int64_t n, double* sums) {
  launch(accumulate_loss_kernel<T>, 1, 1, 0, stream(), loss, correct, double(n), sums);
}

template void accumulate_loss<float>(const float*, const int32_t*, int64_t, double*);
template void accumulate_loss<double>(const double*, const int32_t*, int64_t, double*);

}  // namespace quill::cuda
