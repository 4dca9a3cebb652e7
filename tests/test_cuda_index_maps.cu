// The CUDA kernels' index math run on the host, where no GPU is needed, against the CPU reference: the
// convolution passes as the GEMM problems the tiled kernel multiplies (kernels/cuda/conv2d_gemm.cuh: sizes,
// split-K chunks and every operand and store functor), and the pooling passes' element functions
// (kernels/cuda/pool_elements.cuh). Compiled in CUDA builds only. What only a GPU can check (the tiled
// kernel's staging through shared memory, the launches) is in test_gpu_backends.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/backends.h"
#include "kernels/cuda/conv2d_gemm.cuh"
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
  return out;
}

std::vector<PoolGeometry> pool_geometries() {
  std::vector<PoolGeometry> out = pool_shape_grid({1, 3});
  PoolGeometry wide;  // a window wider than tall, strides that differ
  wide.n = 2, wide.c = 3, wide.h = 10, wide.w = 15, wide.kh = 2, wide.kw = 5, wide.stride_h = 1, wide.stride_w = 2;
  wide.pad_h = 1, wide.pad_w = 2;
  out.push_back(wide);
  return out;
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
