#pragma once
// One element of each pooling pass as a host-device function: kernels/cuda/pool.cu loops them over the
// grid, and tests/test_cuda_index_maps.cu runs them on the host against the CPU reference, so their index
// math is checked on machines without a GPU too.
//
// Backward gathers from the windows that cover each input pixel instead of scattering into dx, so every
// dx element is written once (no zero-fill pass, no atomics) and the sum adds the windows in the order the
// CPU reference's scatter does.
#include <cstdint>

#include <cuda_runtime.h>

#include "runtime/geometry.h"
#include "runtime/error.h"

namespace quill::cuda::pool {

struct PoolDims {
  int n, c, h, w, kh, kw, sh, sw, ph, pw, p, q;
  int ph_end, pw_end;      // padding after each axis (bottom, right)
  bool count_include_pad;  // average: divide by the window's pixels inside the padded input
};

inline PoolDims dims_of(const PoolGeometry& g, const char* op) {
  QUILL_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0, op, ": sizes must be positive (n=", g.n, " c=", g.c,
              " h=", g.h, " w=", g.w, ")");
  QUILL_CHECK(g.kh > 0 && g.kw > 0 && g.stride_h > 0 && g.stride_w > 0, op,
              ": window and strides must be positive");
  // pad < window on every side guarantees every window overlaps the image (no empty max, no division by
  // zero), also with ceil_mode (runtime/geometry.h: window_count).
  QUILL_CHECK(g.pad_h >= 0 && g.pad_w >= 0 && g.pad_h < g.kh && g.pad_w < g.kw && g.pad_bottom() >= 0 &&
                  g.pad_right() >= 0 && g.pad_bottom() < g.kh && g.pad_right() < g.kw,
              op, ": padding ", g.pad_h, ",", g.pad_bottom(), "x", g.pad_w, ",", g.pad_right(),
              " must be non-negative and smaller than the window ", g.kh, "x", g.kw);
  QUILL_CHECK(g.h + g.pad_h + g.pad_bottom() >= g.kh && g.w + g.pad_w + g.pad_right() >= g.kw, op, ": window ", g.kh,
              "x", g.kw, " larger than the padded input");
  return {g.n,     g.c,     g.h,       g.w,       g.kh,           g.kw,          g.stride_h,
          g.stride_w, g.pad_h, g.pad_w, g.p(), g.q(), g.pad_bottom(), g.pad_right(), g.count_include_pad};
}

__host__ __device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }

// Outputs [first, last) along one axis whose window covers input coordinate i.
struct WindowRange {
  int first, last;
};
__host__ __device__ __forceinline__ WindowRange windows_covering(int i, int pad, int kernel, int stride,
                                                                 int count) {
  // Window o covers i when o*stride - pad <= i < o*stride - pad + kernel.
  const int t = i + pad;
  const int first = t >= kernel ? (t - kernel) / stride + 1 : 0;
  const int last = imin(count, t / stride + 1);
  return {first, last};
}

// The part of window o along one axis that lies inside the image: [begin, end).
__host__ __device__ __forceinline__ int window_begin(int o, int stride, int pad) { return imax(o * stride - pad, 0); }
__host__ __device__ __forceinline__ int window_end(int o, int stride, int pad, int kernel, int size) {
  return imin(o * stride - pad + kernel, size);
}
// The divisor of window o's average along one axis: its pixels inside the image, or with count_include_pad
// inside the padded input [-pad, size + pad_end).
__host__ __device__ __forceinline__ int window_count(int o, int stride, int pad, int pad_end, int kernel, int size,
                                                     bool include_pad) {
  return include_pad ? imin(o * stride - pad + kernel, size + pad_end) - (o * stride - pad)
                     : window_end(o, stride, pad, kernel, size) - window_begin(o, stride, pad);
}

// Output i: the first maximum in row-major window order; argmax is ih * w + iw within the (n, c) plane.
template <class T>
__host__ __device__ void maxpool_forward_at(const PoolDims& d, int64_t i, const T* x, T* y, int32_t* argmax) {
  const int64_t plane = i / (d.p * d.q);
  const int pq = static_cast<int>(i % (d.p * d.q)), p = pq / d.q, q = pq % d.q;
  const T* xp = x + plane * d.h * d.w;
  const int h0 = window_begin(p, d.sh, d.ph), h1 = window_end(p, d.sh, d.ph, d.kh, d.h);
  const int w0 = window_begin(q, d.sw, d.pw), w1 = window_end(q, d.sw, d.pw, d.kw, d.w);
  int best_index = h0 * d.w + w0;  // windows always overlap the image (pad < window is checked)
  T best = xp[best_index];
  for (int ih = h0; ih < h1; ++ih)
    for (int iw = w0; iw < w1; ++iw) {
      const T v = xp[ih * d.w + iw];
      // First maximum wins ties; a NaN wins over numbers so that it propagates (as on the CPU).
      if (v > best || (v != v && best == best)) {
        best = v;
        best_index = ih * d.w + iw;
      }
    }
  y[i] = best;
  argmax[i] = best_index;
}

// Input i: the sum of dy over the windows covering it whose maximum it was.
template <class T>
__host__ __device__ void maxpool_backward_at(const PoolDims& d, int64_t i, const T* dy, const int32_t* argmax,
                                             T* dx) {
  const int64_t plane = i / (d.h * d.w);
  const int hw = static_cast<int>(i % (d.h * d.w)), ih = hw / d.w, iw = hw % d.w;
  const WindowRange rows = windows_covering(ih, d.ph, d.kh, d.sh, d.p);
  const WindowRange cols = windows_covering(iw, d.pw, d.kw, d.sw, d.q);
  const int64_t base = plane * d.p * d.q;
  T sum = T(0);
  for (int p = rows.first; p < rows.last; ++p)
    for (int q = cols.first; q < cols.last; ++q) {
      const int64_t o = base + p * d.q + q;
      if (argmax[o] == hw) sum += dy[o];
    }
  dx[i] = sum;
}

// Output i: the divisor is the number of window elements inside the image (or, with count_include_pad,
// inside the padded input).
template <class T>
__host__ __device__ void avgpool_forward_at(const PoolDims& d, int64_t i, const T* x, T* y) {
  const int64_t plane = i / (d.p * d.q);
  const int pq = static_cast<int>(i % (d.p * d.q)), p = pq / d.q, q = pq % d.q;
  const T* xp = x + plane * d.h * d.w;
  const int h0 = window_begin(p, d.sh, d.ph), h1 = window_end(p, d.sh, d.ph, d.kh, d.h);
  const int w0 = window_begin(q, d.sw, d.pw), w1 = window_end(q, d.sw, d.pw, d.kw, d.w);
  T sum = T(0);
  for (int ih = h0; ih < h1; ++ih)
    for (int iw = w0; iw < w1; ++iw) sum += xp[ih * d.w + iw];
  y[i] = sum / T(window_count(p, d.sh, d.ph, d.ph_end, d.kh, d.h, d.count_include_pad) *
                window_count(q, d.sw, d.pw, d.pw_end, d.kw, d.w, d.count_include_pad));
}

// Input i: each covering window's share dy / count. Window rows ascend and, within a row, columns descend:
// the CPU reference scatters one window column offset at a time, offset ascending, which reaches the
// windows covering a pixel from the last to the first, and float sums must add in the same order.
template <class T>
__host__ __device__ void avgpool_backward_at(const PoolDims& d, int64_t i, const T* dy, T* dx) {
  const int64_t plane = i / (d.h * d.w);
  const int hw = static_cast<int>(i % (d.h * d.w)), ih = hw / d.w, iw = hw % d.w;
  const WindowRange rows = windows_covering(ih, d.ph, d.kh, d.sh, d.p);
  const WindowRange cols = windows_covering(iw, d.pw, d.kw, d.sw, d.q);
  const int64_t base = plane * d.p * d.q;
  T sum = T(0);
  for (int p = rows.first; p < rows.last; ++p) {
    const int h_count = window_count(p, d.sh, d.ph, d.ph_end, d.kh, d.h, d.count_include_pad);
    for (int q = cols.last - 1; q >= cols.first; --q) {
      const int w_count = window_count(q, d.sw, d.pw, d.pw_end, d.kw, d.w, d.count_include_pad);
      sum += dy[base + p * d.q + q] / T(h_count * w_count);
    }
  }
  dx[i] = sum;
}

}  // namespace quill::cuda::pool
