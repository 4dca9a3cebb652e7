#pragma once
// The tensor-core GEMM core (kernel version 2, docs/ARCHITECTURE.md): C[M x N] = A[M x K] * B[K x N] in TF32
// with float32 accumulation, on the same operand functors and store epilogues as the SIMT core
// (gemm_tiles.cuh describes the interface), so gemm, dense and the three convolution passes get it without
// any index logic of their own. float only; launch_gemm_tiles() in gemm_tiles.cuh chooses between the two.
//
// Tiling: a block of 8 warps owns a 64 x 64 tile of C and walks K in steps of 16, staging a 64 x 16 slice
// of A and a 16 x 64 slice of B in shared memory exactly as the SIMT core does (stage_tile, zero outside
// the matrix). The warps form a 4 x 2 grid; each owns 16 rows x 32 columns of C as two 16 x 16 WMMA
// accumulators and, per step of 8 along K, multiplies one 16 x 8 fragment of A by two 8 x 16 fragments of B
// (m16n16k8 is the one WMMA shape TF32 has). Fragments are rounded from float to TF32 (round to nearest,
// wmma::__float_to_tf32) as they are loaded, as the CUDA programming guide requires: the tensor cores read
// only the TF32 bits of each float, so without it the low 13 mantissa bits would be cut off (a bias towards
// zero) rather than rounded.
// Epilogue: the accumulators go through shared memory (the element-to-thread mapping of a fragment is
// unspecified) and every thread then hands 16 elements to the store functor, neighbouring threads taking
// neighbouring columns, as in the SIMT core. Split-K: blockIdx.z is the chunk, as there.
//
// Device code exists for sm_80 and later only (TF32 WMMA came with Ampere). For older targets the kernel
// body is a trap, and the host never launches it there: tf32_tensor_cores() (settings.h) reads the
// architecture the kernels were compiled for.
#include <mma.h>

#include "kernels/cuda/gemm_staging.cuh"

namespace quill::cuda {

struct GemmTileTf32 {
  static constexpr int kM = 64, kN = 64, kK = 16;            // block tile, as the SIMT core's
  static constexpr int kFragM = 16, kFragN = 16, kFragK = 8;  // WMMA m16n16k8
  static constexpr int kWarpsM = 4, kWarpsN = 2, kThreads = 32 * kWarpsM * kWarpsN;
  static constexpr int kWarpN = kN / kWarpsN;      // 32 columns of C per warp ...
  static constexpr int kFragsN = kWarpN / kFragN;  // ... as 2 accumulator fragments
  // Shared tiles are padded by 4 floats per row: WMMA needs leading dimensions that are multiples of
  // 16 bytes and fragment pointers on 32-byte boundaries (both hold: every fragment starts at a row that is
  // a multiple of 8 and a column that is a multiple of 16), and the padding shifts the banks of successive
  // rows.
  static constexpr int kPad = 4;
  static constexpr int kLdA = kM + kPad, kLdB = kN + kPad, kLdC = kN + kPad;
  static_assert(kM == kWarpsM * kFragM, "the warps' rows must cover the tile");
  static_assert(kWarpN % kFragN == 0 && kK % kFragK == 0, "fragments must tile the warp's part");
  static_assert(kLdA % 4 == 0 && kLdB % 4 == 0 && kLdC % 4 == 0, "WMMA leading dimensions: multiples of 16 bytes");
};

template <class LoadA, class LoadB, class Store>
__global__ void __launch_bounds__(GemmTileTf32::kThreads)
    gemm_tiles_tf32_kernel(int M, int N, int K, int k_chunk, LoadA load_a, LoadB load_b, Store store) {
  // The host pass (no __CUDA_ARCH__) sees the WMMA declarations too; device passes below sm_80 do not.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  namespace wmma = nvcuda::wmma;
  using S = GemmTileTf32;
  // A slice stored k-major: element (m, k) at a_tile[k][m], i.e. a column-major 64 x 16 matrix (ld kLdA).
  // B slice: element (k, n) at b_tile[k][n], a row-major 16 x 64 matrix (ld kLdB).
  __shared__ __align__(32) float a_tile[S::kK][S::kLdA];
  __shared__ __align__(32) float b_tile[S::kK][S::kLdB];
  __shared__ __align__(32) float c_tile[S::kM][S::kLdC];

  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int warp_m = warp % S::kWarpsM * S::kFragM;  // this warp's first row and column within the tile
  const int warp_n = warp / S::kWarpsM * S::kWarpN;
  const int m0 = blockIdx.y * S::kM, n0 = blockIdx.x * S::kN;
  const int k_begin = blockIdx.z * k_chunk;
  const int k_end = min(K, k_begin + k_chunk);

  wmma::fragment<wmma::accumulator, S::kFragM, S::kFragN, S::kFragK, float> acc[S::kFragsN];
#pragma unroll
  for (int j = 0; j < S::kFragsN; ++j) wmma::fill_fragment(acc[j], 0.0f);

  for (int k0 = k_begin; k0 < k_end; k0 += S::kK) {
    stage_tile<S::kM, S::kK, S::kThreads, LoadA::kContiguousInK>(a_tile, m0, M, k0, k_end, load_a);
    stage_tile<S::kN, S::kK, S::kThreads, LoadB::kContiguousInK>(b_tile, n0, N, k0, k_end,
                                                                 [&](int n, int k) { return load_b(k, n); });
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < S::kK; kk += S::kFragK) {
      // Rows warp_m.. of A at depth kk..kk+7: column-major with leading dimension kLdA.
      wmma::fragment<wmma::matrix_a, S::kFragM, S::kFragN, S::kFragK, wmma::precision::tf32, wmma::col_major> a;
      wmma::load_matrix_sync(a, &a_tile[kk][warp_m], S::kLdA);
#pragma unroll
      for (int t = 0; t < a.num_elements; ++t) a.x[t] = wmma::__float_to_tf32(a.x[t]);
#pragma unroll
      for (int j = 0; j < S::kFragsN; ++j) {
        // Depth kk..kk+7 of B at columns warp_n + 16 j..: row-major with leading dimension kLdB.
        wmma::fragment<wmma::matrix_b, S::kFragM, S::kFragN, S::kFragK, wmma::precision::tf32, wmma::row_major> b;
        wmma::load_matrix_sync(b, &b_tile[kk][warp_n + j * S::kFragN], S::kLdB);
#pragma unroll
        for (int t = 0; t < b.num_elements; ++t) b.x[t] = wmma::__float_to_tf32(b.x[t]);
        wmma::mma_sync(acc[j], a, b, acc[j]);
      }
    }
    __syncthreads();  // the tiles are overwritten by the next step
  }

#pragma unroll
  for (int j = 0; j < S::kFragsN; ++j)
    wmma::store_matrix_sync(&c_tile[warp_m][warp_n + j * S::kFragN], acc[j], S::kLdC, wmma::mem_row_major);
  __syncthreads();
#pragma unroll
  for (int i = 0; i < S::kM * S::kN / S::kThreads; ++i) {
    const int e = static_cast<int>(threadIdx.x) + i * S::kThreads;
    const int mm = e / S::kN, nn = e % S::kN;
    const int m = m0 + mm, n = n0 + nn;
    if (m < M && n < N) store(m, n, static_cast<int>(blockIdx.z), c_tile[mm][nn]);
  }
#else
  __trap();  // unreachable: launch_gemm_tiles() runs the SIMT core where tf32_tensor_cores() is false
#endif
}

}  // namespace quill::cuda
