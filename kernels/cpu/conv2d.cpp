// 2-D convolution as GEMM over the column matrix (im2col), one image at a time so the working set stays
// in cache. Forward and backward-data are independent per image and run in parallel over images.
// Backward-weights sums over the batch: images are grouped in fixed chunks, each chunk's partial dW is
// computed by one thread and the partials are added in chunk order, so the result is the same for any
// thread count.
//
// Stride-1 convolutions (the common case) use a "padded grid" instead of an explicit column matrix:
// with the input zero-padded to Hp x Wp and outputs computed for all Wp columns of each output row (the
// last S-1 of them are junk and dropped), the column-matrix row of filter tap (c, r, s) is the contiguous
// slice of the padded image that starts at (c, r, s). The GEMM reads those slices in place through row
// pointers: no column matrix, no small copies. Backward-data of a stride-1 convolution is rewritten as
// a stride-1 forward convolution so it takes the same path (see conv2d_backward_data).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/binding.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_internal.h"
#include "runtime/error.h"
#include "runtime/ops.h"

namespace quill::cpu {
namespace {

constexpr int kWeightChunk = 8;  // images per partial dW; fixed so the summation order is too

void check_geometry(const ConvGeometry& g, const char* op) {
  QUILL_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.k > 0 && g.r > 0 && g.s > 0, op,
              ": sizes must be positive (n=", g.n, " c=", g.c, " h=", g.h, " w=", g.w, " k=", g.k, " r=", g.r,
              " s=", g.s, ")");
  QUILL_CHECK(g.stride_h > 0 && g.stride_w > 0, op, ": strides must be positive");
  QUILL_CHECK(g.pad_h >= 0 && g.pad_w >= 0 && g.pad_bottom() >= 0 && g.pad_right() >= 0, op,
              ": padding must be non-negative");
  QUILL_CHECK(g.h + g.pad_h + g.pad_bottom() >= g.r && g.w + g.pad_w + g.pad_right() >= g.s, op, ": filter ", g.r,
              "x", g.s, " larger than the padded input ", g.h + g.pad_h + g.pad_bottom(), "x",
              g.w + g.pad_w + g.pad_right());
}

// ---- shapes ----

struct Shape {
  int crs, pq;  // GEMM inner size (filter taps) and output pixels per image
  // Padded-grid path (stride 1), see the file comment:
  bool grid;             // use it
  int hp, wp;            // padded input
  int cols;              // GEMM columns per image: P * Wp
  size_t plane;          // hp * wp
  size_t padded;         // elements of the padded image, with S-1 spare zeros the last tap's slice reads
  bool image_is_padded;  // no padding and S == 1: the image itself serves as the padded image
  bool pointwise;        // 1x1 as well: the column matrix is the image itself

  explicit Shape(const ConvGeometry& g) {
    crs = g.c * g.r * g.s;
    pq = g.p() * g.q();
    hp = g.h + g.pad_h + g.pad_bottom();
    wp = g.w + g.pad_w + g.pad_right();
    // Junk columns cost GEMM work: take the grid unless they are more than half the columns.
    grid = g.stride_h == 1 && g.stride_w == 1 && wp <= 2 * g.q();
    cols = g.p() * wp;
    plane = size_t(hp) * wp;
    padded = size_t(g.c) * plane + (g.s - 1);
    image_is_padded = grid && hp == g.h && wp == g.w && g.s == 1;
    pointwise = image_is_padded && g.r == 1;
  }
  bool has_junk() const { return cols != pq; }
};

// ---- short rows ----

// Image rows are short here (28, 14, 7 values), too short for a library memcpy call or a scalar remainder
// loop to pay off. ShortRow covers a row with full vectors, the last one overlapping its predecessor, and
// narrower vectors for rows shorter than one. dst must not overlap src.
template <class T, int Bytes = detail::kSimdBytes>
struct ShortRow {
  typedef T Vec __attribute__((vector_size(Bytes)));
  static constexpr int kLanes = Bytes / int(sizeof(T));

  // dst[j] = f(src[j]) for j < n; f takes and returns a Vec (or a T, for the narrowest rows).
  template <class F>
  static void map(const T* src, int n, T* dst, F f) {
    if (n < kLanes) {
      if constexpr (Bytes > 16)
        ShortRow<T, Bytes / 2>::map(src, n, dst, f);
      else
        for (int j = 0; j < n; ++j) dst[j] = f(src[j]);
      return;
    }
    auto step = [&](int j) {
      Vec v;
      std::memcpy(&v, src + j, Bytes);
      v = f(v);
      std::memcpy(dst + j, &v, Bytes);
    };
    int j = 0;
    for (; j + kLanes <= n; j += kLanes) step(j);
    if (j < n) step(n - kLanes);
  }
};

template <class T>
void copy_row(const T* src, int n, T* dst) {
  ShortRow<T>::map(src, n, dst, [](auto v) { return v; });
}

// Sum in double in a fixed order: eight interleaved partial sums (so it vectorises), then combined.
template <class T>
double row_sum(const T* row, int n) {
  double lane[8] = {};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) lane[l] += double(row[j + l]);
  for (; j < n; ++j) lane[j % 8] += double(row[j]);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// ---- per-thread buffers ----

template <class T>
struct ConvWorkspace {
  detail::GemmWorkspace<T> gemm;
  detail::AlignedBuffer<T> col;  // column matrix (explicit path) or its gradient
  detail::AlignedBuffer<T> out;  // GEMM output on the padded grid, before dropping junk columns
  std::vector<T> padded_x;       // borders and spare stay zero; only the interior is rewritten
  std::vector<T> dy_grid;        // dy spread to the grid; junk columns stay zero
  std::vector<const T*> rows;
  bool threaded_gemm = false;  // items run one at a time, so each GEMM uses the threads instead

  // C = op(A) op(B) (+ C when accumulate), B given by its stored rows if rows != nullptr.
  void gemm_call(bool ta, bool tb, int m, int n, int k, const T* a, int lda, const T* b, int ldb,
                 const T* const* b_rows, bool accumulate, T* c, int ldc) {
    const T beta = accumulate ? T(1) : T(0);
    if (threaded_gemm)
      detail::gemm_threaded<T>(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc, b_rows);
    else
      detail::gemm_serial<T>(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc, gemm, b_rows);
  }
};

// Runs body(i, ws) for i in [0, count): in parallel over items when there are enough of them, otherwise
// one at a time with threaded GEMMs. Both give the same bits (the GEMM is thread-count independent). Items
// are handed out one at a time, so a thread that loses its core to another process holds up the others by
// one item at most, not by its half of the batch.
template <class T, class Body>
void for_each_item(int count, double flops_per_item, Body body) {
  const int threads = omp_get_max_threads();
  if (threads > 1 && count >= threads && flops_per_item * count >= 1e6) {
#pragma omp parallel
    {
      ConvWorkspace<T> ws;
#pragma omp for schedule(dynamic, 1)
      for (int i = 0; i < count; ++i) body(i, ws);
    }
  } else {
    ConvWorkspace<T> ws;
    ws.threaded_gemm = threads > 1;
    for (int i = 0; i < count; ++i) body(i, ws);
  }
}

// ---- padded grid ----

// Column-matrix rows of image xi on the padded grid: row (c*R + r)*S + s starts at padded(c, r, s).
template <class T>
const T* const* grid_rows(const ConvGeometry& g, const Shape& sh, const T* xi, ConvWorkspace<T>& ws) {
  const T* base = xi;
  if (!sh.image_is_padded) {
    if (ws.padded_x.empty()) ws.padded_x.assign(sh.padded, T(0));
    for (int c = 0; c < g.c; ++c)
      for (int h = 0; h < g.h; ++h)
        copy_row(xi + (size_t(c) * g.h + h) * g.w, g.w,
                 ws.padded_x.data() + c * sh.plane + size_t(h + g.pad_h) * sh.wp + g.pad_w);
    base = ws.padded_x.data();
  }
  ws.rows.resize(sh.crs);
  for (int c = 0; c < g.c; ++c)
    for (int r = 0; r < g.r; ++r)
      for (int s = 0; s < g.s; ++s) ws.rows[(c * g.r + r) * g.s + s] = base + c * sh.plane + size_t(r) * sh.wp + s;
  return ws.rows.data();
}

// dy of one image laid out on the grid (K rows of P*Wp, junk columns zero). The weight gradient multiplies
// it with the padded image's slices, whose junk columns hold other pixels or padding: zero times those
// contributes nothing.
template <class T>
const T* dy_on_grid(const ConvGeometry& g, const Shape& sh, const T* dyi, ConvWorkspace<T>& ws) {
  if (!sh.has_junk()) return dyi;
  if (ws.dy_grid.empty()) ws.dy_grid.assign(size_t(g.k) * sh.cols, T(0));
  const int P = g.p(), Q = g.q();
  for (int k = 0; k < g.k; ++k)
    for (int oh = 0; oh < P; ++oh)
      copy_row(dyi + (size_t(k) * P + oh) * Q, Q, ws.dy_grid.data() + size_t(k) * sh.cols + size_t(oh) * sh.wp);
  return ws.dy_grid.data();
}

// ---- explicit column matrix (strided convolutions) ----

// Output positions o in [0, count) whose input o*stride + offset falls in [0, size): [first, last).
struct ValidRange {
  int first, last;
};
ValidRange valid_range(int offset, int stride, int size, int count) {
  int first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int last = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  first = std::min(first, count);
  last = std::max(first, std::min(last, count));
  return {first, last};
}

// col[(c*R + r)*S + s][oh*Q + ow] = x[c][oh*sh - ph + r][ow*sw - pw + s], zero outside the image.
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* col) {
  const int P = g.p(), Q = g.q();
  for (int c = 0; c < g.c; ++c)
    for (int r = 0; r < g.r; ++r)
      for (int s = 0; s < g.s; ++s) {
        T* dst = col + size_t((c * g.r + r) * g.s + s) * P * Q;
        const ValidRange rows = valid_range(r - g.pad_h, g.stride_h, g.h, P);
        const ValidRange cols = valid_range(s - g.pad_w, g.stride_w, g.w, Q);
        std::fill(dst, dst + size_t(rows.first) * Q, T(0));
        for (int oh = rows.first; oh < rows.last; ++oh) {
          T* d = dst + size_t(oh) * Q;
          const T* src = x + (size_t(c) * g.h + oh * g.stride_h - g.pad_h + r) * g.w + (s - g.pad_w);
          std::fill(d, d + cols.first, T(0));
          for (int ow = cols.first; ow < cols.last; ++ow) d[ow] = src[ow * g.stride_w];
          std::fill(d + cols.last, d + Q, T(0));
        }
        std::fill(dst + size_t(rows.last) * Q, dst + size_t(P) * Q, T(0));
      }
}

// dx (overwritten) = sum of the column-matrix entries that map to each pixel.
template <class T>
void col2im(const ConvGeometry& g, const T* col, T* dx) {
  const int P = g.p(), Q = g.q();
  std::fill(dx, dx + size_t(g.c) * g.h * g.w, T(0));
  for (int c = 0; c < g.c; ++c)
    for (int r = 0; r < g.r; ++r)
      for (int s = 0; s < g.s; ++s) {
        const T* src = col + size_t((c * g.r + r) * g.s + s) * P * Q;
        const ValidRange rows = valid_range(r - g.pad_h, g.stride_h, g.h, P);
        const ValidRange cols = valid_range(s - g.pad_w, g.stride_w, g.w, Q);
        for (int oh = rows.first; oh < rows.last; ++oh) {
          const T* sr = src + size_t(oh) * Q;
          T* d = dx + (size_t(c) * g.h + oh * g.stride_h - g.pad_h + r) * g.w + (s - g.pad_w);
          for (int ow = cols.first; ow < cols.last; ++ow) d[ow * g.stride_w] += sr[ow];
        }
      }
}

// The column matrix of image xi (CRS x B-columns) for the GEMM, either as row pointers into the padded
// grid or as an explicit matrix; returns {matrix, ld, rows}.
template <class T>
struct Columns {
  const T* matrix;
  int ld;
  const T* const* rows;
};
template <class T>
Columns<T> columns_of(const ConvGeometry& g, const Shape& sh, const T* xi, ConvWorkspace<T>& ws) {
  if (sh.pointwise) return {xi, sh.pq, nullptr};
  if (sh.grid) return {nullptr, sh.cols, grid_rows(g, sh, xi, ws)};
  T* col = ws.col.get(size_t(sh.crs) * sh.pq);
  im2col(g, xi, col);
  return {col, sh.pq, nullptr};
}

// y = conv(x, w) + bias for the whole batch, then max(0, y) when relu is set (an inference epilogue, applied as
// the output is written); the geometry has been checked.
template <class T>
void forward_images(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y, bool relu = false) {
  const Shape sh(g);
  const int P = g.p(), Q = g.q();
  for_each_item<T>(g.n, 2.0 * g.k * sh.pq * sh.crs, [&](int i, ConvWorkspace<T>& ws) {
    const T* xi = x + size_t(i) * g.c * g.h * g.w;
    T* yi = y + size_t(i) * g.k * sh.pq;
    const Columns<T> col = columns_of(g, sh, xi, ws);
    const int n = sh.grid ? sh.cols : sh.pq;
    if (!sh.grid || !sh.has_junk()) {
      // y_i[K][PQ] = W[K][CRS] * col[CRS][PQ], on top of the bias
      if (bias != nullptr)
        for (int k = 0; k < g.k; ++k) std::fill_n(yi + size_t(k) * sh.pq, sh.pq, bias[k]);
      ws.gemm_call(false, false, g.k, n, sh.crs, w, sh.crs, col.matrix, col.ld, col.rows, bias != nullptr, yi, sh.pq);
      if (relu)
        for (size_t e = 0; e < size_t(g.k) * sh.pq; ++e) yi[e] = yi[e] <= T(0) ? T(0) : yi[e];  // NaN stays NaN
      return;
    }
    T* out = ws.out.get(size_t(g.k) * n);
    ws.gemm_call(false, false, g.k, n, sh.crs, w, sh.crs, col.matrix, col.ld, col.rows, false, out, n);
    for (int k = 0; k < g.k; ++k) {  // drop the junk columns, add the bias
      const T b = bias != nullptr ? bias[k] : T(0);
      for (int oh = 0; oh < P; ++oh)
        ShortRow<T>::map(out + size_t(k) * n + size_t(oh) * sh.wp, Q, yi + size_t(k) * sh.pq + size_t(oh) * Q,
                         [b, relu](auto v) {
                           v = v + b;
                           const decltype(v) zero{};
                           return relu ? (v <= zero ? zero : v) : v;  // NaN stays NaN, as the activation op
                         });
    }
  });
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  check_geometry(g, "conv2d_forward");
  forward_images(g, x, w, bias, y);
}

// conv2d_forward, then y = max(0, y) as the output is written: bit for bit the two ops in turn. The fused
// convolution + ReLU of CPU inference (ops::conv2d_forward_relu, engine/inference_plan.h).
template <class T>
void conv2d_forward_relu(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  check_geometry(g, "conv2d_forward_relu");
  forward_images(g, x, w, bias, y, true);
}

// For stride 1 and padding smaller than the filter, the data gradient is itself a stride-1 convolution:
//   dx[c][h][w] = sum_{k,r',s'} dy[k][h - (R-1-ph) + r'][w - (S-1-pw) + s'] * w[k][c][R-1-r'][S-1-s'],
// i.e. dy padded by (R-1-ph, S-1-pw) before and (R-1-ph_end, S-1-pw_end) after (so that the output is H x W)
// convolved with the flipped, transposed filters. It takes the forward
// path (GEMM straight from the padded image, no column matrix, no scatter-add). Other geometries, and
// inputs with few channels, use dcol = W^T dy and col2im.
template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  check_geometry(g, "conv2d_backward_data");
  // The rewrite's GEMM has only C rows; few channels would waste most of its 8-row micro-tiles.
  const bool enough_rows = g.c % 8 == 0 || g.c >= 16;
  if (g.stride_h == 1 && g.stride_w == 1 && g.pad_h < g.r && g.pad_w < g.s && g.pad_bottom() < g.r &&
      g.pad_right() < g.s && enough_rows) {
    ConvGeometry t = g;
    t.c = g.k, t.h = g.p(), t.w = g.q(), t.k = g.c;
    t.pad_h = g.r - 1 - g.pad_h, t.pad_w = g.s - 1 - g.pad_w;
    t.pad_h_end = g.r - 1 - g.pad_bottom(), t.pad_w_end = g.s - 1 - g.pad_right();
    std::vector<T> flipped(g.w_size());  // flipped[c][k][r][s] = w[k][c][R-1-r][S-1-s]
    for (int k = 0; k < g.k; ++k)
      for (int c = 0; c < g.c; ++c)
        for (int r = 0; r < g.r; ++r)
          for (int s = 0; s < g.s; ++s)
            flipped[((size_t(c) * g.k + k) * g.r + r) * g.s + s] =
                w[((size_t(k) * g.c + c) * g.r + (g.r - 1 - r)) * g.s + (g.s - 1 - s)];
    forward_images(t, dy, flipped.data(), static_cast<const T*>(nullptr), dx);
    return;
  }
  const Shape sh(g);
  for_each_item<T>(g.n, 2.0 * g.k * sh.pq * sh.crs, [&](int i, ConvWorkspace<T>& ws) {
    // dcol[CRS][PQ] = W^T * dy_i, then col2im
    T* dcol = ws.col.get(size_t(sh.crs) * sh.pq);
    ws.gemm_call(true, false, sh.crs, sh.pq, g.k, w, sh.crs, dy + size_t(i) * g.k * sh.pq, sh.pq, nullptr, false, dcol,
                 sh.pq);
    col2im(g, dcol, dx + size_t(i) * g.c * g.h * g.w);
  });
}

template <class T>
void conv2d_backward_weights(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* dbias) {
  check_geometry(g, "conv2d_backward_weights");
  const Shape sh(g);
  const int chunks = (g.n + kWeightChunk - 1) / kWeightChunk;
  const size_t wsize = size_t(g.k) * sh.crs;
  // A single chunk writes straight into dw; several keep partials that are summed afterwards.
  detail::AlignedBuffer<T> partials;
  T* partial_w = chunks > 1 ? partials.get(chunks * wsize) : nullptr;
  std::vector<double> partial_b(size_t(chunks) * g.k);

  for_each_item<T>(chunks, 2.0 * kWeightChunk * g.k * sh.pq * sh.crs, [&](int ch, ConvWorkspace<T>& ws) {
    T* out = chunks > 1 ? partial_w + ch * wsize : dw;
    const int first = ch * kWeightChunk, last = std::min(g.n, first + kWeightChunk);
    for (int i = first; i < last; ++i) {
      const T* xi = x + size_t(i) * g.c * g.h * g.w;
      const T* dyi = dy + size_t(i) * g.k * sh.pq;
      const Columns<T> col = columns_of(g, sh, xi, ws);
      // out[K][CRS] (+)= dy_i[K][cols] * col[CRS][cols]^T; on the grid, dy's junk columns are zero.
      const T* dya = sh.grid ? dy_on_grid(g, sh, dyi, ws) : dyi;
      const int n = sh.grid ? sh.cols : sh.pq;
      ws.gemm_call(false, true, g.k, sh.crs, n, dya, n, col.matrix, col.ld, col.rows, i != first, out, sh.crs);
    }
    if (dbias != nullptr)
      for (int k = 0; k < g.k; ++k) {
        double sum = 0;
        for (int i = first; i < last; ++i) sum += row_sum(dy + (size_t(i) * g.k + k) * sh.pq, sh.pq);
        partial_b[size_t(ch) * g.k + k] = sum;
      }
  });

  if (chunks > 1) {
#pragma omp parallel for schedule(static) if (wsize * chunks >= 65536)
    for (size_t e = 0; e < wsize; ++e) {
      T sum = partial_w[e];
      for (int ch = 1; ch < chunks; ++ch) sum += partial_w[ch * wsize + e];
      dw[e] = sum;
    }
  }
  if (dbias != nullptr)
    for (int k = 0; k < g.k; ++k) {
      double sum = 0;
      for (int ch = 0; ch < chunks; ++ch) sum += partial_b[size_t(ch) * g.k + k];
      dbias[k] = T(sum);
    }
}

#define QUILL_INSTANTIATE(T)                                                              \
  template void conv2d_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*); \
  template void conv2d_forward_relu<T>(const ConvGeometry&, const T*, const T*, const T*, T*); \
  template void conv2d_backward_data<T>(const ConvGeometry&, const T*, const T*, T*);     \
  template void conv2d_backward_weights<T>(const ConvGeometry&, const T*, const T*, T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

// ---- binding to the ops (runtime/ops.h); register_cpu.cpp calls it ----
void bind_convolution_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cpu;
  bind(ops::conv2d_forward, B, [](auto t, auto... a) { conv2d_forward<decltype(t)>(a...); });
  bind(ops::conv2d_forward_relu, B, [](auto t, auto... a) { conv2d_forward_relu<decltype(t)>(a...); });
  bind(ops::conv2d_backward_data, B, [](auto t, auto... a) { conv2d_backward_data<decltype(t)>(a...); });
  bind(ops::conv2d_backward_weights, B, [](auto t, auto... a) { conv2d_backward_weights<decltype(t)>(a...); });
}

}  // namespace quill::cpu
