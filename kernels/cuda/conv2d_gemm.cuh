#pragma once
// 2-D convolution as implicit GEMM: each pass is one GEMM problem whose operand functors gather image
// patches straight from x or dy, so no column buffer is materialised. kernels/cuda/conv2d.cu launches the
// problems on the tiled core (gemm_tiles.cuh) over the whole batch; tests/test_cuda_index_maps.cu
// multiplies the same problems on the host against the CPU reference, so their index math is checked on
// machines without a GPU too.
//
//   forward:          y[k][(n,p,q)]   = sum over (c,r,s)  w[k][(c,r,s)] * x-patch[(c,r,s)][(n,p,q)]
//   backward-data:    dx[c][(n,h,w)]  = sum over (k,r,s)  w[k][c][r][s] * dy[n][k][(h+ph-r)/sh][(w+pw-s)/sw]
//                     (terms whose division is inexact or out of range are zero), so every dx element is
//                     written once by one thread: no col2im scatter, no atomics.
//   backward-weights: dw[k][(c,r,s)]  = sum over (n,p,q)  dy[n][k][(p,q)] * x-patch[(c,r,s)][(n,p,q)]
//                     The batch reduction is long (n*p*q), so it is split into fixed chunks (split-K);
//                     each chunk's partial dW goes to scratch and a second kernel adds the chunks in order.
#include <cstdint>

#include "kernels/cuda/gemm_tiles.cuh"
#include "runtime/geometry.h"
#include "runtime/error.h"

namespace quill::cuda::conv {

// The geometry with the derived sizes the functors need, as plain ints for device code.
struct ConvDims {
  int n, c, h, w, k, r, s, sh, sw, ph, pw, p, q;
  __host__ __device__ int hw() const { return h * w; }
  __host__ __device__ int pq() const { return p * q; }
  __host__ __device__ int rs() const { return r * s; }
  __host__ __device__ int crs() const { return c * r * s; }
};

inline ConvDims dims_of(const ConvGeometry& g, const char* op) {
  QUILL_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.k > 0 && g.r > 0 && g.s > 0, op,
              ": sizes must be positive (n=", g.n, " c=", g.c, " h=", g.h, " w=", g.w, " k=", g.k, " r=", g.r,
              " s=", g.s, ")");
  QUILL_CHECK(g.stride_h > 0 && g.stride_w > 0, op, ": strides must be positive");
  // The padding after an axis (bottom, right) only sets the output size p x q: ph and pw place the windows.
  QUILL_CHECK(g.pad_h >= 0 && g.pad_w >= 0 && g.pad_bottom() >= 0 && g.pad_right() >= 0, op,
              ": padding must be non-negative");
  QUILL_CHECK(g.h + g.pad_h + g.pad_bottom() >= g.r && g.w + g.pad_w + g.pad_right() >= g.s, op, ": filter ", g.r,
              "x", g.s, " larger than the padded input ", g.h + g.pad_h + g.pad_bottom(), "x",
              g.w + g.pad_w + g.pad_right());
  // GEMM sizes are ints; these products bound them, with the headroom the kernels' loops need.
  QUILL_CHECK(int64_t(g.n) * g.h * g.w <= kMaxIntExtent && g.y_size() / g.k <= kMaxIntExtent &&
                  int64_t(g.k) * g.r * g.s <= kMaxIntExtent && int64_t(g.c) * g.r * g.s <= kMaxIntExtent,
              op, ": tensor too large for 32-bit GEMM indices");
  return {g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.p(), g.q()};
}

// x at (image, channel, ih, iw), zero in the padding.
template <class T>
__host__ __device__ __forceinline__ T x_at(const T* x, const ConvDims& d, int image, int channel, int ih, int iw) {
  if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) return T(0);
  return x[((int64_t(image) * d.c + channel) * d.h + ih) * d.w + iw];
}

// ---- forward: M = k, N = n*p*q, K = c*r*s ----

template <class T>
struct FilterRows {  // w as a [k][c*r*s] matrix
  const T* w;
  int crs;
  static constexpr bool kContiguousInK = true;
  __host__ __device__ T operator()(int m, int kk) const { return w[int64_t(m) * crs + kk]; }
};

template <class T>
struct ForwardPatches {  // im2col of x: row (c,r,s), column (image,p,q)
  const T* x;
  ConvDims d;
  static constexpr bool kContiguousInK = false;
  __host__ __device__ T operator()(int kk, int col) const {
    const int channel = kk / d.rs(), rs = kk % d.rs(), r = rs / d.s, s = rs % d.s;
    const int image = col / d.pq(), pq = col % d.pq(), p = pq / d.q, q = pq % d.q;
    return x_at(x, d, image, channel, p * d.sh - d.ph + r, q * d.sw - d.pw + s);
  }
};

template <class T>
struct ForwardStore {  // y[image][k][p][q] = value + bias[k]
  T* y;
  const T* bias;
  int k, pq;
  __host__ __device__ void operator()(int m, int col, int, T value) const {
    const int image = col / pq, offset = col % pq;
    y[(int64_t(image) * k + m) * pq + offset] = bias != nullptr ? value + bias[m] : value;
  }
};

// ---- backward-data: M = c, N = n*h*w, K = k*r*s ----

template <class T>
struct TransposedFilters {  // w[k][c][r][s] read as a [c][k*r*s] matrix
  const T* w;
  int c, rs;
  static constexpr bool kContiguousInK = true;
  __host__ __device__ T operator()(int m, int kk) const {
    const int filter = kk / rs, offset = kk % rs;
    return w[(int64_t(filter) * c + m) * rs + offset];
  }
};

template <class T>
struct OutputGradientPatches {  // row (k,r,s), column (image,ih,iw): the dy element that (r,s) maps there
  const T* dy;
  ConvDims d;
  static constexpr bool kContiguousInK = false;
  __host__ __device__ T operator()(int kk, int col) const {
    const int filter = kk / d.rs(), rs = kk % d.rs(), r = rs / d.s, s = rs % d.s;
    const int image = col / d.hw(), hw = col % d.hw(), ih = hw / d.w, iw = hw % d.w;
    const int ph = ih + d.ph - r, pw = iw + d.pw - s;  // = p * stride when an output p uses (ih, r)
    if (ph < 0 || pw < 0 || ph % d.sh != 0 || pw % d.sw != 0) return T(0);
    const int p = ph / d.sh, q = pw / d.sw;
    if (p >= d.p || q >= d.q) return T(0);
    return dy[((int64_t(image) * d.k + filter) * d.p + p) * d.q + q];
  }
};

template <class T>
struct InputGradientStore {  // dx[image][c][h][w]
  T* dx;
  int c, hw;
  __host__ __device__ void operator()(int m, int col, int, T value) const {
    const int image = col / hw, offset = col % hw;
    dx[(int64_t(image) * c + m) * hw + offset] = value;
  }
};

// ---- backward-weights: M = k, N = c*r*s, K = n*p*q ----

template <class T>
struct OutputGradientRows {  // dy as a [k][n*p*q] matrix
  const T* dy;
  int k, pq;
  static constexpr bool kContiguousInK = true;
  __host__ __device__ T operator()(int m, int kk) const {
    const int image = kk / pq, offset = kk % pq;
    return dy[(int64_t(image) * k + m) * pq + offset];
  }
};

template <class T>
struct TransposedPatches {  // the forward patches transposed: row (image,p,q), column (c,r,s)
  ForwardPatches<T> patches;
  static constexpr bool kContiguousInK = true;
  __host__ __device__ T operator()(int kk, int col) const { return patches(col, kk); }
};

template <class T>
struct SplitStore {  // partial[split][m][n], or the final matrix when there is one split
  T* out;
  int ld;
  int64_t split_stride;
  __host__ __device__ void operator()(int m, int n, int split, T value) const {
    out[split * split_stride + int64_t(m) * ld + n] = value;
  }
};

// ---- the three passes as GEMM problems (GemmProblem, gemm_tiles.cuh) ----

template <class T>
GemmProblem<FilterRows<T>, ForwardPatches<T>, ForwardStore<T>> forward_problem(const ConvDims& d, const T* x,
                                                                                  const T* w, const T* bias, T* y) {
  return {d.k, d.n * d.pq(), d.crs(), no_split(d.crs()), FilterRows<T>{w, d.crs()}, ForwardPatches<T>{x, d},
          ForwardStore<T>{y, bias, d.k, d.pq()}};
}

template <class T>
GemmProblem<TransposedFilters<T>, OutputGradientPatches<T>, InputGradientStore<T>> backward_data_problem(
    const ConvDims& d, const T* dy, const T* w, T* dx) {
  const int K = d.k * d.rs();
  return {d.c, d.n * d.hw(), K, no_split(K), TransposedFilters<T>{w, d.c, d.rs()}, OutputGradientPatches<T>{dy, d},
          InputGradientStore<T>{dx, d.c, d.hw()}};
}

// Split-K sizing for backward-weights: chunks of about this many (image, pixel) terms, so a batch of
// 28x28 images yields enough blocks to fill the GPU while the scratch stays small.
constexpr int kWeightChunkTarget = 2048;
constexpr int kMaxWeightSplits = 64;

// dW as [k][c*r*s]; with more than one split, each chunk's partial dW goes to out + split * k*c*r*s, and
// the chunks are added afterwards in split order.
template <class T>
GemmProblem<OutputGradientRows<T>, TransposedPatches<T>, SplitStore<T>> backward_weights_problem(
    const ConvDims& d, const T* x, const T* dy, T* out) {
  const int K = d.n * d.pq();
  const SplitK split = split_k(K, kWeightChunkTarget, kMaxWeightSplits);
  const int64_t split_stride = split.splits == 1 ? 0 : int64_t(d.k) * d.crs();
  return {d.k, d.crs(), K, split, OutputGradientRows<T>{dy, d.k, d.pq()},
          TransposedPatches<T>{ForwardPatches<T>{x, d}}, SplitStore<T>{out, d.crs(), split_stride}};
}

}  // namespace quill::cuda::conv
