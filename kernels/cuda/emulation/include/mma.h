#pragma once
// nvcuda::wmma as the CPU emulation provides it: the TF32 m16n16k8 shape Quill's tensor-core GEMM uses
// (kernels/cuda/gemm_tiles_tf32.cuh), modelled functionally.
//
// A fragment is spread over the 32 lanes of a warp, as on a GPU: each lane holds num_elements of the tile
// (4 of A's 16x8, 4 of B's 8x16, 8 of the 16x16 accumulator; lane l holds tile elements l, l + 32, ... in
// row-major order; CUDA leaves the mapping unspecified, so no kernel may rely on it). Loads and stores are
// warp-collective (every lane must take part); mma_sync gathers the whole tiles from the lanes and computes
// D = A B + C with the tensor cores' arithmetic: A and B read as TF32 (the low 13 mantissa bits ignored),
// products exact, sums in float32 in k order. __float_to_tf32 rounds to nearest, ties away from zero
// (cvt.rna.tf32.f32). Pointers must be 32-byte aligned and leading dimensions multiples of 16 bytes, as
// the CUDA programming guide requires; anything else is a fault here.
#include <cstdint>
#include <cstring>

#include "cuda_runtime.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

namespace detail {

template <class Use, int M, int N, int K>
struct Tile;
template <int M, int N, int K>
struct Tile<matrix_a, M, N, K> {
  static constexpr int kRows = M, kCols = K;
};
template <int M, int N, int K>
struct Tile<matrix_b, M, N, K> {
  static constexpr int kRows = K, kCols = N;
};
template <int M, int N, int K>
struct Tile<accumulator, M, N, K> {
  static constexpr int kRows = M, kCols = N;
};

inline uint32_t bits_of(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
inline float float_of(uint32_t b) {
  float v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}
// What the tensor cores read of a float in TF32 mode: sign, exponent and the top 10 mantissa bits.
inline float tf32_bits(float v) { return float_of(bits_of(v) & 0xffffe000u); }

void check_pointer(const void* p, unsigned ldm_elements, const char* what, const char* file, int line);

}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert(M == 16 && N == 16 && K == 8, "the emulation models the TF32 shape m16n16k8 only");
  using TileShape = detail::Tile<Use, M, N, K>;

 public:
  static constexpr int kRows = TileShape::kRows, kCols = TileShape::kCols;
  static constexpr int num_elements = kRows * kCols / 32;
  float x[num_elements];
  // Tile element (row-major index) of this lane's t-th element.
  static int element_of(unsigned lane, int t) { return int(lane) + 32 * t; }
};

inline float __float_to_tf32(float v) {
  const uint32_t b = detail::bits_of(v);
  if ((b & 0x7f800000u) == 0x7f800000u) return (b & 0x007fffffu) ? detail::float_of(0x7fffffffu) : v;  // NaN, inf
  return detail::float_of((b + 0x1000u) & 0xffffe000u);  // to nearest, ties away from zero
}

template <class Use, int M, int N, int K, class T, class Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float value) {
  for (float& e : f.x) e = value;
}

namespace detail {

// Tile element (r, c) of a matrix in memory with leading dimension ldm.
inline int64_t memory_offset(int r, int c, unsigned ldm, bool row_major_layout) {
  return row_major_layout ? int64_t(r) * ldm + c : int64_t(c) * ldm + r;
}

template <class Fragment>
void load(Fragment& f, const float* p, unsigned ldm, bool row_major_layout, const char* file, int line) {
  check_pointer(p, ldm, "load_matrix_sync", file, line);
  const unsigned lane = cuda_emulation::lane_id();
  for (int t = 0; t < Fragment::num_elements; ++t) {
    const int e = Fragment::element_of(lane, t);
    f.x[t] = p[memory_offset(e / Fragment::kCols, e % Fragment::kCols, ldm, row_major_layout)];
  }
  // The loads are per lane; the operation is still warp-wide, so every lane must reach it.
  cuda_emulation::warp_collective(0xffffffffu, "wmma::load_matrix_sync", file, line, nullptr,
                                  [](void* const[32], uint32_t) {});
}

}  // namespace detail

template <class Use, int M, int N, int K, class T>
void load_matrix_sync(fragment<Use, M, N, K, T, row_major>& f, const float* p, unsigned ldm,
                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::load(f, p, ldm, true, file, line);
}
template <class Use, int M, int N, int K, class T>
void load_matrix_sync(fragment<Use, M, N, K, T, col_major>& f, const float* p, unsigned ldm,
                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::load(f, p, ldm, false, file, line);
}

template <int M, int N, int K>
void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t layout,
                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::load(f, p, ldm, layout == mem_row_major, file, line);
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout,
                       const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using Fragment = fragment<accumulator, M, N, K, float>;
  detail::check_pointer(p, ldm, "store_matrix_sync", file, line);
  const unsigned lane = cuda_emulation::lane_id();
  for (int t = 0; t < Fragment::num_elements; ++t) {
    const int e = Fragment::element_of(lane, t);
    p[detail::memory_offset(e / Fragment::kCols, e % Fragment::kCols, ldm, layout == mem_row_major)] = f.x[t];
  }
  cuda_emulation::warp_collective(0xffffffffu, "wmma::store_matrix_sync", file, line, nullptr,
                                  [](void* const[32], uint32_t) {});
}

// D = A B + C over the whole warp: every lane hands in its parts, the last to arrive completes the product.
template <int M, int N, int K, class LayoutA, class LayoutB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, precision::tf32, LayoutA>& a,
              const fragment<matrix_b, M, N, K, precision::tf32, LayoutB>& b,
              const fragment<accumulator, M, N, K, float>& c, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  using A = fragment<matrix_a, M, N, K, precision::tf32, LayoutA>;
  using B = fragment<matrix_b, M, N, K, precision::tf32, LayoutB>;
  using C = fragment<accumulator, M, N, K, float>;
  struct Lane {
    const A* a;
    const B* b;
    const C* c;
    C* d;
  } lane{&a, &b, &c, &d};
  cuda_emulation::warp_collective(0xffffffffu, "wmma::mma_sync", file, line, &lane,
                                  [](void* const lanes[32], uint32_t) {
                                    float ta[M * K], tb[K * N], tc[M * N];
                                    for (unsigned l = 0; l < 32; ++l) {
                                      const Lane& in = *static_cast<const Lane*>(lanes[l]);
                                      for (int t = 0; t < A::num_elements; ++t) ta[A::element_of(l, t)] = in.a->x[t];
                                      for (int t = 0; t < B::num_elements; ++t) tb[B::element_of(l, t)] = in.b->x[t];
                                      for (int t = 0; t < C::num_elements; ++t) tc[C::element_of(l, t)] = in.c->x[t];
                                    }
                                    for (int i = 0; i < M; ++i)
                                      for (int j = 0; j < N; ++j) {
                                        float sum = tc[i * N + j];
                                        for (int k = 0; k < K; ++k)
                                          sum += detail::tf32_bits(ta[i * K + k]) * detail::tf32_bits(tb[k * N + j]);
                                        tc[i * N + j] = sum;
                                      }
                                    // d may alias c: written only after every lane's c was read.
                                    for (unsigned l = 0; l < 32; ++l) {
                                      const Lane& out = *static_cast<const Lane*>(lanes[l]);
                                      for (int t = 0; t < C::num_elements; ++t) out.d->x[t] = tc[C::element_of(l, t)];
                                    }
                                  });
}

}  // namespace nvcuda::wmma
