#pragma once
// The GEMM core that gemm, dense and the three convolutions share: C[M x N] = A[M x K] * B[K x N] where
// A and B are not matrices in memory but functors returning element (m, k) and (k, n). Convolutions pass
// functors that gather image patches on the fly (implicit GEMM), so no column buffer is ever written.
//
// Two kernels implement it (numbered kernel versions, docs/ARCHITECTURE.md), chosen per launch by
// launch_gemm_tiles() from the caller's Math (kernels/cuda/settings.h):
//   v1, Math::Fp32 and all float64: the SIMT kernel below, strict float32 FMAs;
//   v2, Math::Tf32 on float: tensor cores in TF32 with float32 accumulation (gemm_tiles_tf32.cuh), where the
//       kernels were compiled for sm_80 or later; elsewhere v1 runs.
// Both stage tiles through stage_tile (gemm_staging.cuh) and call the functors the same way.
//
// v1 tiling: each block of 256 threads owns a 64 x 64 tile of C and walks K in steps of 16, staging a
// 64 x 16 slice of A and a 16 x 64 slice of B in shared memory; each thread keeps a 4 x 4 block of C in
// registers (rows ty + 16i, columns tx + 16j, so neighbouring threads store neighbouring columns).
// Split-K: blockIdx.z selects a chunk of K; the store functor receives the chunk index so a caller can
// write per-chunk partials and add them in a fixed order afterwards (deterministic, no atomics).
//
// Functor interface:
//   LoadA: T operator()(int m, int k) const;  LoadB: T operator()(int k, int n) const;
//          static constexpr bool kContiguousInK: whether neighbouring k are neighbours in memory, which
//          picks the thread-to-element mapping of the tile loads so that they coalesce.
//   Store: void operator()(int m, int n, int split, T value) const.
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/gemm_staging.cuh"
#include "kernels/cuda/gemm_tiles_tf32.cuh"
#include "kernels/cuda/settings.h"
#include "runtime/error.h"

namespace quill::cuda {

struct GemmTile {
  static constexpr int kM = 64, kN = 64, kK = 16;
  static constexpr int kThreadsX = 16, kThreadsY = 16, kThreads = kThreadsX * kThreadsY;
  static constexpr int kRegM = kM / kThreadsY, kRegN = kN / kThreadsX;  // 4 x 4 outputs per thread
};

template <class T, class LoadA, class LoadB, class Store>
__global__ void __launch_bounds__(GemmTile::kThreads)
    gemm_tiles_kernel(int M, int N, int K, int k_chunk, LoadA load_a, LoadB load_b, Store store) {
  using S = GemmTile;
  // +1 column: the loads along K write a column of the tile, which would otherwise hit one bank.
  __shared__ T a_tile[S::kK][S::kM + 1];
  __shared__ T b_tile[S::kK][S::kN + 1];

  const int tid = threadIdx.x, tx = tid % S::kThreadsX, ty = tid / S::kThreadsX;
  const int m0 = blockIdx.y * S::kM, n0 = blockIdx.x * S::kN;
  const int k_begin = blockIdx.z * k_chunk;
  const int k_end = min(K, k_begin + k_chunk);

  T acc[S::kRegM][S::kRegN];
#pragma unroll
  for (int i = 0; i < S::kRegM; ++i)
#pragma unroll
    for (int j = 0; j < S::kRegN; ++j) acc[i][j] = T(0);

  for (int k0 = k_begin; k0 < k_end; k0 += S::kK) {
    stage_tile<S::kM, S::kK, S::kThreads, LoadA::kContiguousInK>(a_tile, m0, M, k0, k_end, load_a);
    stage_tile<S::kN, S::kK, S::kThreads, LoadB::kContiguousInK>(b_tile, n0, N, k0, k_end,
                                                                 [&](int n, int k) { return load_b(k, n); });
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < S::kK; ++kk) {
      T a[S::kRegM], b[S::kRegN];
#pragma unroll
      for (int i = 0; i < S::kRegM; ++i) a[i] = a_tile[kk][ty + i * S::kThreadsY];
#pragma unroll
      for (int j = 0; j < S::kRegN; ++j) b[j] = b_tile[kk][tx + j * S::kThreadsX];
#pragma unroll
      for (int i = 0; i < S::kRegM; ++i)
#pragma unroll
        for (int j = 0; j < S::kRegN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < S::kRegM; ++i)
#pragma unroll
    for (int j = 0; j < S::kRegN; ++j) {
      const int m = m0 + ty + i * S::kThreadsY, n = n0 + tx + j * S::kThreadsX;
      if (m < M && n < N) store(m, n, static_cast<int>(blockIdx.z), acc[i][j]);
    }
}

// How K is cut into chunks for split-K: `splits` chunks of `chunk` (a multiple of the tile depth).
struct SplitK {
  int splits = 1, chunk = 0;
};

static_assert(GemmTileTf32::kK == GemmTile::kK, "split-K chunks are whole K steps of both kernels");

inline int round_up_to_tile_depth(int k) { return (k + GemmTile::kK - 1) / GemmTile::kK * GemmTile::kK; }

// One chunk covering all of K.
inline SplitK no_split(int K) { return {1, K < 1 ? GemmTile::kK : round_up_to_tile_depth(K)}; }

// Chunks of about `target` elements, at most `max_splits` of them. Depends on K alone (not on the
// device), so the summation order, and hence the result, is the same on every GPU.
inline SplitK split_k(int K, int target, int max_splits) {
  int splits = ceil_div(K, target);
  splits = splits < 1 ? 1 : (splits > max_splits ? max_splits : splits);
  SplitK s;
  s.chunk = round_up_to_tile_depth(ceil_div(K, splits));
  if (s.chunk < GemmTile::kK) s.chunk = GemmTile::kK;
  s.splits = ceil_div(K, s.chunk);  // rounding the chunk up may leave fewer, never empty, chunks
  if (s.splits < 1) s.splits = 1;
  return s;
}

// One GEMM for the tiled core: C[m][n] = sum over kk of a(m, kk) * b(kk, n), handed to store with the
// split-K chunk index. The callers build these (conv2d_gemm.cuh, matrix_gemm.cuh) so that the index math can
// also be multiplied on the host (tests/test_cuda_index_maps.cu).
template <class A, class B, class Store>
struct GemmProblem {
  int m, n, k;
  SplitK split;  // chunks of K; store receives the chunk index
  A a;
  B b;
  Store store;
};

// The grid of a launch: one block per tile of C, one layer per split-K chunk.
template <class Tile>
dim3 gemm_grid(int M, int N, SplitK split) {
  const int m_tiles = ceil_div(M, Tile::kM), n_tiles = ceil_div(N, Tile::kN);
  QUILL_CHECK(m_tiles <= 65535, "gemm: ", M, " rows exceed the grid limit (", 65535 * Tile::kM, ")");
  QUILL_CHECK(split.splits <= 65535, "gemm: ", split.splits, " split-K chunks exceed the grid limit (65535)");
  return dim3(n_tiles, m_tiles, split.splits);
}

// The one dispatch point between the kernel versions: TF32 tensor cores (v2) when the caller asks for
// Math::Tf32, T is float and the kernels were compiled for sm_80 or later; the SIMT kernel (v1) otherwise.
template <class T, class LoadA, class LoadB, class Store>
void launch_gemm_tiles(Math math, int M, int N, int K, SplitK split, LoadA load_a, LoadB load_b, Store store) {
  QUILL_CHECK(M <= kMaxIntExtent && N <= kMaxIntExtent && K <= kMaxIntExtent, "gemm: sizes ", M, "x", N, "x", K,
              " too large for 32-bit loops (at most ", kMaxIntExtent, ")");
  if (M <= 0 || N <= 0) return;
  if constexpr (std::is_same<T, float>::value) {
    if (math == Math::Tf32 && tf32_tensor_cores()) {
      launch(gemm_tiles_tf32_kernel<LoadA, LoadB, Store>, gemm_grid<GemmTileTf32>(M, N, split), GemmTileTf32::kThreads,
             0, stream(), M, N, K, split.chunk, load_a, load_b, store);
      return;
    }
  }
  launch(gemm_tiles_kernel<T, LoadA, LoadB, Store>, gemm_grid<GemmTile>(M, N, split), GemmTile::kThreads, 0, stream(),
         M, N, K, split.chunk, load_a, load_b, store);
}

template <class T, class A, class B, class Store>
void launch_gemm_problem(Math math, const GemmProblem<A, B, Store>& p) {
  launch_gemm_tiles<T>(math, p.m, p.n, p.k, p.split, p.a, p.b, p.store);
}

// ---- operands that are plain row-major matrices, optionally transposed ----

// op(A)(m, k) of A stored with row stride ld (A is M x K, or K x M when transposed).
template <class T, bool Transposed>
struct MatrixA {
  const T* p;
  int ld;
  static constexpr bool kContiguousInK = !Transposed;
  __host__ __device__ T operator()(int m, int k) const {
    return Transposed ? p[int64_t(k) * ld + m] : p[int64_t(m) * ld + k];
  }
};

// op(B)(k, n) of B stored with row stride ld (B is K x N, or N x K when transposed).
template <class T, bool Transposed>
struct MatrixB {
  const T* p;
  int ld;
  static constexpr bool kContiguousInK = Transposed;
  __host__ __device__ T operator()(int k, int n) const {
    return Transposed ? p[int64_t(n) * ld + k] : p[int64_t(k) * ld + n];
  }
};

}  // namespace quill::cuda
