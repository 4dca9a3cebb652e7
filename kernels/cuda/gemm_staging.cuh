#pragma once
// Staging of operand tiles into shared memory, shared by the GEMM kernels (the SIMT core of gemm_tiles.cuh
// and the tensor-core core of gemm_tiles_tf32.cuh), so the bounds and coalescing logic exists once.
#include "kernels/cuda/cuda_common.cuh"

namespace quill::cuda {

// Copies a kRows x kDepth slice of one operand into tile[kk][rr] = get(row0 + rr, k0 + kk): depth-major,
// the layout both kernels read (for A: rows are m; for B: rows are n, and get(n, k) reads B(k, n)).
// Elements outside rows [0, rows) or depth [k0, k_end) are zero, so partial tiles at the edges of M, N and
// K (or of a split-K chunk) add nothing. kContiguousInK picks which index neighbouring threads take, so
// that their global reads coalesce: neighbouring k when the operand stores k contiguously, else
// neighbouring rows. All kThreads threads of the block call it (a multiple of the tile size).
struct StageSlot {
  int row, depth;  // the tile element tile[depth][row]
};

// The tile element that the e-th load of a block (thread t's i-th is e = t + i * kThreads) fills: with
// kContiguousInK neighbouring e take neighbouring depths, else neighbouring rows. Host-callable, so that
// tests/test_cuda_index_maps.cu can check that the loads fill every element once.
template <int kRows, int kDepth, bool kContiguousInK>
__host__ __device__ constexpr StageSlot stage_slot(int e) {
  return kContiguousInK ? StageSlot{e / kDepth, e % kDepth} : StageSlot{e % kRows, e / kRows};
}

template <int kRows, int kDepth, int kThreads, bool kContiguousInK, class T, int kLd, class Get>
__device__ __forceinline__ void stage_tile(T (&tile)[kDepth][kLd], int row0, int rows, int k0, int k_end,
                                           const Get& get) {
  static_assert(kRows * kDepth % kThreads == 0, "the block's threads must cover the tile evenly");
  static_assert(kLd >= kRows, "tile rows must fit the leading dimension");
#pragma unroll
  for (int i = 0; i < kRows * kDepth / kThreads; ++i) {
    const StageSlot slot = stage_slot<kRows, kDepth, kContiguousInK>(static_cast<int>(threadIdx.x) + i * kThreads);
    const int row = row0 + slot.row, k = k0 + slot.depth;
    tile[slot.depth][slot.row] = (row < rows && k < k_end) ? get(row, k) : T(0);
  }
}

}  // namespace quill::cuda
