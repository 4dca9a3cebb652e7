// Max and average pooling. Each (n, c) plane is independent, so planes run in parallel; within a plane
// the work runs in a fixed order (also the backward scatter, where windows may overlap), so results never
// depend on the thread count. Loops run along an output row with the window offset fixed, so the inner
// loop is branch-free and vectorises.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <type_traits>
#include <vector>

#include "kernels/binding.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_internal.h"
#include "runtime/error.h"
#include "runtime/ops.h"

namespace quill::cpu {
namespace {

void check_geometry(const PoolGeometry& g, const char* op) {
  QUILL_CHECK(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0, op, ": sizes must be positive (n=", g.n, " c=", g.c, " h=", g.h,
              " w=", g.w, ")");
  QUILL_CHECK(g.kh > 0 && g.kw > 0 && g.stride_h > 0 && g.stride_w > 0, op, ": window and strides must be positive");
  // pad < window on every side guarantees every window overlaps the image (no empty max, no division by
  // zero), also with ceil_mode (runtime/geometry.h: window_count).
  QUILL_CHECK(g.pad_h >= 0 && g.pad_w >= 0 && g.pad_h < g.kh && g.pad_w < g.kw && g.pad_bottom() >= 0 &&
                  g.pad_right() >= 0 && g.pad_bottom() < g.kh && g.pad_right() < g.kw,
              op, ": padding ", g.pad_h, ",", g.pad_bottom(), "x", g.pad_w, ",", g.pad_right(),
              " must be non-negative and smaller than the window ", g.kh, "x", g.kw);
  QUILL_CHECK(g.h + g.pad_h + g.pad_bottom() >= g.kh && g.w + g.pad_w + g.pad_right() >= g.kw, op, ": window ", g.kh,
              "x", g.kw, " larger than the padded input");
}

bool parallel_worth_it(const PoolGeometry& g) { return g.x_size() >= 32768; }

// Output columns [first, last) whose window column j lands inside the image, at input column
// ow * stride_w + offset with offset = j - pad_w.
struct Columns {
  int first, last, offset;
};

// The window geometry of one output row: rows [h0, h1) of the image, and per window column its outputs.
class RowWindows {
 public:
  explicit RowWindows(const PoolGeometry& g) : g_(g), q_(g.q()), count_(q_) {
    for (int j = 0; j < g.kw; ++j) {
      const int offset = j - g.pad_w;
      int first = offset >= 0 ? 0 : (-offset + g.stride_w - 1) / g.stride_w;
      int last = g.w - 1 - offset < 0 ? 0 : (g.w - 1 - offset) / g.stride_w + 1;
      first = std::min(first, q_);
      columns_.push_back({first, std::max(first, std::min(last, q_)), offset});
    }
    for (int ow = 0; ow < q_; ++ow) {
      const int ws = ow * g.stride_w - g.pad_w;
      count_[ow] = g.count_include_pad ? std::min(ws + g.kw, g.w + g.pad_right()) - ws
                                       : std::min(ws + g.kw, g.w) - std::max(ws, 0);
    }
  }
  int h0(int oh) const { return std::max(oh * g_.stride_h - g_.pad_h, 0); }
  int h1(int oh) const { return std::min(oh * g_.stride_h - g_.pad_h + g_.kh, g_.h); }
  const std::vector<Columns>& columns() const { return columns_; }
  int first_column(int ow) const { return std::max(ow * g_.stride_w - g_.pad_w, 0); }
  // The divisor of window (oh, ow)'s average: its pixels inside the image, or inside the padded input with
  // count_include_pad.
  int count(int oh, int ow) const {
    const int hs = oh * g_.stride_h - g_.pad_h;
    const int rows = g_.count_include_pad ? std::min(hs + g_.kh, g_.h + g_.pad_bottom()) - hs : h1(oh) - h0(oh);
    return rows * count_[ow];
  }

 private:
  const PoolGeometry& g_;
  int q_;
  std::vector<int> count_;  // window columns counted in the divisor, per output column
  std::vector<Columns> columns_;
};

}  // namespace

// The common 2x2 window with stride 2 and no padding: every window lies inside the image, and its four
// pixels are taken in the general loop's order (row-major, the first maximum wins ties, a NaN wins over
// numbers), so the outputs and argmax are the same bits. float32 output rows go L outputs at a time: the
// even and odd columns of L pixel pairs are split with shuffles, and a row's last block overlaps the one
// before it (recomputing outputs gives the same values).
template <class T>
inline void take_if_greater(T v, int32_t at, T& best, int32_t& best_at) {
  const bool take = v > best || (v != v && best == best);
  best = take ? v : best;
  best_at = take ? at : best_at;
}

template <class T>
void maxpool_2x2_outputs(const T* r0, const T* r1, int32_t at0, int w, int first, int last, T* y, int32_t* argmax) {
  for (int ow = first; ow < last; ++ow) {
    T best = -std::numeric_limits<T>::infinity();
    int32_t best_at = at0 + 2 * ow;
    take_if_greater(r0[2 * ow], at0 + 2 * ow, best, best_at);
    take_if_greater(r0[2 * ow + 1], at0 + 2 * ow + 1, best, best_at);
    take_if_greater(r1[2 * ow], at0 + w + 2 * ow, best, best_at);
    take_if_greater(r1[2 * ow + 1], at0 + w + 2 * ow + 1, best, best_at);
    y[ow] = best;
    argmax[ow] = best_at;
  }
}

template <int L>
struct LaneTypes;
template <>
struct LaneTypes<16> {
  typedef float V __attribute__((vector_size(64)));
  typedef int32_t I __attribute__((vector_size(64)));
};
template <>
struct LaneTypes<8> {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
};
template <>
struct LaneTypes<4> {
  typedef float V __attribute__((vector_size(16)));
  typedef int32_t I __attribute__((vector_size(16)));
};

template <int L>
struct FloatLanes {
  using V = typename LaneTypes<L>::V;
  using I = typename LaneTypes<L>::I;
  static I iota(int32_t start, int32_t step) {
    I v;
    for (int l = 0; l < L; ++l) v[l] = start + step * l;
    return v;
  }
  // Lanes Odd, Odd + 2, Odd + 4, ... of the concatenation a:b (the even or the odd columns of 2L pixels).
  // GCC and clang spell the shuffle differently; both compile it to the same permutes.
  template <int Odd, size_t... K>
  static V lanes(V a, V b, std::index_sequence<K...>) {
#if defined(__clang__)
    return __builtin_shufflevector(a, b, int(2 * K + Odd)...);
#else
    return __builtin_shuffle(a, b, I{int32_t(2 * K + Odd)...});
#endif
  }
  template <int Odd>
  static V lanes(V a, V b) {
    return lanes<Odd>(a, b, std::make_index_sequence<L>{});
  }
  // Outputs [ow, ow + L) of the row pair (r0, r1).
  static void block(const float* r0, const float* r1, int32_t at0, int w, int ow, float* y, int32_t* argmax) {
    V a0, b0, a1, b1;
    std::memcpy(&a0, r0 + 2 * ow, sizeof(V));
    std::memcpy(&b0, r0 + 2 * ow + L, sizeof(V));
    std::memcpy(&a1, r1 + 2 * ow, sizeof(V));
    std::memcpy(&b1, r1 + 2 * ow + L, sizeof(V));
    const V v[4] = {lanes<0>(a0, b0), lanes<1>(a0, b0), lanes<0>(a1, b1), lanes<1>(a1, b1)};
    const I first_at = iota(at0 + 2 * ow, 2);
    const I at[4] = {first_at, first_at + 1, first_at + w, first_at + w + 1};
    V best = V{} - std::numeric_limits<float>::infinity();
    I best_at = first_at;
    for (int k = 0; k < 4; ++k) {
      const I take = (v[k] > best) | ((v[k] != v[k]) & (best == best));
      best = take ? v[k] : best;
      best_at = take ? at[k] : best_at;
    }
    std::memcpy(y + ow, &best, sizeof(V));
    std::memcpy(argmax + ow, &best_at, sizeof(I));
  }
  static void row(const float* r0, const float* r1, int32_t at0, int w, int q, float* y, int32_t* argmax) {
    int ow = 0;
    for (; ow + L <= q; ow += L) block(r0, r1, at0, w, ow, y, argmax);
    if (ow < q) block(r0, r1, at0, w, q - L, y, argmax);
  }
};

template <class T>
void maxpool_2x2_row(const T* r0, const T* r1, int32_t at0, int w, int q, T* y, int32_t* argmax) {
  if constexpr (std::is_same_v<T, float>) {
    // Only the widths the target has registers for are compiled (no wider vectors split by the compiler).
    if constexpr (detail::kSimdBytes >= 64)
      if (q >= 16) return FloatLanes<16>::row(r0, r1, at0, w, q, y, argmax);
    if constexpr (detail::kSimdBytes >= 32)
      if (q >= 8) return FloatLanes<8>::row(r0, r1, at0, w, q, y, argmax);
    if (q >= 4) return FloatLanes<4>::row(r0, r1, at0, w, q, y, argmax);
  }
  maxpool_2x2_outputs(r0, r1, at0, w, 0, q, y, argmax);
}

template <class T>
void maxpool_forward_2x2(const PoolGeometry& g, const T* x, T* y, int32_t* argmax) {
  const int P = g.p(), Q = g.q(), planes = g.n * g.c, W = g.w;
#pragma omp parallel for schedule(static) if (parallel_worth_it(g))
  for (int plane = 0; plane < planes; ++plane) {
    const T* xp = x + int64_t(plane) * g.h * W;
    for (int oh = 0; oh < P; ++oh) {
      const int64_t out = (int64_t(plane) * P + oh) * Q;
      maxpool_2x2_row(xp + 2 * oh * W, xp + (2 * oh + 1) * W, 2 * oh * W, W, Q, y + out, argmax + out);
    }
  }
}

template <class T>
void maxpool_forward(const PoolGeometry& g, const T* x, T* y, int32_t* argmax) {
  check_geometry(g, "maxpool_forward");
  if (g.kh == 2 && g.kw == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0 &&
      g.pad_bottom() == 0 && g.pad_right() == 0 && !g.ceil_mode)
    return maxpool_forward_2x2(g, x, y, argmax);
  const int P = g.p(), Q = g.q(), planes = g.n * g.c;
  const RowWindows win(g);
#pragma omp parallel if (parallel_worth_it(g))
  {
    std::vector<T> best(Q);
    std::vector<int32_t> best_at(Q);
#pragma omp for schedule(static)
    for (int plane = 0; plane < planes; ++plane) {
      const T* xp = x + int64_t(plane) * g.h * g.w;
      for (int oh = 0; oh < P; ++oh) {
        for (int ow = 0; ow < Q; ++ow) {
          best[ow] = -std::numeric_limits<T>::infinity();
          best_at[ow] = win.h0(oh) * g.w + win.first_column(ow);  // stays if every value is -inf
        }
        // Window pixels in row-major order, so the first maximum wins ties; a NaN wins over numbers so
        // it propagates, as in other frameworks.
        for (int ih = win.h0(oh); ih < win.h1(oh); ++ih)
          for (const Columns cols : win.columns()) {  // a copy: the loop bounds must not alias best_at
            const T* row = xp + ih * g.w + cols.offset;
            const int32_t at = ih * g.w + cols.offset;
            for (int ow = cols.first; ow < cols.last; ++ow) {
              const T v = row[ow * g.stride_w];
              const bool take = v > best[ow] || (v != v && best[ow] == best[ow]);
              best[ow] = take ? v : best[ow];
              best_at[ow] = take ? at + ow * g.stride_w : best_at[ow];
            }
          }
        const int64_t out = (int64_t(plane) * P + oh) * Q;
        std::copy(best.begin(), best.end(), y + out);
        std::copy(best_at.begin(), best_at.end(), argmax + out);
      }
    }
  }
}

template <class T>
void maxpool_backward(const PoolGeometry& g, const T* dy, const int32_t* argmax, T* dx) {
  check_geometry(g, "maxpool_backward");
  const int PQ = g.p() * g.q(), HW = g.h * g.w, planes = g.n * g.c;
#pragma omp parallel for schedule(static) if (parallel_worth_it(g))
  for (int plane = 0; plane < planes; ++plane) {
    T* dxp = dx + int64_t(plane) * HW;
    std::fill(dxp, dxp + HW, T(0));
    const int64_t out = int64_t(plane) * PQ;
    for (int o = 0; o < PQ; ++o) dxp[argmax[out + o]] += dy[out + o];
  }
}

template <class T>
void avgpool_forward(const PoolGeometry& g, const T* x, T* y) {
  check_geometry(g, "avgpool_forward");
  const int P = g.p(), Q = g.q(), planes = g.n * g.c;
  const RowWindows win(g);
#pragma omp parallel if (parallel_worth_it(g))
  {
    std::vector<T> sum(Q);
#pragma omp for schedule(static)
    for (int plane = 0; plane < planes; ++plane) {
      const T* xp = x + int64_t(plane) * g.h * g.w;
      for (int oh = 0; oh < P; ++oh) {
        std::fill(sum.begin(), sum.end(), T(0));
        for (int ih = win.h0(oh); ih < win.h1(oh); ++ih)  // window pixels in row-major order
          for (const Columns cols : win.columns()) {
            const T* row = xp + ih * g.w + cols.offset;
            for (int ow = cols.first; ow < cols.last; ++ow) sum[ow] += row[ow * g.stride_w];
          }
        T* yr = y + (int64_t(plane) * P + oh) * Q;
        for (int ow = 0; ow < Q; ++ow) yr[ow] = sum[ow] / T(win.count(oh, ow));
      }
    }
  }
}

template <class T>
void avgpool_backward(const PoolGeometry& g, const T* dy, T* dx) {
  check_geometry(g, "avgpool_backward");
  const int P = g.p(), Q = g.q(), HW = g.h * g.w, planes = g.n * g.c;
  const RowWindows win(g);
#pragma omp parallel if (parallel_worth_it(g))
  {
    std::vector<T> share(Q);
#pragma omp for schedule(static)
    for (int plane = 0; plane < planes; ++plane) {
      T* dxp = dx + int64_t(plane) * HW;
      std::fill(dxp, dxp + HW, T(0));
      for (int oh = 0; oh < P; ++oh) {
        const T* dyr = dy + (int64_t(plane) * P + oh) * Q;
        for (int ow = 0; ow < Q; ++ow) share[ow] = dyr[ow] / T(win.count(oh, ow));
        for (int ih = win.h0(oh); ih < win.h1(oh); ++ih)
          for (const Columns cols : win.columns()) {
            T* row = dxp + ih * g.w + cols.offset;
            for (int ow = cols.first; ow < cols.last; ++ow) row[ow * g.stride_w] += share[ow];
          }
      }
    }
  }
}

#define QUILL_INSTANTIATE(T)                                                            \
  template void maxpool_forward<T>(const PoolGeometry&, const T*, T*, int32_t*);        \
  template void maxpool_backward<T>(const PoolGeometry&, const T*, const int32_t*, T*); \
  template void avgpool_forward<T>(const PoolGeometry&, const T*, T*);                  \
  template void avgpool_backward<T>(const PoolGeometry&, const T*, T*);
QUILL_INSTANTIATE(float)
QUILL_INSTANTIATE(double)
#undef QUILL_INSTANTIATE

// ---- binding to the ops (runtime/ops.h); register_cpu.cpp calls it ----
void bind_pooling_ops() {
  using namespace binding;
  constexpr Backend B = Backend::Cpu;
  bind(ops::maxpool_forward, B, [](auto t, auto... a) { maxpool_forward<decltype(t)>(a...); });
  bind(ops::maxpool_backward, B, [](auto t, auto... a) { maxpool_backward<decltype(t)>(a...); });
  bind(ops::avgpool_forward, B, [](auto t, auto... a) { avgpool_forward<decltype(t)>(a...); });
  bind(ops::avgpool_backward, B, [](auto t, auto... a) { avgpool_backward<decltype(t)>(a...); });
}

}  // namespace quill::cpu
