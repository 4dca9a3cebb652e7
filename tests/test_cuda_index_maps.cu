// The CUDA kernels' index math run on the host, where no GPU is needed, against the CPU reference: the
// convolution passes as the GEMM problems the tiled kernel multiplies (kernels/cuda/conv2d_gemm.cuh: sizes,
// split-K chunks and every operand and store functor), gemm and the dense passes the same way
// (kernels/cuda/matrix_gemm.cuh), the pooling passes' element functions (kernels/cuda/pool_elements.cuh),
// and which tile element each thread of the GEMM kernels stages (gemm_staging.cuh). Compiled in CUDA builds
// only. What only a GPU can check (shared memory, synchronisation, the launches) is in test_gpu_backends.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/backends.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/conv2d_gemm.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/matrix_gemm.cuh"
#include "kernels/cuda/pool_elements.cuh"
#include "runtime/ops.h"
#include "runtime/rng.h"
#include "tests/kernel_shapes.h"

using namespace quill;
using namespace quill::test_shapes;

namespace {

template <class T>
Tensor random_tensor(const Shape& shape, Rng& rng) {
  Tensor t = Tensor::empty(shape, std::is_same_v<T, float> ? DType::F32 : DType::F64);
  // Uniform in [-1, -0.05] U [0.05, 1]: never zero, so a missing term shows.
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double magnitude = rng.uniform(0.05, 1.0);
    t.data<T>()[i] = T(rng.uniform() < 0.5 ? -magnitude : magnitude);
  }
  return t;
}

// Filled with NaN (int32: a negative index), so an element the maps never write fails the comparison.
Tensor poisoned_like(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  out.fill(t.dtype() == DType::I32 ? -123456789.0 : std::numeric_limits<double>::quiet_NaN());
  return out;
}

double relative_error(const Tensor& got, const Tensor& want) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.data<double>()[i], w = want.data<double>()[i];
    if (!std::isfinite(g)) return std::numeric_limits<double>::infinity();
    diff += (g - w) * (g - w);
    norm += w * w;
  }
  return std::sqrt(diff / norm);
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

// C = A B as the tiled kernel computes it, chunk by chunk of K (each chunk to the store with its index), but
// in double on the host.
template <class T, class Problem>
void multiply_on_host(const Problem& p) {
  for (int z = 0; z < p.split.splits; ++z) {
    const int k_begin = z * p.split.chunk, k_end = std::min(p.k, k_begin + p.split.chunk);
    for (int m = 0; m < p.m; ++m)
      for (int n = 0; n < p.n; ++n) {
        double sum = 0;
        for (int kk = k_begin; kk < k_end; ++kk) sum += double(p.a(m, kk)) * double(p.b(kk, n));
        p.store(m, n, z, T(sum));
      }
  }
}

// The shared grid (kernel_shapes.h) in batches 1 and 3, plus asymmetric shapes and batches long enough for
// split-K backward-weights.
std::vector<ConvGeometry> conv_geometries() {
  std::vector<ConvGeometry> out = conv_shape_grid({1, 3});
  out.push_back(conv_geometry(3, 5, 10, 15, 7, 3, 5, 1, 2, 2, 1));  // non-square filter, stride and padding
  out.push_back(conv_geometry(5, 3, 1, 17, 6, 1, 3, 1, 1, 0, 1));   // a single row
  // Backward-weights reductions n*p*q of 3,136 (two split-K chunks) and 7,047 (four, the last one short).
  out.push_back(conv_geometry(4, 1, 28, 28, 8, 5, 5, 1, 1, 2, 2));
  out.push_back(conv_geometry(9, 2, 27, 29, 3, 3, 3, 1, 1, 1, 1));
  for (const ConvGeometry& g : conv_side_padding_grid({1, 3})) out.push_back(g);  // padding per side
  return out;
}

std::vector<PoolGeometry> pool_geometries() {
  std::vector<PoolGeometry> out = pool_shape_grid({1, 3});
  PoolGeometry wide;  // a window wider than tall, strides that differ
  wide.n = 2, wide.c = 3, wide.h = 10, wide.w = 15, wide.kh = 2, wide.kw = 5, wide.stride_h = 1, wide.stride_w = 2;
  wide.pad_h = 1, wide.pad_w = 2;
  out.push_back(wide);
  for (const PoolGeometry& g : pool_side_padding_grid({1, 3})) out.push_back(g);  // padding per side, ceil_mode,
  return out;                                                                     // count_include_pad
}

}  // namespace

// Float64, so that the only difference from the CPU reference is the order of the sums, which moves a sum of
// at most 7,047 products of random sign by about sqrt(7047) * 2^-53 ~ 1e-14 of its size (the GPU tests'
// float64 bound, 1e-12, leaves room); a wrong index gives an error of order 1.
TEST_CASE("cuda index maps on the host: the convolution passes' GEMM problems match the CPU reference") {
  init_backends();
  Rng rng(20261203);
  int split_cases = 0;
  for (const ConvGeometry& g : conv_geometries()) {
    const std::string where = describe(g);
    CAPTURE(where);
    const cuda::conv::ConvDims d = cuda::conv::dims_of(g, "test");
    const Tensor x = random_tensor<double>(Shape{g.n, g.c, g.h, g.w}, rng);
    const Tensor w = random_tensor<double>(Shape{g.k, g.c, g.r, g.s}, rng);
    const Tensor bias = random_tensor<double>(Shape{g.k}, rng);
    const Tensor dy = random_tensor<double>(Shape{g.n, g.k, g.p(), g.q()}, rng);

    Tensor y = Tensor::empty(dy.shape(), DType::F64);
    ops::conv2d_forward(Backend::Cpu, g, x, w, &bias, y);
    Tensor y_maps = poisoned_like(y);
    multiply_on_host<double>(cuda::conv::forward_problem(d, x.data<double>(), w.data<double>(),
                                                         bias.data<double>(), y_maps.data<double>()));
    CHECK(relative_error(y_maps, y) < 1e-12);

    Tensor dx = Tensor::empty(x.shape(), DType::F64);
    ops::conv2d_backward_data(Backend::Cpu, g, dy, w, dx);
    Tensor dx_maps = poisoned_like(dx);
    multiply_on_host<double>(
        cuda::conv::backward_data_problem(d, dy.data<double>(), w.data<double>(), dx_maps.data<double>()));
    CHECK(relative_error(dx_maps, dx) < 1e-12);

    // As conv2d_backward_weights does: one split straight into dw, or partials added in split order.
    Tensor dw = Tensor::empty(w.shape(), DType::F64), dbias = Tensor::empty(bias.shape(), DType::F64);
    ops::conv2d_backward_weights(Backend::Cpu, g, x, dy, dw, &dbias);
    Tensor dw_maps = poisoned_like(dw);
    auto problem = cuda::conv::backward_weights_problem(d, x.data<double>(), dy.data<double>(), dw_maps.data<double>());
    const int splits = problem.split.splits;
    if (splits > 1) {
      ++split_cases;
      const int64_t size = dw.numel();
      std::vector<double> partial(size_t(splits * size), std::numeric_limits<double>::quiet_NaN());
      problem.store.out = partial.data();
      multiply_on_host<double>(problem);
      for (int64_t i = 0; i < size; ++i) {
        double sum = 0;
        for (int z = 0; z < splits; ++z) sum += partial[size_t(z * size + i)];
        dw_maps.data<double>()[i] = sum;
      }
    } else {
      multiply_on_host<double>(problem);
    }
    CHECK(relative_error(dw_maps, dw) < 1e-12);
  }
  CHECK(split_cases >= 2);  // the split-K path was exercised
}

// The element functions against the CPU reference, bit for bit: they visit the same elements in the same
// order (windows row-major; the windows covering an input as the CPU's scatter reaches them).
template <class T>
void check_pool_elements(const PoolGeometry& g, Rng& rng) {
  const cuda::pool::PoolDims d = cuda::pool::dims_of(g, "test");
  const Tensor x = random_tensor<T>(Shape{g.n, g.c, g.h, g.w}, rng);
  const Tensor dy = random_tensor<T>(Shape{g.n, g.c, g.p(), g.q()}, rng);
  const int64_t outputs = dy.numel(), inputs = x.numel();

  Tensor y = Tensor::empty(dy.shape(), x.dtype()), argmax = Tensor::empty(dy.shape(), DType::I32);
  ops::maxpool_forward(Backend::Cpu, g, x, y, argmax);
  Tensor y_el = poisoned_like(y), argmax_el = poisoned_like(argmax);
  for (int64_t i = 0; i < outputs; ++i)
    cuda::pool::maxpool_forward_at(d, i, x.data<T>(), y_el.data<T>(), argmax_el.data<int32_t>());
  CHECK(bit_identical(y_el, y));
  CHECK(bit_identical(argmax_el, argmax));

  Tensor dx = Tensor::empty(x.shape(), x.dtype());
  ops::maxpool_backward(Backend::Cpu, g, dy, argmax, dx);
  Tensor dx_el = poisoned_like(dx);
  for (int64_t i = 0; i < inputs; ++i)
    cuda::pool::maxpool_backward_at(d, i, dy.data<T>(), argmax.data<int32_t>(), dx_el.data<T>());
  CHECK(bit_identical(dx_el, dx));

  Tensor ya = Tensor::empty(dy.shape(), x.dtype());
  ops::avgpool_forward(Backend::Cpu, g, x, ya);
  Tensor ya_el = poisoned_like(ya);
  for (int64_t i = 0; i < outputs; ++i) cuda::pool::avgpool_forward_at(d, i, x.data<T>(), ya_el.data<T>());
  CHECK(bit_identical(ya_el, ya));

  Tensor dxa = Tensor::empty(x.shape(), x.dtype());
  ops::avgpool_backward(Backend::Cpu, g, dy, dxa);
  Tensor dxa_el = poisoned_like(dxa);
  for (int64_t i = 0; i < inputs; ++i) cuda::pool::avgpool_backward_at(d, i, dy.data<T>(), dxa_el.data<T>());
  CHECK(bit_identical(dxa_el, dxa));
}

TEST_CASE("cuda index maps on the host: the pooling element functions match the CPU reference bit for bit") {
  init_backends();
  Rng rng(20261204);
  for (const PoolGeometry& g : pool_geometries()) {
    const std::string where = describe(g);
    CAPTURE(where);
    check_pool_elements<float>(g, rng);
    check_pool_elements<double>(g, rng);
  }
}

// gemm's four transposes with row strides wider than the rows (the gap must stay untouched), alpha and beta
// (beta 0 must not read C, which holds NaN), in float64 against cpu::gemm: the only difference is the order
// of the sums (a few 1e-16 relative at K 300), a wrong index or transpose is an error of order 1.
TEST_CASE("cuda index maps on the host: gemm's problems match the CPU reference for every transpose") {
  Rng rng(20261205);
  struct Size {
    int m, n, k;
  };
  const Size sizes[] = {{1, 1, 1}, {3, 5, 7}, {17, 70, 33}, {65, 129, 300}, {4, 3, 0}};
  auto random_values = [&](size_t count) {
    std::vector<double> v(count);
    for (double& x : v) x = (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(0.05, 1.0);
    return v;
  };
  for (const bool ta : {false, true})
    for (const bool tb : {false, true})
      for (const Size& z : sizes)
        for (const double beta : {-0.5, 0.0}) {
          const std::string where = "gemm " + std::to_string(z.m) + "x" + std::to_string(z.n) + "x" +
                                    std::to_string(z.k) + " trans_a=" + std::to_string(ta) +
                                    " trans_b=" + std::to_string(tb) + " beta=" + std::to_string(beta);
          CAPTURE(where);
          const double alpha = 0.75;
          const int a_rows = ta ? z.k : z.m, a_cols = ta ? z.m : z.k, b_rows = tb ? z.n : z.k, b_cols = tb ? z.k : z.n;
          const int lda = a_cols + 3, ldb = b_cols + 3, ldc = z.n + 3;
          const std::vector<double> a = random_values(size_t(a_rows) * lda), b = random_values(size_t(b_rows) * ldb),
                                    c0 = random_values(size_t(z.m) * ldc);
          std::vector<double> want = c0, got = c0;
          if (beta == 0) std::fill(got.begin(), got.end(), std::numeric_limits<double>::quiet_NaN());
          const std::vector<double> before = got;
          cpu::gemm<double>(ta, tb, z.m, z.n, z.k, alpha, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
          // The transposes are template arguments, as in cuda::gemm.
          auto multiply = [&](auto trans_a, auto trans_b) {
            multiply_on_host<double>(cuda::matrix_problem<double, decltype(trans_a)::value, decltype(trans_b)::value>(
                z.m, z.n, z.k, alpha, a.data(), lda, b.data(), ldb, beta, got.data(), ldc));
          };
          if (ta && tb)
            multiply(std::true_type{}, std::true_type{});
          else if (ta)
            multiply(std::true_type{}, std::false_type{});
          else if (tb)
            multiply(std::false_type{}, std::true_type{});
          else
            multiply(std::false_type{}, std::false_type{});
          double diff = 0, norm = 0;
          bool gap_kept = true;
          for (int i = 0; i < z.m; ++i)
            for (int j = 0; j < ldc; ++j) {
              const size_t at = size_t(i) * ldc + j;
              if (j < z.n) {
                diff += (got[at] - want[at]) * (got[at] - want[at]);  // NaN (never written) fails below
                norm += want[at] * want[at];
              } else {
                gap_kept &= std::isnan(before[at]) ? std::isnan(got[at]) : got[at] == before[at];
              }
            }
          CHECK((norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff)) < 1e-12);  // norm 0: k 0 and beta 0
          CHECK(gap_kept);
        }
}

// The dense layer's three passes, with and without bias, against the CPU ops in float64 (same bound and
// reasoning as the convolutions above).
TEST_CASE("cuda index maps on the host: the dense passes' GEMM problems match the CPU reference") {
  init_backends();
  Rng rng(20261206);
  for (const int n : {1, 3, 64})
    for (const int in : {1, 17, 300})
      for (const int out : {1, 10, 62}) {
        const std::string where = "dense n=" + std::to_string(n) + " in=" + std::to_string(in) +
                                  " out=" + std::to_string(out);
        CAPTURE(where);
        const Tensor x = random_tensor<double>(Shape{n, in}, rng), w = random_tensor<double>(Shape{out, in}, rng);
        const Tensor bias = random_tensor<double>(Shape{out}, rng), dy = random_tensor<double>(Shape{n, out}, rng);
        for (const Tensor* b : {&bias, static_cast<const Tensor*>(nullptr)}) {
          Tensor y = Tensor::empty(dy.shape(), DType::F64);
          ops::dense_forward(Backend::Cpu, x, w, b, y);
          Tensor y_maps = poisoned_like(y);
          multiply_on_host<double>(cuda::dense::forward_problem(n, in, out, x.data<double>(), w.data<double>(),
                                                                b != nullptr ? b->data<double>() : nullptr,
                                                                y_maps.data<double>()));
          CHECK(relative_error(y_maps, y) < 1e-12);
        }
        Tensor dx = Tensor::empty(x.shape(), DType::F64), dw = Tensor::empty(w.shape(), DType::F64);
        Tensor db = Tensor::empty(bias.shape(), DType::F64);
        ops::dense_backward(Backend::Cpu, x, w, dy, &dx, dw, &db);
        Tensor dx_maps = poisoned_like(dx), dw_maps = poisoned_like(dw);
        const double *xp = x.data<double>(), *wp = w.data<double>(), *dyp = dy.data<double>();
        multiply_on_host<double>(cuda::dense::backward_data_problem(n, in, out, dyp, wp, dx_maps.data<double>()));
        multiply_on_host<double>(cuda::dense::backward_weights_problem(n, in, out, xp, dyp, dw_maps.data<double>()));
        CHECK(relative_error(dx_maps, dx) < 1e-12);
        CHECK(relative_error(dw_maps, dw) < 1e-12);
      }
}

// Which tile element each load of the GEMM kernels fills (stage_tile): over all threads and their loads
// every element exactly once, for both kernels' tiles and both operand layouts, and neighbouring threads
// take neighbouring elements along the operand's contiguous direction (so their global reads coalesce).
template <int kRows, int kDepth, int kThreads, bool kContiguousInK>
void check_stage_slots() {
  CAPTURE(kRows);
  CAPTURE(kDepth);
  CAPTURE(kThreads);
  CAPTURE(kContiguousInK);
  std::vector<int> filled(size_t(kRows * kDepth), 0);
  bool neighbours = true;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kRows * kDepth / kThreads; ++i) {
      const cuda::StageSlot s = cuda::stage_slot<kRows, kDepth, kContiguousInK>(t + i * kThreads);
      REQUIRE((s.row >= 0 && s.row < kRows && s.depth >= 0 && s.depth < kDepth));
      ++filled[size_t(s.depth * kRows + s.row)];
      if (t % 32 == 31) continue;  // the next thread is in another warp
      const cuda::StageSlot next = cuda::stage_slot<kRows, kDepth, kContiguousInK>(t + 1 + i * kThreads);
      // Within a warp, the next thread reads the next element of the contiguous direction, or starts the
      // next row of it.
      if (kContiguousInK)
        neighbours &= (next.row == s.row && next.depth == s.depth + 1) || (next.depth == 0 && next.row == s.row + 1);
      else
        neighbours &= (next.depth == s.depth && next.row == s.row + 1) || (next.row == 0 && next.depth == s.depth + 1);
    }
  CHECK(std::all_of(filled.begin(), filled.end(), [](int count) { return count == 1; }));
  CHECK(neighbours);
}

TEST_CASE("cuda index maps on the host: the GEMM kernels' staging loads fill every tile element once") {
  using Simt = cuda::GemmTile;
  using Tf32 = cuda::GemmTileTf32;
  check_stage_slots<Simt::kM, Simt::kK, Simt::kThreads, true>();
  check_stage_slots<Simt::kM, Simt::kK, Simt::kThreads, false>();
  check_stage_slots<Simt::kN, Simt::kK, Simt::kThreads, true>();
  check_stage_slots<Simt::kN, Simt::kK, Simt::kThreads, false>();
  check_stage_slots<Tf32::kM, Tf32::kK, Tf32::kThreads, true>();
  check_stage_slots<Tf32::kM, Tf32::kK, Tf32::kThreads, false>();
  check_stage_slots<Tf32::kN, Tf32::kK, Tf32::kThreads, true>();
  check_stage_slots<Tf32::kN, Tf32::kK, Tf32::kThreads, false>();
}

TEST_CASE("cuda size checks on the host: sizes whose loops would overshoot int are refused before any launch") {
  // The headroom is real: a size between kMaxIntExtent and INT32_MAX fits an int, but a loop stepping past
  // it would not. Each check throws before anything touches the (null) pointers or a GPU.
  const int just_over = int(cuda::kMaxIntExtent) + 9;
  CHECK(int64_t(just_over) < INT32_MAX);
  ConvGeometry g{1, 238607568, 3, 3, 1, 3, 3, 1, 1, 0, 0};  // c*r*s = 2,147,468,112: an int, over the limit
  CHECK_THROWS_WITH_AS(cuda::conv::dims_of(g, "conv"), "conv: tensor too large for 32-bit GEMM indices", Error);
  g.c = 238602012;  // c*r*s = 2,147,418,108: inside
  CHECK_NOTHROW(cuda::conv::dims_of(g, "conv"));
  CHECK_THROWS_WITH_AS(cuda::launch_gemm_problem<float>(cuda::Math::Fp32,
                                                        cuda::matrix_problem<float, false, false>(
                                                            1, 1, just_over, 1.0f, nullptr, just_over, nullptr, 1,
                                                            0.0f, nullptr, 1)),
                       doctest::Contains("too large for 32-bit loops"), Error);
  CHECK_THROWS_WITH_AS(cuda::batchnorm_forward_train<float>(1, 1, just_over, nullptr, nullptr, nullptr, 1e-5, 0.1,
                                                            nullptr, nullptr, nullptr, nullptr, nullptr),
                       doctest::Contains("too many elements per channel"), Error);
}
