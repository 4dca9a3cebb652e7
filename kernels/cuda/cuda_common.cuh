#pragma once
// Helpers shared by the kernels: launch sizes, accumulator types and deterministic reductions.
#include <climits>
#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_runtime.h"
#include "kernels/cuda/launch.cuh"

namespace quill::cuda {

constexpr int kThreads = 256;  // threads per block of the element-wise and reduction kernels

// Blocks for a grid-stride loop over n elements: enough to fill the GPU, never above the grid limit.
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  constexpr int64_t kMaxBlocks = int64_t(1) << 20;  // grid-stride loops cover the rest
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

// The largest size the kernels' int loops may run to. Loop counters and tile origins step past their end by
// up to a block (256), a tile (64) or the rounding of a split-K chunk (16 per split, at most 64 splits),
// and that overshoot must stay inside int: INT32_MAX itself would wrap on the last step.
constexpr int64_t kMaxIntExtent = INT32_MAX - 65536;

inline int ceil_div(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }

// Index of this thread in a grid-stride loop, and the stride.
__device__ __forceinline__ int64_t grid_index() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

template <class A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
template <class A>
__device__ __forceinline__ A warp_max(A v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const A other = __shfl_xor_sync(0xffffffffu, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

// Sum over the block of each thread's v, in a fixed tree order (so the result is bit-reproducible);
// every thread gets the total. kBlock threads, a power of two; all threads of the block must call it.
template <int kBlock, class A>
__device__ A block_sum(A v) {
  static_assert((kBlock & (kBlock - 1)) == 0, "block size must be a power of two");
  __shared__ A partial[kBlock];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (int half = kBlock / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const A total = partial[0];
  __syncthreads();  // the array may be reused by the next call
  return total;
}

}  // namespace quill::cuda
