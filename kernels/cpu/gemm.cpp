// Cache-blocked GEMM after Goto & van de Geijn: op(B) is packed into KC x NR column slivers (kept in L1
// while they are reused), op(A) into MR x KC row slivers (streamed from L2), and a register-blocked
// MR x NR micro-kernel updates each tile of C. Threads own disjoint tiles of C and the K partition
// depends on k alone, so every element is summed in the same order whatever the thread count.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_internal.h"
#include "runtime/error.h"

namespace quill::cpu {
namespace {

using detail::kSimdBytes;
using detail::kSimdRegs;

template <class T>
struct Blocking {
  typedef T Vec __attribute__((vector_size(kSimdBytes)));
  static constexpr int kLanes = kSimdBytes / int(sizeof(T));
  static constexpr int kNv = 2;             // vectors per micro-tile row
  static constexpr int kNr = kNv * kLanes;  // micro-tile columns
  // Micro-tile rows: kMr * kNv accumulators plus the B vectors and one broadcast fit the register file.
  static constexpr int kMr = kSimdRegs == 32 ? 8 : 6;
  static constexpr int kKcMax = 384 * 4 / int(sizeof(T));  // a KC x NR sliver of B stays within L1
  static constexpr int kMc = kMr * 24;                     // an MC x KC block of A stays within L2
  static constexpr int kNc = kNr * 64;                     // a KC x NC block of B stays within L2
};

template <class T>
struct GemmArgs {
  bool trans_a, trans_b;
  int m, n, k;
  T alpha;
  const T* a;
  int lda;
  const T* b;
  int ldb;
  const T* const* b_rows;  // optional start of each stored row of B (see gemm_internal.h)
  T beta;
  T* c;
  int ldc;
  int kc_step;  // K is split into equal blocks of at most kKcMax; depends on k only

  const T* a_row(int i) const { return a + size_t(i) * lda; }
  const T* b_row(int i) const { return b_rows != nullptr ? b_rows[i] : b + size_t(i) * ldb; }
};

int ceil_div(int a, int b) { return (a + b - 1) / b; }
int round_up(int a, int b) { return ceil_div(a, b) * b; }

template <class T>
int kc_step_for(int k) {
  return ceil_div(k, ceil_div(k, Blocking<T>::kKcMax));
}

// An L x L block of T held one row per vector, for packing transposed operands with shuffles instead of
// element-by-element strided stores.
template <class T, int L>
struct Square {
  typedef T Vec __attribute__((vector_size(L * sizeof(T))));

  // Stage B swaps bit B of the row index with bit B of the column index; all log2(L) stages transpose.
  // (__builtin_shufflevector takes constant lane indices; GCC 12 and clang both have it.)
  template <int B, int... K>
  static void stage(Vec (&r)[L], std::integer_sequence<int, K...>) {
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i) {
      if (i & B) continue;
      const Vec x = r[i], y = r[i + B];
      r[i] = __builtin_shufflevector(x, y, ((K & B) ? L + K - B : K)...);
      r[i + B] = __builtin_shufflevector(x, y, ((K & B) ? L + K : K + B)...);
    }
    if constexpr (B > 1) stage<B / 2>(r, std::integer_sequence<int, K...>{});
  }
  static void transpose(Vec (&r)[L]) { stage<L / 2>(r, std::make_integer_sequence<int, L>{}); }

  // dst[i * dst_stride + j] = rows[j][offset + i] for i, j < L.
  static void transpose_copy(const T* const* rows, size_t offset, T* dst, size_t dst_stride) {
    Vec v[L];
#pragma GCC unroll 16
    for (int j = 0; j < L; ++j) std::memcpy(&v[j], rows[j] + offset, sizeof(Vec));
    transpose(v);
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i) std::memcpy(dst + i * dst_stride, &v[i], sizeof(Vec));
  }
};

constexpr bool is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

// Stands in for the missing rows of a partial sliver, so partial slivers take the vector path too.
template <class T>
const T* zero_row() {
  static const T zeros[Blocking<T>::kKcMax] = {};
  return zeros;
}

// Packs rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) as MR-row slivers, p-major, zero-padded to MR rows.
template <class T>
void pack_a(const GemmArgs<T>& g, int i0, int mc, int p0, int kc, T* dst) {
  constexpr int MR = Blocking<T>::kMr;
  for (int is = 0; is < mc; is += MR) {
    const int mr = std::min(MR, mc - is);
    T* d = dst + size_t(is) * kc;
    if (g.trans_a) {  // op(A) columns are contiguous: plain copies
      for (int p = 0; p < kc; ++p) {
        const T* src = g.a_row(p0 + p) + i0 + is;
        for (int i = 0; i < mr; ++i) d[p * MR + i] = src[i];
        for (int i = mr; i < MR; ++i) d[p * MR + i] = T(0);
      }
      continue;
    }
    const T* rows[MR];
    for (int i = 0; i < MR; ++i) rows[i] = i < mr ? g.a_row(i0 + is + i) + p0 : zero_row<T>();
    int p = 0;
    if constexpr (is_pow2(MR) && MR * sizeof(T) >= 16)
      for (; p + MR <= kc; p += MR) Square<T, MR>::transpose_copy(rows, p, d + size_t(p) * MR, MR);
    for (; p < kc; ++p) {
      for (int i = 0; i < mr; ++i) d[p * MR + i] = rows[i][p];
      for (int i = mr; i < MR; ++i) d[p * MR + i] = T(0);
    }
  }
}

// Packs rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) as NR-column slivers, p-major, zero-padded to NR.
template <class T>
void pack_b(const GemmArgs<T>& g, int p0, int kc, int j0, int nc, T* dst) {
  constexpr int NR = Blocking<T>::kNr, L = Blocking<T>::kLanes;
  for (int js = 0; js < nc; js += NR) {
    const int nr = std::min(NR, nc - js);
    T* d = dst + size_t(js) * kc;
    if (!g.trans_b) {  // op(B) rows are contiguous: plain copies
      if (nr == NR) {
        for (int p = 0; p < kc; ++p) std::memcpy(d + p * NR, g.b_row(p0 + p) + j0 + js, sizeof(T) * NR);
      } else {
        for (int p = 0; p < kc; ++p) {
          const T* src = g.b_row(p0 + p) + j0 + js;
          for (int j = 0; j < nr; ++j) d[p * NR + j] = src[j];
          for (int j = nr; j < NR; ++j) d[p * NR + j] = T(0);
        }
      }
      continue;
    }
    const T* rows[NR];
    for (int j = 0; j < NR; ++j) rows[j] = j < nr ? g.b_row(j0 + js + j) + p0 : zero_row<T>();
    int p = 0;
    for (; p + L <= kc; p += L)
      for (int h = 0; h < NR; h += L) Square<T, L>::transpose_copy(rows + h, p, d + size_t(p) * NR + h, NR);
    for (; p < kc; ++p) {
      for (int j = 0; j < nr; ++j) d[p * NR + j] = rows[j][p];
      for (int j = nr; j < NR; ++j) d[p * NR + j] = T(0);
    }
  }
}

// Where the micro-kernel finds row p (NR values) of its B sliver: packed contiguously, or in place in
// the caller's rows (full-width slivers of a non-transposed B given by row pointers). Both feed the same
// values in the same order, so the choice never changes a result.
template <class T>
struct PackedSliver {
  const T* data;
  const T* row(int p) const { return data + size_t(p) * Blocking<T>::kNr; }
};
template <class T>
struct InPlaceSliver {
  const T* const* rows;  // rows[p] for p in the K block
  int col;
  const T* row(int p) const { return rows[p] + col; }
};

// C tile (mr x nr valid of MR x NR) = sum over kc of A sliver x B sliver, folded into C with alpha/beta.
// `first`: this is the first K block, so beta applies (beta == 0 never reads C, BLAS-style).
template <class T, class Sliver>
inline void micro_kernel(int kc, const T* __restrict ap, Sliver b, T* __restrict c, int ldc, int mr, int nr, T alpha,
                         T beta, bool first) {
  using B = Blocking<T>;
  using Vec = typename B::Vec;
  constexpr int MR = B::kMr, NV = B::kNv, L = B::kLanes, NR = B::kNr;
  Vec acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = Vec{};
  for (int p = 0; p < kc; ++p) {
    const T* bp = b.row(p);
    Vec bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) std::memcpy(&bv[j], bp + j * L, sizeof(Vec));
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const T av = ap[i];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] += av * bv[j];
    }
    ap += MR;
  }
  if (mr == MR && nr == NR) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      T* row = c + size_t(i) * ldc;
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        Vec r = alpha * acc[i][j], old;
        if (!first || beta != T(0)) {
          std::memcpy(&old, row + j * L, sizeof(Vec));
          r += (first ? beta : T(1)) * old;
        }
        std::memcpy(row + j * L, &r, sizeof(Vec));
      }
    }
  } else {
    alignas(64) T buf[MR * NR];
    std::memcpy(buf, acc, sizeof(buf));
    for (int i = 0; i < mr; ++i) {
      T* row = c + size_t(i) * ldc;
      for (int j = 0; j < nr; ++j) {
        T r = alpha * buf[i * NR + j];
        if (!first || beta != T(0)) r += (first ? beta : T(1)) * row[j];
        row[j] = r;
      }
    }
  }
}

// Rows [i0, i1) x cols [j0, j1) of C, on the calling thread. Tile origins are multiples of MR / NR so the
// micro-tiles (and hence the arithmetic) are the same however C is split.
template <class T>
void gemm_block(const GemmArgs<T>& g, int i0, int i1, int j0, int j1, detail::GemmWorkspace<T>& ws) {
  using B = Blocking<T>;
  const int kc_max = g.kc_step;
  // With a single block of rows (few rows, as in convolutions) each packed B sliver is used once per
  // K block: pack it just before use so it never leaves L1, instead of packing the whole KC x NC block.
  const bool one_row_block = i1 - i0 <= B::kMc;
  T* bp = ws.b_pack.get(size_t(kc_max) * (one_row_block ? B::kNr : round_up(std::min(B::kNc, j1 - j0), B::kNr)));
  T* ap = ws.a_pack.get(size_t(kc_max) * round_up(std::min(B::kMc, i1 - i0), B::kMr));
  auto row_panels = [&](int ic, int mc, int kc, auto b_sliver, int jc, int nr, bool first) {
    for (int is = 0; is < mc; is += B::kMr)
      micro_kernel(kc, ap + size_t(is) * kc, b_sliver, g.c + size_t(ic + is) * g.ldc + jc, g.ldc,
                   std::min(B::kMr, mc - is), nr, g.alpha, g.beta, first);
  };
  for (int jc = j0; jc < j1; jc += B::kNc) {
    const int nc = std::min(B::kNc, j1 - jc);
    for (int pc = 0; pc < g.k; pc += kc_max) {
      const int kc = std::min(kc_max, g.k - pc);
      if (one_row_block) {
        pack_a(g, i0, i1 - i0, pc, kc, ap);
        for (int js = 0; js < nc; js += B::kNr) {
          const int nr = std::min(B::kNr, nc - js);
          if (g.b_rows != nullptr && !g.trans_b && nr == B::kNr) {  // rows already in cache: no copy
            row_panels(i0, i1 - i0, kc, InPlaceSliver<T>{g.b_rows + pc, jc + js}, jc + js, nr, pc == 0);
          } else {
            pack_b(g, pc, kc, jc + js, nr, bp);
            row_panels(i0, i1 - i0, kc, PackedSliver<T>{bp}, jc + js, nr, pc == 0);
          }
        }
        continue;
      }
      pack_b(g, pc, kc, jc, nc, bp);
      for (int ic = i0; ic < i1; ic += B::kMc) {
        const int mc = std::min(B::kMc, i1 - ic);
        pack_a(g, ic, mc, pc, kc, ap);
        for (int js = 0; js < nc; js += B::kNr)
          row_panels(ic, mc, kc, PackedSliver<T>{bp + size_t(js) * kc}, jc + js, std::min(B::kNr, nc - js), pc == 0);
      }
    }
  }
}

template <class T>
void check_args(bool trans_a, bool trans_b, int m, int n, int k, int lda, int ldb, int ldc) {
  QUILL_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, " n=", n, " k=", k);
  QUILL_CHECK(lda >= std::max(1, trans_a ? m : k), "gemm: lda=", lda, " too small for op(A) ", m, "x", k,
              trans_a ? " (transposed)" : "");
  QUILL_CHECK(ldb >= std::max(1, trans_b ? k : n), "gemm: ldb=", ldb, " too small for op(B) ", k, "x", n,
              trans_b ? " (transposed)" : "");
  QUILL_CHECK(ldc >= std::max(1, n), "gemm: ldc=", ldc, " smaller than n=", n);
}

// C = beta * C when there is nothing to multiply (k == 0 or alpha == 0). Returns true if that was the case.
template <class T>
bool scale_only(int m, int n, int k, T alpha, T beta, T* c, int ldc) {
  if (m == 0 || n == 0) return true;
  if (k != 0 && alpha != T(0)) return false;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[size_t(i) * ldc + j] = beta == T(0) ? T(0) : beta * c[size_t(i) * ldc + j];
  return true;
}

}  // namespace

namespace detail {

template <class T>
void gemm_serial(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                 T beta, T* c, int ldc, GemmWorkspace<T>& ws, const T* const* b_rows) {
  check_args<T>(trans_a, trans_b, m, n, k, lda, b_rows != nullptr ? std::max(1, trans_b ? k : n) : ldb, ldc);
  if (scale_only(m, n, k, alpha, beta, c, ldc)) return;
  const GemmArgs<T> g{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, b_rows, beta, c, ldc, kc_step_for<T>(k)};
  gemm_block(g, 0, m, 0, n, ws);
}

template <class T>
void gemm_threaded(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                   T beta, T* c, int ldc, const T* const* b_rows) {
  using B = Blocking<T>;
  check_args<T>(trans_a, trans_b, m, n, k, lda, b_rows != nullptr ? std::max(1, trans_b ? k : n) : ldb, ldc);
  if (scale_only(m, n, k, alpha, beta, c, ldc)) return;
  const GemmArgs<T> g{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, b_rows, beta, c, ldc, kc_step_for<T>(k)};

  // Split C into tiles for the threads, about four per thread for load balance. Only the split depends
  // on the thread count, never the arithmetic (see gemm_block).
  const int threads = omp_get_max_threads();
  const bool parallel = threads > 1 && double(m) * n * k >= 64.0 * 64 * 64;
  const int want = 4 * threads;
  int tile_m = std::min(round_up(m, B::kMr), B::kMc);
  if (ceil_div(m, tile_m) * ceil_div(n, B::kNr) < want)  // few columns: split rows finer than MC
    tile_m = round_up(ceil_div(m, want), B::kMr);
  const int row_tiles = ceil_div(m, tile_m);
  const int col_tiles_wanted = std::max(ceil_div(n, B::kNc), ceil_div(want, row_tiles));
  const int tile_n = round_up(ceil_div(n, col_tiles_wanted), B::kNr);
  const int col_tiles = ceil_div(n, tile_n);
  const int tiles = row_tiles * col_tiles;

#pragma omp parallel if (parallel)
  {
    GemmWorkspace<T> ws;
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < tiles; ++t) {
      const int i0 = (t / col_tiles) * tile_m, j0 = (t % col_tiles) * tile_n;
      gemm_block(g, i0, std::min(m, i0 + tile_m), j0, std::min(n, j0 + tile_n), ws);
    }
  }
}

}  // namespace detail

template <class T>
void gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
          T* c, int ldc) {
  detail::gemm_threaded<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr);
}

#define QUILL_INSTANTIATE(T)                                                                                     \
  template void gemm<T>(bool, bool, int, int, int, T, const T*, int, const T*, int, T, T*, int);                 \
  template void detail::gemm_serial<T>(bool, bool, int, int, int, T, const T*, int, const T*, int, T, T*, int,   \
                                       detail::GemmWorkspace<T>&, const T* const*);                              \
  template void detail::gemm_threaded<T>(bool, bool, int, int, int, T, const T*, int, const T*, int, T, T*, int, \
                                         const T* const*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

}  // namespace quill::cpu
