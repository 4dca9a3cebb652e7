// CPU reference kernels against naive, obviously-correct implementations written here in double precision.
//
// Tolerances: each reference value also carries the sum of the absolute values of its terms, and an
// error is measured relative to that sum (the natural scale of rounding error in a sum). Float kernels:
// 1e-5, since a float sum of K <= ~1000 terms loses about sqrt(K) * 6e-8 relative in practice (K * 6e-8 in
// the worst case). Double kernels: 1e-12, the same argument with 1.1e-16.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "runtime/error.h"
#include "runtime/rng.h"

namespace {

using namespace quill;
using namespace quill::cpu;

template <class T>
constexpr double kRelTol = std::is_same_v<T, float> ? 1e-5 : 1e-12;

// Uniform in [-1, -0.05] U [0.05, 1]: random, never zero (a zero input would hide a missing term).
template <class T>
std::vector<T> random_vector(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<T> v(n);
  for (auto& e : v) {
    const double mag = rng.uniform(0.05, 1.0);
    e = T(rng.uniform() < 0.5 ? -mag : mag);
  }
  return v;
}

// A reference result: the exact-ish value and the sum of |terms| that produced it.
struct Ref {
  std::vector<double> value, scale;
  explicit Ref(size_t n = 0) : value(n, 0.0), scale(n, 0.0) {}
  void add(size_t i, double term) {
    value[i] += term;
    scale[i] += std::fabs(term);
  }
};

// Largest |got - ref| / scale over all elements; an element with scale 0 must match exactly.
template <class T>
double worst_error(const T* got, const Ref& ref) {
  double worst = 0;
  for (size_t i = 0; i < ref.value.size(); ++i) {
    const double err = std::fabs(double(got[i]) - ref.value[i]);
    if (std::isnan(err)) return std::numeric_limits<double>::infinity();
    if (err == 0) continue;
    worst = std::max(worst, ref.scale[i] > 0 ? err / ref.scale[i] : std::numeric_limits<double>::infinity());
  }
  return worst;
}

template <class T>
void check_close(const std::vector<T>& got, const Ref& ref, const char* what) {
  REQUIRE(got.size() == ref.value.size());
  INFO(what);
  CHECK(worst_error(got.data(), ref) <= kRelTol<T>);
}

// Runs f with exactly `threads` OpenMP threads, restoring the previous setting afterwards.
template <class F>
void with_threads(int threads, F f) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  f();
  omp_set_num_threads(before);
}

template <class T>
bool bit_identical(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// ---------------------------------------------------------------- gemm

struct GemmCase {
  int m, n, k;
};

// C = alpha op(A) op(B) + beta C0, element by element.
template <class T>
Ref gemm_reference(bool ta, bool tb, int m, int n, int k, double alpha, const std::vector<T>& a, int lda,
                   const std::vector<T>& b, int ldb, double beta, const std::vector<T>& c0, int ldc) {
  Ref ref(size_t(m) * ldc);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < ldc; ++j) {
      const size_t at = size_t(i) * ldc + j;
      if (j >= n) {  // outside the matrix: must stay untouched
        ref.value[at] = c0[at];
        continue;
      }
      if (beta != 0) ref.add(at, beta * c0[at]);
      for (int p = 0; p < k; ++p) {
        const double av = ta ? a[size_t(p) * lda + i] : a[size_t(i) * lda + p];
        const double bv = tb ? b[size_t(j) * ldb + p] : b[size_t(p) * ldb + j];
        ref.add(at, alpha * av * bv);
      }
    }
  return ref;
}

// ---------------------------------------------------------------- convolution

struct ConvRef {
  Ref y, dx, dw, db;
};

template <class T>
ConvRef conv_reference(const ConvGeometry& g, const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>& b,
                       const std::vector<T>& dy) {
  ConvRef ref{Ref(g.y_size()), Ref(g.x_size()), Ref(g.w_size()), Ref(g.k)};
  const int P = g.p(), Q = g.q();
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) {
          const size_t yi = ((size_t(n) * g.k + k) * P + p) * Q + q;
          ref.y.add(yi, b[k]);
          ref.db.add(k, dy[yi]);
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int ih = p * g.stride_h - g.pad_h + r, iw = q * g.stride_w - g.pad_w + s;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                const size_t xi = ((size_t(n) * g.c + c) * g.h + ih) * g.w + iw;
                const size_t wi = ((size_t(k) * g.c + c) * g.r + r) * g.s + s;
                ref.y.add(yi, double(x[xi]) * w[wi]);
                ref.dx.add(xi, double(dy[yi]) * w[wi]);
                ref.dw.add(wi, double(dy[yi]) * x[xi]);
              }
        }
  return ref;
}

ConvGeometry conv_geometry(int n, int c, int h, int w, int k, int r, int s, int stride_h, int stride_w, int pad_h,
                           int pad_w) {
  ConvGeometry g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.k = k, g.r = r, g.s = s;
  g.stride_h = stride_h, g.stride_w = stride_w, g.pad_h = pad_h, g.pad_w = pad_w;
  return g;
}

template <class T>
void check_conv(const ConvGeometry& g, bool with_bias) {
  INFO("conv n=", g.n, " c=", g.c, " h=", g.h, " w=", g.w, " k=", g.k, " filter ", g.r, "x", g.s, " stride ",
       g.stride_h, "x", g.stride_w, " pad ", g.pad_h, "x", g.pad_w);
  const auto x = random_vector<T>(g.x_size(), 1), w = random_vector<T>(g.w_size(), 2);
  const auto dy = random_vector<T>(g.y_size(), 4);
  const auto b = with_bias ? random_vector<T>(g.k, 3) : std::vector<T>(g.k, T(0));
  const ConvRef ref = conv_reference(g, x, w, b, dy);

  // Outputs start as garbage: every kernel must overwrite, never accumulate.
  std::vector<T> y(g.y_size(), T(7)), dx(g.x_size(), T(7)), dw(g.w_size(), T(7)), db(g.k, T(7));
  conv2d_forward(g, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data());
  conv2d_backward_data(g, dy.data(), w.data(), dx.data());
  conv2d_backward_weights(g, x.data(), dy.data(), dw.data(), with_bias ? db.data() : nullptr);
  check_close(y, ref.y, "forward");
  check_close(dx, ref.dx, "backward data");
  check_close(dw, ref.dw, "backward weights");
  if (with_bias) check_close(db, ref.db, "backward bias");
}

// ---------------------------------------------------------------- pooling

struct PoolRef {
  Ref y, dx;
  std::vector<int32_t> argmax;
};

template <class T>
PoolRef pool_reference(const PoolGeometry& g, bool max, const std::vector<T>& x, const std::vector<T>& dy) {
  const int P = g.p(), Q = g.q();
  PoolRef ref{Ref(g.y_size()), Ref(g.x_size()), std::vector<int32_t>(g.y_size())};
  for (int plane = 0; plane < g.n * g.c; ++plane)
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) {
        const size_t yi = (size_t(plane) * P + p) * Q + q;
        std::vector<int> inside;  // flat in-plane indices of the window's pixels inside the image
        int padded = 0;           // the window's pixels inside the padded input
        for (int i = 0; i < g.kh; ++i)
          for (int j = 0; j < g.kw; ++j) {
            const int ih = p * g.stride_h - g.pad_h + i, iw = q * g.stride_w - g.pad_w + j;
            if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) inside.push_back(ih * g.w + iw);
            if (ih >= -g.pad_h && ih < g.h + g.pad_bottom() && iw >= -g.pad_w && iw < g.w + g.pad_right()) ++padded;
          }
        const double divisor = g.count_include_pad ? padded : double(inside.size());
        const T* xp = x.data() + size_t(plane) * g.h * g.w;
        if (max) {
          int best = inside[0];
          for (int idx : inside)
            if (xp[idx] > xp[best]) best = idx;
          ref.y.value[yi] = xp[best];
          ref.y.scale[yi] = std::fabs(double(xp[best]));
          ref.argmax[yi] = best;
          ref.dx.add(size_t(plane) * g.h * g.w + best, dy[yi]);
        } else {
          for (int idx : inside) ref.y.add(yi, double(xp[idx]) / divisor);
          for (int idx : inside) ref.dx.add(size_t(plane) * g.h * g.w + idx, double(dy[yi]) / divisor);
        }
      }
  return ref;
}

PoolGeometry pool_geometry(int n, int c, int h, int w, int kh, int kw, int stride_h, int stride_w, int pad_h,
                           int pad_w) {
  PoolGeometry g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.kh = kh, g.kw = kw;
  g.stride_h = stride_h, g.stride_w = stride_w, g.pad_h = pad_h, g.pad_w = pad_w;
  return g;
}

}  // namespace

// ================================================================ tests

TEST_CASE_TEMPLATE("cpu kernels: gemm matches the naive product for every transpose and odd sizes", T, float, double) {
  // 37x53x29: odd everywhere. 129x300x257 and 200x70x800: cross the micro-tile, MC and KC block edges.
  // 9x2100x20: crosses the NC column block. 1x1x1: degenerate.
  const GemmCase cases[] = {{37, 53, 29}, {129, 300, 257}, {200, 70, 800}, {9, 2100, 20}, {1, 1, 1}};
  for (const GemmCase& cs : cases)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        INFO("gemm ", cs.m, "x", cs.n, "x", cs.k, " trans_a=", ta, " trans_b=", tb);
        // Leading dimensions wider than the matrices, to catch any use of the size as the stride.
        const int lda = (ta ? cs.m : cs.k) + 3, ldb = (tb ? cs.k : cs.n) + 2, ldc = cs.n + 5;
        const auto a = random_vector<T>(size_t(ta ? cs.k : cs.m) * lda, 11);
        const auto b = random_vector<T>(size_t(tb ? cs.n : cs.k) * ldb, 12);
        const auto c0 = random_vector<T>(size_t(cs.m) * ldc, 13);
        auto c = c0;
        gemm<T>(ta, tb, cs.m, cs.n, cs.k, T(0.75), a.data(), lda, b.data(), ldb, T(-0.5), c.data(), ldc);
        check_close(c, gemm_reference(ta, tb, cs.m, cs.n, cs.k, 0.75, a, lda, b, ldb, -0.5, c0, ldc), "C");
      }
}

TEST_CASE_TEMPLATE("cpu kernels: gemm edge cases (beta 0 ignores C, k 0 scales C, bad strides throw)", T, float,
                   double) {
  const int m = 13, n = 17, k = 9;
  const auto a = random_vector<T>(m * k, 21), b = random_vector<T>(k * n, 22);
  // beta == 0 must not read C (BLAS convention): NaNs in C must not leak into the result.
  std::vector<T> c(m * n, std::numeric_limits<T>::quiet_NaN());
  gemm<T>(false, false, m, n, k, T(1), a.data(), k, b.data(), n, T(0), c.data(), n);
  check_close(c, gemm_reference(false, false, m, n, k, 1.0, a, k, b, n, 0.0, std::vector<T>(m * n), n), "beta 0");

  std::vector<T> c2(m * n, T(2));
  gemm<T>(false, false, m, n, 0, T(1), a.data(), 1, b.data(), n, T(0.5), c2.data(), n);
  CHECK(std::all_of(c2.begin(), c2.end(), [](T v) { return v == T(1); }));

  CHECK_THROWS_AS(gemm<T>(false, false, m, n, k, T(1), a.data(), k - 1, b.data(), n, T(0), c.data(), n), quill::Error);
  CHECK_THROWS_AS(gemm<T>(false, false, -1, n, k, T(1), a.data(), k, b.data(), n, T(0), c.data(), n), quill::Error);
}

TEST_CASE_TEMPLATE("cpu kernels: conv2d forward and backward match direct convolution", T, float, double) {
  struct Kernel {
    int r, s;
  };
  const Kernel kernels[] = {{1, 1}, {3, 3}, {5, 5}, {1, 3}, {3, 1}, {5, 3}};  // square and non-square
  const int strides[][2] = {{1, 1}, {2, 2}, {2, 1}};
  const int pads[][2] = {{0, 0}, {1, 1}, {2, 2}, {0, 2}};
  // C = 5 and C = 8: backward-data of stride-1 convolutions is computed differently for 8+ channels.
  for (int channels : {5, 8})
    for (const Kernel& kr : kernels)
      for (const auto& st : strides)
        for (const auto& pd : pads) {
          const ConvGeometry g = conv_geometry(3, channels, 7, 9, 4, kr.r, kr.s, st[0], st[1], pd[0], pd[1]);
          if (g.h + 2 * g.pad_h < g.r || g.w + 2 * g.pad_w < g.s) continue;
          check_conv<T>(g, true);
        }
  SUBCASE("no bias") { check_conv<T>(conv_geometry(3, 5, 7, 9, 4, 3, 3, 1, 1, 1, 1), false); }
  SUBCASE("batch of 19: several backward-weights chunks, the last one partial") {
    check_conv<T>(conv_geometry(19, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1), true);
  }
  SUBCASE("single image: threads go to the GEMM instead of the batch") {
    check_conv<T>(conv_geometry(1, 6, 11, 10, 7, 3, 3, 1, 1, 1, 1), true);
  }
  SUBCASE("filter as wide as the image, stride 1: explicit column matrix") {
    check_conv<T>(conv_geometry(2, 3, 6, 5, 4, 3, 5, 1, 1, 0, 0), true);
  }
  SUBCASE("1x1 pointwise and padding larger than the filter") {
    check_conv<T>(conv_geometry(2, 6, 5, 7, 3, 1, 1, 1, 1, 0, 0), true);
    check_conv<T>(conv_geometry(2, 3, 5, 4, 3, 1, 2, 1, 1, 2, 3), true);
  }
  SUBCASE("invalid geometry throws") {
    std::vector<T> buf(10000, T(1));
    CHECK_THROWS_AS(conv2d_forward(conv_geometry(1, 1, 2, 2, 1, 5, 5, 1, 1, 0, 0), buf.data(), buf.data(),
                                   (const T*)nullptr, buf.data()),
                    quill::Error);
    CHECK_THROWS_AS(conv2d_forward(conv_geometry(1, 1, 4, 4, 1, 3, 3, 0, 1, 0, 0), buf.data(), buf.data(),
                                   (const T*)nullptr, buf.data()),
                    quill::Error);
  }
}

// Padding that differs between the two sides of an axis (ONNX's pads [top, left, bottom, right], auto_pad
// SAME with an odd total): only the output size and the windows' placement change, on every path (the
// padded grid, the column matrix, and backward-data as a forward convolution with 8+ channels).
TEST_CASE_TEMPLATE("cpu kernels: conv2d with asymmetric padding matches direct convolution", T, float, double) {
  const int pads[][4] = {{0, 1, 0, 1}, {1, 0, 1, 0}, {2, 0, 0, 1}, {0, 2, 1, 0}, {1, 2, 2, 0}};  // top bottom left right
  const int kernels[][2] = {{3, 3}, {3, 5}, {1, 3}};
  const int strides[][2] = {{1, 1}, {2, 2}, {1, 2}};
  for (int channels : {5, 8})
    for (const auto& kr : kernels)
      for (const auto& st : strides)
        for (const auto& pd : pads) {
          ConvGeometry g = conv_geometry(3, channels, 7, 9, 4, kr[0], kr[1], st[0], st[1], pd[0], pd[2]);
          g.pad_h_end = pd[1], g.pad_w_end = pd[3];
          CAPTURE(g.pad_h_end);
          CAPTURE(g.pad_w_end);
          check_conv<T>(g, true);
        }
  // ONNX's test_conv_with_strides_and_asymmetric_padding: 7x5, 3x3, stride 2, pads [1, 0, 1, 0].
  ConvGeometry g = conv_geometry(1, 1, 7, 5, 1, 3, 3, 2, 2, 1, 0);
  g.pad_h_end = 1, g.pad_w_end = 0;
  CHECK(g.p() == 4);
  CHECK(g.q() == 2);
  g.pad_h_end = 2;  // one more row after: one more output row
  CHECK(g.p() == 4);
  g.pad_h_end = 3;
  CHECK(g.p() == 5);
}

// The 2x2, stride-2 max pool has its own vectorised path (float32): it must keep the general loop's rules
// bit for bit: pixels in row-major order, the first maximum wins ties (-0 before +0 stays -0), a NaN wins
// over numbers and the first NaN stays, a window of -inf points at its first pixel. Widths exercise the
// 16-, 8- and 4-lane blocks, the overlapping last block and the scalar rows.
TEST_CASE_TEMPLATE("cpu kernels: the 2x2 max pool keeps ties, NaN and -inf as the general loop does", T, float, double) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const T values[] = {-inf, T(-1), T(-0.0), T(0), T(1), T(2), nan};
  for (const int w : {36, 34, 17, 14, 9, 6, 3}) {
    const PoolGeometry g = pool_geometry(2, 3, 5, w, 2, 2, 2, 2, 0, 0);
    INFO("width ", w);
    std::vector<T> x(size_t(g.x_size()));
    uint32_t state = 12345u + uint32_t(w);
    for (T& v : x) {
      state = state * 1664525u + 1013904223u;
      v = values[(state >> 16) % 7];
    }
    std::vector<T> y(size_t(g.y_size()));
    std::vector<int32_t> argmax(size_t(g.y_size()), -1);
    maxpool_forward(g, x.data(), y.data(), argmax.data());
    const int P = g.p(), Q = g.q();
    for (int plane = 0; plane < g.n * g.c; ++plane)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) {
          const T* xp = x.data() + size_t(plane) * g.h * g.w;
          T best = -inf;
          int32_t best_at = 2 * p * w + 2 * q;
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
              const int32_t at = (2 * p + i) * w + 2 * q + j;
              const T v = xp[at];
              if (v > best || (std::isnan(v) && !std::isnan(best))) best = v, best_at = at;
            }
          const size_t o = (size_t(plane) * P + p) * Q + q;
          CHECK(std::memcmp(&y[o], &best, sizeof(T)) == 0);
          CHECK(argmax[o] == best_at);
        }
  }
}

TEST_CASE_TEMPLATE("cpu kernels: max and average pooling match direct windows", T, float, double) {
  const PoolGeometry geometries[] = {
      pool_geometry(2, 3, 8, 8, 2, 2, 2, 2, 0, 0),  // classic, non-overlapping
      pool_geometry(2, 3, 7, 9, 2, 2, 2, 2, 0, 0),  // classic on odd sizes: the last row and column are left out
      pool_geometry(2, 3, 7, 9, 3, 3, 2, 2, 1, 1),  // overlapping windows with padding
      pool_geometry(1, 2, 6, 5, 3, 2, 1, 2, 2, 1),  // stride 1 rows: heavy overlap, uneven padding
      pool_geometry(1, 1, 5, 5, 5, 5, 1, 1, 4, 4),  // windows mostly in the padding
  };
  for (const PoolGeometry& g : geometries) {
    INFO("pool ", g.h, "x", g.w, " window ", g.kh, "x", g.kw, " stride ", g.stride_h, "x", g.stride_w, " pad ", g.pad_h,
         "x", g.pad_w);
    const auto x = random_vector<T>(g.x_size(), 31), dy = random_vector<T>(g.y_size(), 32);
    std::vector<T> y(g.y_size(), T(7)), dx(g.x_size(), T(7));
    std::vector<int32_t> argmax(g.y_size(), -1);

    const PoolRef mx = pool_reference(g, true, x, dy);
    maxpool_forward(g, x.data(), y.data(), argmax.data());
    maxpool_backward(g, dy.data(), argmax.data(), dx.data());
    check_close(y, mx.y, "max forward");
    CHECK(argmax == mx.argmax);
    check_close(dx, mx.dx, "max backward");

    const PoolRef avg = pool_reference(g, false, x, dy);
    std::fill(dx.begin(), dx.end(), T(7));
    avgpool_forward(g, x.data(), y.data());
    avgpool_backward(g, dy.data(), dx.data());
    check_close(y, avg.y, "avg forward");
    check_close(dx, avg.dx, "avg backward");
  }
  std::vector<T> buf(100);
  std::vector<int32_t> idx(100);
  CHECK_THROWS_AS(maxpool_forward(pool_geometry(1, 1, 4, 4, 2, 2, 2, 2, 2, 0), buf.data(), buf.data(), idx.data()),
                  quill::Error);
}

// Asymmetric padding, ceil_mode (the output rounded up, a last window starting in the padding after the image
// dropped) and count_include_pad (the average over the window's part inside the padded input), alone and
// together, on odd sizes, and the 2x2 stride-2 windows of the vectorised path with padding after or ceil_mode.
TEST_CASE_TEMPLATE("cpu kernels: pooling with asymmetric padding, ceil_mode and count_include_pad", T, float, double) {
  struct Case {
    int h, w, kh, kw, sh, sw, top, bottom, left, right;
  };
  const Case cases[] = {
      {7, 9, 3, 3, 2, 2, 0, 1, 1, 0}, {7, 9, 3, 2, 2, 1, 2, 0, 0, 1}, {8, 5, 2, 2, 2, 2, 0, 1, 0, 1},
      {7, 7, 2, 2, 2, 2, 0, 0, 0, 0}, {6, 9, 3, 3, 3, 2, 1, 1, 1, 1}, {5, 5, 5, 5, 1, 1, 4, 4, 4, 4},
      {9, 6, 4, 3, 3, 2, 3, 1, 2, 0}, {2, 2, 1, 1, 2, 2, 0, 0, 0, 0},
  };
  for (const Case& cs : cases)
    for (bool ceil : {false, true})
      for (bool include : {false, true}) {
        PoolGeometry g = pool_geometry(2, 3, cs.h, cs.w, cs.kh, cs.kw, cs.sh, cs.sw, cs.top, cs.left);
        g.pad_h_end = cs.bottom, g.pad_w_end = cs.right, g.ceil_mode = ceil, g.count_include_pad = include;
        INFO("pool ", g.h, "x", g.w, " window ", g.kh, "x", g.kw, " stride ", g.stride_h, "x", g.stride_w, " pads ",
             cs.top, ",", cs.bottom, ",", cs.left, ",", cs.right, " ceil ", ceil, " count_include_pad ", include);
        const auto x = random_vector<T>(g.x_size(), 33), dy = random_vector<T>(g.y_size(), 34);
        std::vector<T> y(g.y_size(), T(7)), dx(g.x_size(), T(7));
        std::vector<int32_t> argmax(g.y_size(), -1);
        const PoolRef mx = pool_reference(g, true, x, dy);
        maxpool_forward(g, x.data(), y.data(), argmax.data());
        maxpool_backward(g, dy.data(), argmax.data(), dx.data());
        check_close(y, mx.y, "max forward");
        CHECK(argmax == mx.argmax);
        check_close(dx, mx.dx, "max backward");
        const PoolRef avg = pool_reference(g, false, x, dy);
        std::fill(dx.begin(), dx.end(), T(7));
        avgpool_forward(g, x.data(), y.data());
        avgpool_backward(g, dy.data(), dx.data());
        check_close(y, avg.y, "avg forward");
        check_close(dx, avg.dx, "avg backward");
      }
  // Output sizes, as ONNX's tests give them: test_maxpool_2d_ceil (4x4, 3x3, stride 2: 2x2, 1x1 rounded down),
  // and a last window that would start in the padding after the input (2x2, 1x1, stride 2, ceil: 1x1).
  PoolGeometry g = pool_geometry(1, 1, 4, 4, 3, 3, 2, 2, 0, 0);
  CHECK(g.p() == 1);
  g.ceil_mode = true;
  CHECK(g.p() == 2);
  CHECK(g.q() == 2);
  g = pool_geometry(1, 1, 2, 2, 1, 1, 2, 2, 0, 0);
  g.ceil_mode = true;
  CHECK(g.p() == 1);
  // Padding after the image as large as the window is refused (a window of padding alone).
  g = pool_geometry(1, 1, 4, 4, 2, 2, 2, 2, 0, 0);
  g.pad_h_end = 2;
  std::vector<T> buf(100);
  std::vector<int32_t> idx(100);
  CHECK_THROWS_AS(maxpool_forward(g, buf.data(), buf.data(), idx.data()), quill::Error);
}

TEST_CASE_TEMPLATE("cpu kernels: activations and their derivatives", T, float, double) {
  const int n = 1000;
  auto x = random_vector<T>(n, 41);
  for (auto& v : x) v *= T(4);  // reach the saturating parts of tanh and sigmoid
  x[0] = T(0);                  // the kink: ReLU'(0) = 0, LeakyReLU'(0) = alpha
  x[1] = T(-30);                // sigmoid far left: exp(30) must not overflow the formula
  const auto dy = random_vector<T>(n, 42);
  const double alpha = 0.1;
  // Per element, a direct formula in double; float results agree to a few ulps.
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  const Activation acts[] = {Activation::Relu, Activation::LeakyRelu, Activation::Tanh, Activation::Sigmoid};
  for (Activation act : acts) {
    CAPTURE(int(act));
    std::vector<T> y(n), dx(n);
    activation_forward(act, alpha, n, x.data(), y.data());
    activation_backward(act, alpha, n, x.data(), y.data(), dy.data(), dx.data());
    for (int i = 0; i < n; ++i) {
      const double xi = x[i];
      double fy = 0, fd = 0;
      switch (act) {
        case Activation::Relu:
          fy = xi > 0 ? xi : 0, fd = xi > 0 ? 1 : 0;
          break;
        case Activation::LeakyRelu:
          fy = xi > 0 ? xi : alpha * xi, fd = xi > 0 ? 1 : alpha;
          break;
        case Activation::Tanh:
          fy = std::tanh(xi), fd = 1 - fy * fy;
          break;
        case Activation::Sigmoid:
          fy = 1 / (1 + std::exp(-xi)), fd = fy * (1 - fy);
          break;
      }
      REQUIRE(std::fabs(y[i] - fy) <= tol * (1 + std::fabs(fy)));
      REQUIRE(std::fabs(dx[i] - fd * dy[i]) <= tol * (1 + std::fabs(fd * dy[i])));
    }
    if (act == Activation::Relu) CHECK(dx[0] == T(0));
    if (act == Activation::LeakyRelu) CHECK(dx[0] == T(alpha) * dy[0]);
  }
}

// A NaN in an activation's input (a diverged run) must reach the loss, where the trainer stops the run,
// rather than be masked: cuDNN (CUDNN_PROPAGATE_NAN) and PyTorch propagate it too. Signed zeros and
// infinities keep their usual values.
TEST_CASE_TEMPLATE("cpu kernels: activations propagate NaN", T, float, double) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const std::vector<T> x = {nan, T(-0.0), T(0), inf, -inf, T(2)};
  const int n = int(x.size());
  for (Activation act : {Activation::Relu, Activation::LeakyRelu, Activation::Tanh, Activation::Sigmoid}) {
    CAPTURE(int(act));
    std::vector<T> y(x.size());
    activation_forward(act, 0.1, n, x.data(), y.data());
    CHECK(std::isnan(y[0]));
    for (int i = 1; i < n; ++i) CHECK_FALSE(std::isnan(y[i]));
  }
  std::vector<T> y(x.size());
  activation_forward(Activation::Relu, 0, n, x.data(), y.data());
  CHECK((y[1] == T(0) && !std::signbit(y[1]) && y[2] == T(0) && y[3] == inf && y[4] == T(0) && y[5] == T(2)));
}

TEST_CASE_TEMPLATE("cpu kernels: add", T, float, double) {
  const int n = 40000;  // above the threading threshold
  const auto a = random_vector<T>(n, 51), b = random_vector<T>(n, 52);
  std::vector<T> y(n);
  add<T>(n, a.data(), b.data(), y.data());
  for (int i = 0; i < n; ++i) REQUIRE(y[i] == a[i] + b[i]);
}

TEST_CASE_TEMPLATE("cpu kernels: dropout keeps about 1-p, scales survivors, backward reuses the mask", T, float,
                   double) {
  const int64_t n = 100000;
  const double p = 0.3;
  const auto x = random_vector<T>(n, 61), dy = random_vector<T>(n, 62);
  std::vector<T> y(n), dx(n);
  dropout_forward<T>(n, p, 1234, 5, x.data(), y.data());
  dropout_backward<T>(n, p, 1234, 5, dy.data(), dx.data());
  const T scale = T(1.0 / (1.0 - p));
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = random_uniform(1234, 5, uint64_t(i)) >= p;  // the documented rule
    REQUIRE(y[i] == (keep ? x[i] * scale : T(0)));
    REQUIRE(dx[i] == (keep ? dy[i] * scale : T(0)));
    kept += keep;
  }
  // Binomial: the kept fraction has standard deviation sqrt(p(1-p)/n) = 0.00145; 0.01 is ~7 of them.
  CHECK(std::fabs(double(kept) / n - (1 - p)) < 0.01);

  std::vector<T> y2(n);  // another stream draws another mask
  dropout_forward<T>(n, p, 1234, 6, x.data(), y2.data());
  CHECK(y2 != y);
  dropout_forward<T>(n, 0.0, 1234, 5, x.data(), y2.data());  // p = 0 is the identity
  CHECK(y2 == x);
  CHECK_THROWS_AS(dropout_forward<T>(n, 1.0, 1, 0, x.data(), y2.data()), quill::Error);
}

TEST_CASE_TEMPLATE("cpu kernels: dense forward and backward match direct sums", T, float, double) {
  const int n = 7, in = 45, out = 13;
  const auto x = random_vector<T>(n * in, 71), w = random_vector<T>(out * in, 72);
  const auto b = random_vector<T>(out, 73), dy = random_vector<T>(n * out, 74);
  Ref ry(n * out), rdx(n * in), rdw(out * in), rdb(out);
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < out; ++o) {
      ry.add(i * out + o, b[o]);
      rdb.add(o, dy[i * out + o]);
      for (int j = 0; j < in; ++j) {
        ry.add(i * out + o, double(x[i * in + j]) * w[o * in + j]);
        rdx.add(i * in + j, double(dy[i * out + o]) * w[o * in + j]);
        rdw.add(o * in + j, double(dy[i * out + o]) * x[i * in + j]);
      }
    }
  std::vector<T> y(n * out, T(7)), dx(n * in, T(7)), dw(out * in, T(7)), db(out, T(7));
  dense_forward<T>(n, in, out, x.data(), w.data(), b.data(), y.data());
  dense_backward<T>(n, in, out, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  check_close(y, ry, "y");
  check_close(dx, rdx, "dx");
  check_close(dw, rdw, "dw");
  check_close(db, rdb, "db");
  // Optional outputs may be null.
  dense_forward<T>(n, in, out, x.data(), w.data(), nullptr, y.data());
  dense_backward<T>(n, in, out, x.data(), w.data(), dy.data(), nullptr, dw.data(), nullptr);
  check_close(dw, rdw, "dw without dx and db");
}

TEST_CASE_TEMPLATE("cpu kernels: batchnorm train, eval and backward", T, float, double) {
  const int n = 4, c = 3, hw = 10;
  const int64_t m = int64_t(n) * hw;
  auto x = random_vector<T>(n * c * hw, 81);
  for (auto& v : x) v = v * T(2) + T(3);  // a non-zero mean, so centering matters
  const auto gamma = random_vector<T>(c, 82), beta = random_vector<T>(c, 83), dy = random_vector<T>(n * c * hw, 84);
  const double eps = 1e-5, momentum = 0.1;
  std::vector<T> y(n * c * hw), mean(c), invstd(c), rmean(c, T(0.5)), rvar(c, T(2));
  batchnorm_forward_train(n, c, hw, x.data(), gamma.data(), beta.data(), eps, momentum, y.data(), mean.data(),
                          invstd.data(), rmean.data(), rvar.data());
  std::vector<T> dx(n * c * hw), dgamma(c), dbeta(c);
  batchnorm_backward(n, c, hw, x.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), dx.data(), dgamma.data(),
                     dbeta.data());

  // Float results are rounded from double arithmetic: a few ulps.
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-12;
  auto at = [&](int i, int ch, int j) { return (size_t(i) * c + ch) * hw + j; };
  for (int ch = 0; ch < c; ++ch) {
    double mu = 0, var = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < hw; ++j) mu += x[at(i, ch, j)];
    mu /= m;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < hw; ++j) var += (x[at(i, ch, j)] - mu) * (x[at(i, ch, j)] - mu);
    var /= m;
    const double is = 1 / std::sqrt(var + eps);
    CHECK(double(mean[ch]) == doctest::Approx(mu).epsilon(tol));
    CHECK(double(invstd[ch]) == doctest::Approx(is).epsilon(tol));
    CHECK(double(rmean[ch]) == doctest::Approx(0.9 * 0.5 + 0.1 * mu).epsilon(tol));
    CHECK(double(rvar[ch]) == doctest::Approx(0.9 * 2 + 0.1 * var * m / (m - 1)).epsilon(tol));
    double sdy = 0, sdyxhat = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < hw; ++j) {
        const double xhat = (x[at(i, ch, j)] - mu) * is;
        REQUIRE(std::fabs(y[at(i, ch, j)] - (gamma[ch] * xhat + beta[ch])) <= tol * 8);
        sdy += dy[at(i, ch, j)];
        sdyxhat += dy[at(i, ch, j)] * xhat;
      }
    CHECK(double(dbeta[ch]) == doctest::Approx(sdy).epsilon(tol));
    CHECK(double(dgamma[ch]) == doctest::Approx(sdyxhat).epsilon(tol));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < hw; ++j) {
        const double xhat = (x[at(i, ch, j)] - mu) * is;
        const double want = gamma[ch] * is * (dy[at(i, ch, j)] - sdy / m - xhat * sdyxhat / m);
        REQUIRE(std::fabs(dx[at(i, ch, j)] - want) <= tol * 8 * (1 + std::fabs(want)));
      }
  }

  SUBCASE("backward agrees with finite differences of sum(y * dy)") {
    if (!std::is_same_v<T, double>) return;
    auto loss = [&](const std::vector<T>& xs) {
      std::vector<T> ys(xs.size()), mu(c), is(c), rm(c), rv(c);
      batchnorm_forward_train(n, c, hw, xs.data(), gamma.data(), beta.data(), eps, momentum, ys.data(), mu.data(),
                              is.data(), rm.data(), rv.data());
      double l = 0;
      for (size_t i = 0; i < ys.size(); ++i) l += double(ys[i]) * dy[i];
      return l;
    };
    for (size_t i = 0; i < x.size(); i += 7) {
      auto xp = x, xm = x;
      // Central differences: truncation ~h^2 and rounding ~1e-16/h, both far below 1e-6.
      const double h = 1e-5;
      xp[i] += T(h), xm[i] -= T(h);
      CHECK(double(dx[i]) == doctest::Approx((loss(xp) - loss(xm)) / (2 * h)).epsilon(1e-6));
    }
  }

  SUBCASE("eval uses the running statistics") {
    std::vector<T> ye(n * c * hw);
    batchnorm_forward_eval(n, c, hw, x.data(), gamma.data(), beta.data(), rmean.data(), rvar.data(), eps, ye.data());
    for (int i = 0; i < n; ++i)
      for (int ch = 0; ch < c; ++ch)
        for (int j = 0; j < hw; ++j) {
          const double want = gamma[ch] * (x[at(i, ch, j)] - double(rmean[ch])) / std::sqrt(rvar[ch] + eps) + beta[ch];
          REQUIRE(std::fabs(ye[at(i, ch, j)] - want) <= tol * 8 * (1 + std::fabs(want)));
        }
  }
}

TEST_CASE_TEMPLATE("cpu kernels: softmax cross-entropy loss, gradient, overflow and bad labels", T, float, double) {
  const int n = 5, c = 7;
  const auto logits = random_vector<T>(n * c, 91);
  const std::vector<int32_t> labels = {0, 6, 3, 3, 1};
  // The kernel works in double and rounds once to T: float agrees to a few ulps, double to ~1e-15.
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  for (double smoothing : {0.0, 0.1}) {
    CAPTURE(smoothing);
    std::vector<T> probs(n * c), dlogits(n * c);
    const double loss = softmax_xent_forward<T>(n, c, logits.data(), labels.data(), smoothing, probs.data());
    softmax_xent_backward<T>(n, c, probs.data(), labels.data(), smoothing, dlogits.data());
    // Direct formula: p = exp(x) / sum exp(x); loss = mean over rows of -sum_j target_j log p_j.
    double want_loss = 0;
    for (int i = 0; i < n; ++i) {
      double denom = 0;
      for (int j = 0; j < c; ++j) denom += std::exp(double(logits[i * c + j]));
      for (int j = 0; j < c; ++j) {
        const double p = std::exp(double(logits[i * c + j])) / denom;
        const double target = (j == labels[i] ? 1 - smoothing : 0) + smoothing / c;
        want_loss -= target * std::log(p) / n;
        CHECK(double(probs[i * c + j]) == doctest::Approx(p).epsilon(tol));
        CHECK(double(dlogits[i * c + j]) == doctest::Approx((p - target) / n).epsilon(tol));
      }
    }
    CHECK(loss == doctest::Approx(want_loss).epsilon(tol));
  }

  SUBCASE("large logits do not overflow") {
    // Row {1000, 1001, 999}, label 1: loss = log(e^-1 + 1 + e^-2) = log(1.5032147) = 0.40760596.
    const std::vector<T> big = {T(1000), T(1001), T(999)};
    const std::vector<int32_t> label = {1};
    std::vector<T> probs(3);
    const double loss = softmax_xent_forward<T>(1, 3, big.data(), label.data(), 0.0, probs.data());
    CHECK(loss == doctest::Approx(std::log(std::exp(-1.0) + 1 + std::exp(-2.0))).epsilon(1e-12));
    CHECK(double(probs[1]) == doctest::Approx(1 / (std::exp(-1.0) + 1 + std::exp(-2.0))).epsilon(tol));
    CHECK(std::isfinite(loss));
  }

  SUBCASE("labels outside [0, c) throw") {
    std::vector<T> probs(n * c), d(n * c);
    const std::vector<int32_t> too_big = {0, 7, 1, 1, 1}, negative = {0, 1, -1, 1, 1};
    CHECK_THROWS_AS(softmax_xent_forward<T>(n, c, logits.data(), too_big.data(), 0.0, probs.data()), quill::Error);
    CHECK_THROWS_AS(softmax_xent_forward<T>(n, c, logits.data(), negative.data(), 0.0, probs.data()), quill::Error);
    CHECK_THROWS_AS(softmax_xent_backward<T>(n, c, probs.data(), too_big.data(), 0.0, d.data()), quill::Error);
  }
}

TEST_CASE("cpu kernels: SGD with momentum, Nesterov and weight decay, step by step") {
  // One parameter p0 = 1, gradient 0.5 every step, lr 0.1, momentum 0.9, weight decay 0.01. Double storage is
  // checked to 1e-14 (a few roundings of numbers below 2), float storage to 1e-7 (float rounding).
  const SgdConfig plain{0.1, 0.0, 0.0, false};
  const SgdConfig heavy{0.1, 0.9, 0.01, false};
  const SgdConfig nesterov{0.1, 0.9, 0.01, true};
  const double grad = 0.5;

  SUBCASE("no momentum: p -= 0.1 * 0.5 each step, no velocity buffer needed") {
    double p = 1;
    for (double want : {0.95, 0.90, 0.85}) {
      sgd_step<double>(1, plain, &p, &grad, nullptr);
      CHECK(p == doctest::Approx(want).epsilon(1e-15));
    }
  }
  SUBCASE("momentum") {
    // 1: g = 0.5 + 0.01*1     = 0.51,       v = 0.51,                          p = 1 - 0.051        = 0.949
    // 2: g = 0.5 + 0.00949    = 0.50949,    v = 0.459 + 0.50949 = 0.96849,       p = 0.949 - 0.096849 = 0.852151
    // 3: g = 0.5 + 0.00852151 = 0.50852151, v = 0.871641 + 0.50852151 = 1.38016251,
    //    p = 0.852151 - 0.138016251 = 0.714134749
    double p = 1, v = 0;
    const double want_p[] = {0.949, 0.852151, 0.714134749}, want_v[] = {0.51, 0.96849, 1.38016251};
    for (int step = 0; step < 3; ++step) {
      sgd_step<double>(1, heavy, &p, &grad, &v);
      CHECK(p == doctest::Approx(want_p[step]).epsilon(1e-14));
      CHECK(v == doctest::Approx(want_v[step]).epsilon(1e-14));
    }
  }
  SUBCASE("Nesterov") {
    // 1: g = 0.51, v = 0.51, step = g + 0.9 v = 0.969, p = 1 - 0.0969 = 0.9031
    // 2: g = 0.5 + 0.009031 = 0.509031, v = 0.459 + 0.509031 = 0.968031, step = 0.509031 + 0.8712279
    //    = 1.3802589, p = 0.9031 - 0.13802589 = 0.76507411
    float p = 1, v = 0;  // float storage: same numbers to float precision
    const float g = 0.5f;
    sgd_step<float>(1, nesterov, &p, &g, &v);
    CHECK(p == doctest::Approx(0.9031).epsilon(1e-7));
    sgd_step<float>(1, nesterov, &p, &g, &v);
    CHECK(p == doctest::Approx(0.76507411).epsilon(1e-7));
    CHECK(v == doctest::Approx(0.968031).epsilon(1e-7));
  }
}

TEST_CASE("cpu kernels: Adam and AdamW, step by step") {
  // p0 = 1, gradients 0.5, -0.25, 1.0; lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8. Double storage: the
  // hand values below carry 8 digits in the comments and 16 in the checks (1e-12 leaves room for pow).
  const double grads[] = {0.5, -0.25, 1.0};
  auto run = [&](const AdamConfig& cfg, const double(&want)[3]) {
    double p = 1, m = 0, v = 0;
    for (int t = 1; t <= 3; ++t) {
      adam_step<double>(1, cfg, t, &p, &grads[t - 1], &m, &v);
      CHECK(p == doctest::Approx(want[t - 1]).epsilon(1e-12));
    }
  };
  SUBCASE("Adam, no weight decay") {
    // 1: m = 0.05, v = 0.00025, mhat = 0.05/0.1 = 0.5, vhat = 0.00025/0.001 = 0.25,
    //    step = 0.5/(0.5 + 1e-8) = 0.99999998, p = 1 - 0.099999998 = 0.900000002
    // 2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225, mhat = 0.02/0.19 = 0.10526316,
    //    vhat = 0.00031225/0.001999 = 0.15620310, sqrt = 0.39522538, step = 0.26633703, p = 0.87336630
    // 3: m = 0.018 + 0.1 = 0.118, v = 0.00031193775 + 0.001 = 0.00131193775, mhat = 0.118/0.271 = 0.43542435,
    //    vhat = 0.00131193775/0.002997001 = 0.43775019, sqrt = 0.66162692, step = 0.65811159, p = 0.80755514
    run({0.1, 0.9, 0.999, 1e-8, 0.0, false}, {0.900000002, 0.8733662987078462, 0.8075551396770897});
  }
  SUBCASE("Adam, L2 weight decay 0.1 folded into the gradient") {
    // 1: g = 0.5 + 0.1*1 = 0.6, m = 0.06, v = 0.00036, mhat = 0.6, vhat = 0.36, step = 0.6/0.60000001,
    //    p = 1 - 0.1*0.99999998333 = 0.9000000016667
    // 2: g = -0.25 + 0.09000000017 = -0.15999999983, m = 0.054 - 0.016 = 0.038, v = 0.00035964 + 0.0000256
    //    = 0.00038524, mhat = 0.2, vhat = 0.19271636, sqrt = 0.43899472, step = 0.45558634, p = 0.85444137
    // 3: g = 1 + 0.085444137 = 1.0854441, m = 0.0342 + 0.10854441 = 0.14274441, v = 0.0015630437,
    //    mhat = 0.52673215, vhat = 0.52153594, step = 0.72936968, p = 0.78150440
    run({0.1, 0.9, 0.999, 1e-8, 0.1, false}, {0.9000000016666666, 0.8544413674617625, 0.7815043998631658});
  }
  SUBCASE("AdamW, decoupled weight decay 0.1") {
    // Same m, v and steps as plain Adam; the weight is first scaled by 1 - lr*wd = 0.99:
    // 1: p = 0.99 - 0.099999998 = 0.890000002
    // 2: p = 0.890000002*0.99 - 0.026633703 = 0.88110000198 - 0.026633703 = 0.85446630
    // 3: p = 0.85446630*0.99 - 0.065811159 = 0.84592163 - 0.065811159 = 0.78011048
    run({0.1, 0.9, 0.999, 1e-8, 0.1, true}, {0.8900000019999998, 0.8544662986878462, 0.7801104766702112});
  }
  SUBCASE("float storage, many elements (threaded) agree with the double path") {
    const int64_t n = 50000;
    std::vector<float> p(n, 1.0f), m(n, 0.0f), v(n, 0.0f), g(n, 0.5f);
    adam_step<float>(n, {0.1, 0.9, 0.999, 1e-8, 0.0, false}, 1, p.data(), g.data(), m.data(), v.data());
    CHECK(std::all_of(p.begin(), p.end(), [](float x) { return x == 0.9f; }));
  }
  double p = 1, m = 0, v = 0, g = 1;
  CHECK_THROWS_AS(adam_step<double>(1, AdamConfig{}, 0, &p, &g, &m, &v), quill::Error);
}

TEST_CASE("cpu kernels: results are bit-identical with 1 and 2 threads") {
  SUBCASE("gemm") {
    const int m = 129, n = 300, k = 257;
    const auto a = random_vector<float>(m * k, 101), b = random_vector<float>(k * n, 102);
    for (int tb = 0; tb < 2; ++tb) {
      std::vector<float> c1(m * n), c2(m * n);
      with_threads(1,
                   [&] { gemm<float>(false, tb, m, n, k, 1.f, a.data(), k, b.data(), tb ? k : n, 0.f, c1.data(), n); });
      with_threads(2,
                   [&] { gemm<float>(false, tb, m, n, k, 1.f, a.data(), k, b.data(), tb ? k : n, 0.f, c2.data(), n); });
      CHECK(bit_identical(c1, c2));
    }
  }
  SUBCASE("conv2d, including the batch-summed weight gradient") {
    for (int stride : {1, 2}) {
      CAPTURE(stride);  // stride 1: padded grid; stride 2: explicit column matrix
      // 19 images: 3 chunks of the weight gradient; sizes big enough that both threads work.
      const ConvGeometry g = conv_geometry(19, 16, 12, 12, 6, 3, 3, stride, stride, 1, 1);
      const auto x = random_vector<float>(g.x_size(), 111), w = random_vector<float>(g.w_size(), 112);
      const auto b = random_vector<float>(g.k, 113), dy = random_vector<float>(g.y_size(), 114);
      std::vector<float> out[2][5];
      for (int threads = 1; threads <= 2; ++threads)
        with_threads(threads, [&] {
          auto& o = out[threads - 1];
          o[0].resize(g.y_size()), o[1].resize(g.x_size()), o[2].resize(g.w_size()), o[3].resize(g.k);
          conv2d_forward(g, x.data(), w.data(), b.data(), o[0].data());
          conv2d_backward_data(g, dy.data(), w.data(), o[1].data());
          conv2d_backward_weights(g, x.data(), dy.data(), o[2].data(), o[3].data());
          // A single image: the threads split the GEMM instead of the batch.
          ConvGeometry one = g;
          one.n = 1;
          o[4].resize(one.y_size());
          conv2d_forward(one, x.data(), w.data(), b.data(), o[4].data());
        });
      for (int i = 0; i < 5; ++i) {
        CAPTURE(i);
        CHECK(bit_identical(out[0][i], out[1][i]));
      }
    }
  }
}
