// Every GPU backend against the CPU reference: the custom CUDA kernels (Backend::Cuda) and cuDNN in its default
// settings (strict float32, deterministic algorithms; Backend::Cudnn). Each case runs the same random inputs
// through the CPU and through each backend under test, and compares the outputs by ||gpu - cpu|| / ||cpu||
// (1e-5 in float32, 1e-12 in float64). Every GPU output starts out filled with NaN, so an element an op forgets
// to write fails the comparison. Reductions that must be deterministic (conv backward-weights, optimizers,
// batch norm, the loss) are also run twice on the GPU and compared bit for bit. Ops cuDNN lacks (and LeakyRelu,
// max pooling) run the custom CUDA kernels behind Backend::Cudnn and are checked the same way.
//
// The TF32 math mode of the custom kernels (kernels/gpu_math.h) is checked twice: its matrix products (conv
// forward, backward-data, backward-weights, dense, gemm) stay within the TF32 rounding bound of the CPU
// (check_tf32), and inputs built to round differently in TF32 prove that the tensor-core path actually ran.
//
// Each case loops over the backends under test, re-seeding its generator for each so that every backend sees
// the same inputs; failures name the backend (CAPTURE). Uses only the op registry, so it compiles in every
// build, except the direct gemm case, compiled in CUDA builds only (gemm is no op of its own). Without a CUDA
// device each case is skipped (QUILL_REQUIRE_CUDA=1 makes that a failure); in a build without the cuDNN
// backend the cuDNN part is skipped and each case runs on Backend::Cuda only (QUILL_REQUIRE_CUDNN=1 makes
// that a failure).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/gpu_math.h"
#include "kernels/backends.h"
#include "tests/gpu_backends.h"
#include "tests/kernel_shapes.h"
#include "tests/test_sampling.h"
#include "runtime/ops.h"
#include "runtime/rng.h"
#if QUILL_HAVE_CUDA  // set by tests/CMakeLists.txt in CUDA builds
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cuda/cuda_kernels.h"
#endif

using namespace quill;
using test_gpu::cuda_usable;
using test_gpu::gpu_backends;
using namespace test_shapes;
using test::sampled;

namespace {

double tolerance(DType t) { return t == DType::F64 ? 1e-12 : 1e-5; }

// The TF32 bound, elementwise: |gpu - cpu| <= kTf32Tolerance * (|A| |B|), where |A| |B| is the same product
// taken over the inputs' absolute values (plus |bias|, |beta C|). Rounding an input to TF32 (10 explicit
// mantissa bits, to nearest) changes it by at most u = 2^-11 ~ 4.9e-4 of itself, so a product a*b moves by at
// most (2u + u^2) |a| |b| and a sum of products by at most 2u * sum |a| |b|: for any K and any signs. (A
// norm-wise ||gpu - cpu|| / ||cpu|| would depend on how much the random signs cancel: against |sum a b| the
// same error grows like sqrt(K) u.) Products of TF32 values are exact in float32; what remains is the float32
// summation on both sides, at most about n * 2^-23 * sum |a| |b| for n terms even with truncating adders, and
// ~sqrt(n) 2^-24 in practice. 4u = 2^-9 ~ 2.0e-3 leaves 2u for it: enough for n up to ~5000 terms in the worst
// case. The GPU's sums here have at most 2,048 terms (split-K chunks of backward-weights; the partials are
// added in float64); the CPU's backward-weights sums over a whole batch (up to 50,176 terms) err by about
// sqrt(n) 2^-24 ~ 1e-5 of sum |a| |b|.
constexpr double kTf32Tolerance = 1.0 / 512;

// How close a matrix product's output must be: within float32 rounding (check_close), or within the TF32
// bound (check_tf32) when the GPU ran in TF32.
enum class Expect { Fp32, Tf32 };

// ---- host tensors ----

void store(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::F32: t.data<float>()[i] = float(v); return;
    case DType::F64: t.data<double>()[i] = v; return;
    case DType::I32: t.data<int32_t>()[i] = int32_t(v); return;
  }
}

double load(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::F32: return t.data<float>()[i];
    case DType::F64: return t.data<double>()[i];
    case DType::I32: return t.data<int32_t>()[i];
  }
  return 0;
}

// Uniform in [-hi, -lo] U [lo, hi]: random and never zero (a zero input would hide a missing term).
Tensor random_tensor(const Shape& shape, Rng& rng, DType dtype, double lo = 0.05, double hi = 1.0) {
  Tensor t = Tensor::empty(shape, dtype);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double magnitude = rng.uniform(lo, hi);
    store(t, i, rng.uniform() < 0.5 ? -magnitude : magnitude);
  }
  return t;
}

// Uniform in [lo, hi].
Tensor positive_tensor(const Shape& shape, Rng& rng, DType dtype, double lo, double hi) {
  Tensor t = Tensor::empty(shape, dtype);
  for (int64_t i = 0; i < t.numel(); ++i) store(t, i, rng.uniform(lo, hi));
  return t;
}

Tensor random_labels(int64_t n, int classes, Rng& rng) {
  Tensor t = Tensor::empty(Shape{n}, DType::I32);
  for (int64_t i = 0; i < n; ++i) store(t, i, rng.below(uint32_t(classes)));
  return t;
}

// ---- device tensors ----

Tensor gpu(const Tensor& t) { return t.to(Device::cuda()); }
Tensor host(const Tensor& t) { return t.to(Device::cpu()); }

// A GPU tensor filled with NaN (or a large negative value for int32): never a plausible output.
Tensor poisoned(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  t.fill(dtype == DType::I32 ? -123456789.0 : std::numeric_limits<double>::quiet_NaN());
  return gpu(t);
}

// ---- comparisons ----

// ||got - want|| / ||want|| (||got - want|| if want is zero); infinite if got holds a NaN or inf.
double relative_error(const Tensor& got_anywhere, const Tensor& want) {
  const Tensor got = host(got_anywhere);
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = load(got, i), w = load(want, i);
    if (!std::isfinite(g)) return std::numeric_limits<double>::infinity();
    diff += (g - w) * (g - w);
    norm += w * w;
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

void check_close(const Tensor& got, const Tensor& want, const std::string& what) {
  const double err = relative_error(got, want);
  std::ostringstream message;
  message << what << ": relative error " << err;
  CHECK_MESSAGE(err < tolerance(want.dtype()), message.str());
}

// The TF32 bound above; `scale` is the CPU's |A| |B| for each element of want.
void check_tf32(const Tensor& got_anywhere, const Tensor& want, const Tensor& scale, const std::string& what) {
  const Tensor got = host(got_anywhere);
  REQUIRE(got.shape() == want.shape());
  REQUIRE(scale.shape() == want.shape());
  double worst = 0;
  int64_t at = -1;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = load(got, i), w = load(want, i), s = load(scale, i);
    const double diff = std::isfinite(g) ? std::abs(g - w) : std::numeric_limits<double>::infinity();
    const double ratio = diff == 0 ? 0 : (s > 0 ? diff / s : std::numeric_limits<double>::infinity());
    if (at < 0 || ratio > worst) worst = ratio, at = i;
  }
  std::ostringstream message;
  message << what << ": |gpu - cpu| / (|A| |B|) reaches " << worst << " at element " << at << " (bound "
          << kTf32Tolerance << "; norm-wise relative error " << relative_error(got.cast(want.dtype()), want) << ")";
  CHECK_MESSAGE(worst <= kTf32Tolerance, message.str());
}

// An output of a matrix product under `expect`; make_scale() computes |A| |B| (only under TF32).
template <class MakeScale>
void check_product(Expect expect, const Tensor& got, const Tensor& want, MakeScale make_scale, const std::string& what) {
  if (expect == Expect::Tf32)
    check_tf32(got, want, make_scale(), what + " (tf32)");
  else
    check_close(got, want, what);
}

// A host copy with every element replaced by its absolute value.
Tensor absolute(const Tensor& t) {
  Tensor out = t.clone();
  for (int64_t i = 0; i < out.numel(); ++i) store(out, i, std::abs(load(out, i)));
  return out;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  const Tensor ha = host(a), hb = host(b);
  return ha.shape() == hb.shape() && ha.dtype() == hb.dtype() && std::memcmp(ha.raw(), hb.raw(), ha.bytes()) == 0;
}

void check_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  CHECK_MESSAGE(bit_identical(got, want), what, ": not bit-identical");
}

const char* name_of(DType t) { return dtype_name(t); }

// ---- geometries ----

// The shared grid (kernel_shapes.h) in batches 1, 3 and 64, plus MNIST-like layers (the batch reduction of
// backward-weights then takes the split-K path) and asymmetric shapes.
std::vector<ConvGeometry> conv_geometries() {
  std::vector<ConvGeometry> out = sampled(conv_shape_grid({1, 3, 64}));
  out.push_back(conv_geometry(64, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2));   // MNIST first layer
  out.push_back(conv_geometry(64, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1));  // MNIST second layer
  out.push_back(conv_geometry(3, 5, 10, 15, 7, 3, 5, 1, 2, 2, 1));     // non-square filter, stride and padding
  out.push_back(conv_geometry(2, 70, 9, 7, 5, 3, 3, 2, 2, 1, 1));      // many input channels
  out.push_back(conv_geometry(5, 3, 1, 17, 6, 1, 3, 1, 1, 0, 1));      // a single row
  return out;
}

// A few of the above for float64, where the comparison is tight.
std::vector<ConvGeometry> conv_geometries_f64() {
  std::vector<ConvGeometry> all = conv_geometries(), out;
  for (size_t i = 0; i < all.size(); i += 17) out.push_back(all[i]);
  out.push_back(all[all.size() - 3]);
  return out;
}

std::vector<PoolGeometry> pool_geometries() {
  std::vector<PoolGeometry> out = sampled(pool_shape_grid({1, 3, 64}));
  PoolGeometry g;  // non-square window, stride and padding
  g.n = 3, g.c = 2, g.h = 10, g.w = 15, g.kh = 3, g.kw = 2, g.stride_h = 2, g.stride_w = 1, g.pad_h = 1, g.pad_w = 0;
  out.push_back(g);
  return out;
}

// ---- per-op comparisons, for one geometry and dtype ----

// Under Expect::Tf32 the three products are checked against the TF32 bound, the bias gradient (a plain sum)
// as in float32.
void compare_conv(Backend backend, const ConvGeometry& g, DType dt, Rng& rng, Expect expect = Expect::Fp32) {
  const std::string where = describe(g) + " " + name_of(dt);
  const Shape x_shape{g.n, g.c, g.h, g.w}, w_shape{g.k, g.c, g.r, g.s}, y_shape{g.n, g.k, g.p(), g.q()};
  const Tensor x = random_tensor(x_shape, rng, dt), w = random_tensor(w_shape, rng, dt);
  const Tensor b = random_tensor(Shape{g.k}, rng, dt), dy = random_tensor(y_shape, rng, dt);
  const Tensor xg = gpu(x), wg = gpu(w), bg = gpu(b), dyg = gpu(dy);
  const Tensor ax = absolute(x), aw = absolute(w), ab = absolute(b), ady = absolute(dy);  // for |A| |B|

  for (bool with_bias : {true, false}) {
    Tensor y = Tensor::empty(y_shape, dt), yg = poisoned(y_shape, dt);
    ops::conv2d_forward(Backend::Cpu, g, x, w, with_bias ? &b : nullptr, y);
    ops::conv2d_forward(backend, g, xg, wg, with_bias ? &bg : nullptr, yg);
    check_product(
        expect, yg, y,
        [&] {
          Tensor scale = Tensor::empty(y_shape, dt);
          ops::conv2d_forward(Backend::Cpu, g, ax, aw, with_bias ? &ab : nullptr, scale);
          return scale;
        },
        "conv2d_forward " + where + (with_bias ? " with bias" : ""));
  }

  Tensor dx = Tensor::empty(x_shape, dt), dxg = poisoned(x_shape, dt);
  ops::conv2d_backward_data(Backend::Cpu, g, dy, w, dx);
  ops::conv2d_backward_data(backend, g, dyg, wg, dxg);
  check_product(
      expect, dxg, dx,
      [&] {
        Tensor scale = Tensor::empty(x_shape, dt);
        ops::conv2d_backward_data(Backend::Cpu, g, ady, aw, scale);
        return scale;
      },
      "conv2d_backward_data " + where);

  for (bool with_bias : {true, false}) {
    Tensor dw = Tensor::empty(w_shape, dt), db = Tensor::empty(Shape{g.k}, dt);
    Tensor dwg = poisoned(w_shape, dt), dbg = poisoned(Shape{g.k}, dt);
    ops::conv2d_backward_weights(Backend::Cpu, g, x, dy, dw, with_bias ? &db : nullptr);
    ops::conv2d_backward_weights(backend, g, xg, dyg, dwg, with_bias ? &dbg : nullptr);
    check_product(
        expect, dwg, dw,
        [&] {
          Tensor scale = Tensor::empty(w_shape, dt);
          ops::conv2d_backward_weights(Backend::Cpu, g, ax, ady, scale, nullptr);
          return scale;
        },
        "conv2d_backward_weights dw " + where);
    if (with_bias) check_close(dbg, db, "conv2d_backward_weights dbias " + where);
  }
}

void compare_pool(Backend backend, const PoolGeometry& g, DType dt, Rng& rng) {
  const std::string where = describe(g) + " " + name_of(dt);
  const Shape x_shape{g.n, g.c, g.h, g.w}, y_shape{g.n, g.c, g.p(), g.q()};
  const Tensor x = random_tensor(x_shape, rng, dt), dy = random_tensor(y_shape, rng, dt);
  const Tensor xg = gpu(x), dyg = gpu(dy);

  Tensor y = Tensor::empty(y_shape, dt), argmax = Tensor::empty(y_shape, DType::I32);
  Tensor yg = poisoned(y_shape, dt), argmaxg = poisoned(y_shape, DType::I32);
  ops::maxpool_forward(Backend::Cpu, g, x, y, argmax);
  ops::maxpool_forward(backend, g, xg, yg, argmaxg);
  check_close(yg, y, "maxpool_forward " + where);
  check_identical(argmaxg, argmax, "maxpool_forward argmax " + where);

  Tensor dx = Tensor::empty(x_shape, dt), dxg = poisoned(x_shape, dt);
  ops::maxpool_backward(Backend::Cpu, g, dy, argmax, dx);
  ops::maxpool_backward(backend, g, dyg, argmaxg, dxg);
  check_close(dxg, dx, "maxpool_backward " + where);
  // Every backend's max pooling is the custom kernel, which adds the gradients reaching one input in the
  // CPU reference's order (windows row-major): the same bits.
  check_identical(dxg, dx, "maxpool_backward " + where);

  Tensor ya = Tensor::empty(y_shape, dt), yag = poisoned(y_shape, dt);
  ops::avgpool_forward(Backend::Cpu, g, x, ya);
  ops::avgpool_forward(backend, g, xg, yag);
  check_close(yag, ya, "avgpool_forward " + where);
  if (backend == Backend::Cuda) check_identical(yag, ya, "avgpool_forward " + where);

  Tensor dxa = Tensor::empty(x_shape, dt), dxag = poisoned(x_shape, dt);
  ops::avgpool_backward(Backend::Cpu, g, dy, dxa);
  ops::avgpool_backward(backend, g, dyg, dxag);
  check_close(dxag, dxa, "avgpool_backward " + where);
  // The custom average pooling adds the same terms in the CPU reference's order (kernels/cuda/pool_elements.cuh,
  // checked on the host by test_cuda_index_maps.cu): the same bits. cuDNN's order is its own.
  if (backend == Backend::Cuda) check_identical(dxag, dxa, "avgpool_backward " + where);
}

// x is [n, ...] with `in` = numel / n features. Under Expect::Tf32 as compare_conv.
void compare_dense(Backend backend, const Shape& x_shape, int out, DType dt, Rng& rng, Expect expect = Expect::Fp32) {
  const int n = int(x_shape[0]), in = int(x_shape.numel() / x_shape[0]);
  std::ostringstream os;
  os << "dense x " << x_shape.str() << " out=" << out << " " << name_of(dt);
  const std::string where = os.str();
  const Tensor x = random_tensor(x_shape, rng, dt), w = random_tensor(Shape{out, in}, rng, dt);
  const Tensor b = random_tensor(Shape{out}, rng, dt), dy = random_tensor(Shape{n, out}, rng, dt);
  const Tensor xg = gpu(x), wg = gpu(w), bg = gpu(b), dyg = gpu(dy);
  const Tensor ax = absolute(x), aw = absolute(w), ab = absolute(b), ady = absolute(dy);  // for |A| |B|

  for (bool with_bias : {true, false}) {
    Tensor y = Tensor::empty(Shape{n, out}, dt), yg = poisoned(Shape{n, out}, dt);
    ops::dense_forward(Backend::Cpu, x, w, with_bias ? &b : nullptr, y);
    ops::dense_forward(backend, xg, wg, with_bias ? &bg : nullptr, yg);
    check_product(
        expect, yg, y,
        [&] {
          Tensor scale = Tensor::empty(Shape{n, out}, dt);
          ops::dense_forward(Backend::Cpu, ax, aw, with_bias ? &ab : nullptr, scale);
          return scale;
        },
        "dense_forward " + where + (with_bias ? " with bias" : ""));
  }

  // |dy| |w| and |dy|^T |x|, for the TF32 bound.
  Tensor dx_scale, dw_scale;
  if (expect == Expect::Tf32) {
    dx_scale = Tensor::empty(x_shape, dt), dw_scale = Tensor::empty(Shape{out, in}, dt);
    ops::dense_backward(Backend::Cpu, ax, aw, ady, &dx_scale, dw_scale, nullptr);
  }
  for (bool with_dx : {true, false})
    for (bool with_db : {true, false}) {
      Tensor dx = Tensor::empty(x_shape, dt), dw = Tensor::empty(Shape{out, in}, dt);
      Tensor db = Tensor::empty(Shape{out}, dt);
      Tensor dxg = poisoned(x_shape, dt), dwg = poisoned(Shape{out, in}, dt), dbg = poisoned(Shape{out}, dt);
      ops::dense_backward(Backend::Cpu, x, w, dy, with_dx ? &dx : nullptr, dw, with_db ? &db : nullptr);
      ops::dense_backward(backend, xg, wg, dyg, with_dx ? &dxg : nullptr, dwg, with_db ? &dbg : nullptr);
      if (with_dx) check_product(expect, dxg, dx, [&] { return dx_scale; }, "dense_backward dx " + where);
      check_product(expect, dwg, dw, [&] { return dw_scale; }, "dense_backward dw " + where);
      if (with_db) check_close(dbg, db, "dense_backward db " + where);
    }
}

void compare_batchnorm(Backend backend, const Shape& x_shape, DType dt, Rng& rng) {
  const std::string where = "batchnorm x " + x_shape.str() + " " + name_of(dt);
  const int64_t c = x_shape[1];
  const Shape cs{c};
  const double eps = 1e-5, momentum = 0.1;
  const Tensor x = random_tensor(x_shape, rng, dt), dy = random_tensor(x_shape, rng, dt);
  const Tensor gamma = random_tensor(cs, rng, dt), beta = random_tensor(cs, rng, dt);
  const Tensor mean0 = random_tensor(cs, rng, dt), var0 = positive_tensor(cs, rng, dt, 0.5, 1.5);
  const Tensor xg = gpu(x), dyg = gpu(dy), gammag = gpu(gamma), betag = gpu(beta);

  // Training forward: output, saved statistics and running statistics.
  Tensor y = Tensor::empty(x_shape, dt), save_mean = Tensor::empty(cs, dt), save_invstd = Tensor::empty(cs, dt);
  Tensor running_mean = mean0.clone(), running_var = var0.clone();
  Tensor yg = poisoned(x_shape, dt), save_meang = poisoned(cs, dt), save_invstdg = poisoned(cs, dt);
  Tensor running_meang = gpu(mean0), running_varg = gpu(var0);
  ops::batchnorm_forward_train(Backend::Cpu, x, gamma, beta, eps, momentum, y, save_mean, save_invstd,
                               running_mean, running_var);
  ops::batchnorm_forward_train(backend, xg, gammag, betag, eps, momentum, yg, save_meang, save_invstdg,
                               running_meang, running_varg);
  check_close(yg, y, "batchnorm_forward_train y " + where);
  check_close(save_meang, save_mean, "batchnorm_forward_train save_mean " + where);
  check_close(save_invstdg, save_invstd, "batchnorm_forward_train save_invstd " + where);
  check_close(running_meang, running_mean, "batchnorm_forward_train running_mean " + where);
  check_close(running_varg, running_var, "batchnorm_forward_train running_var " + where);

  Tensor ye = Tensor::empty(x_shape, dt), yeg = poisoned(x_shape, dt);
  ops::batchnorm_forward_eval(Backend::Cpu, x, gamma, beta, mean0, var0, eps, ye);
  ops::batchnorm_forward_eval(backend, xg, gammag, betag, gpu(mean0), gpu(var0), eps, yeg);
  check_close(yeg, ye, "batchnorm_forward_eval " + where);

  Tensor dx = Tensor::empty(x_shape, dt), dgamma = Tensor::empty(cs, dt), dbeta = Tensor::empty(cs, dt);
  Tensor dxg = poisoned(x_shape, dt), dgammag = poisoned(cs, dt), dbetag = poisoned(cs, dt);
  ops::batchnorm_backward(Backend::Cpu, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  ops::batchnorm_backward(backend, xg, dyg, gammag, save_meang, save_invstdg, dxg, dgammag, dbetag);
  check_close(dxg, dx, "batchnorm_backward dx " + where);
  check_close(dgammag, dgamma, "batchnorm_backward dgamma " + where);
  check_close(dbetag, dbeta, "batchnorm_backward dbeta " + where);
}

void compare_softmax_xent(Backend backend, int n, int classes, double smoothing, double logit_scale,
                          double logit_shift, DType dt, Rng& rng) {
  std::ostringstream os;
  os << "softmax_xent n=" << n << " classes=" << classes << " smoothing=" << smoothing << " logits*" << logit_scale
     << "+" << logit_shift << " " << name_of(dt);
  const std::string where = os.str();
  const Shape shape{n, classes};
  Tensor logits = random_tensor(shape, rng, dt, 0.05, logit_scale);
  for (int64_t i = 0; i < logits.numel(); ++i) store(logits, i, load(logits, i) + logit_shift);
  const Tensor labels = random_labels(n, classes, rng);
  const Tensor logitsg = gpu(logits), labelsg = gpu(labels);

  Tensor probs = Tensor::empty(shape, dt), loss = Tensor::empty(Shape{1}, dt);
  Tensor probsg = poisoned(shape, dt), lossg = poisoned(Shape{1}, dt);
  ops::softmax_xent_forward(Backend::Cpu, logits, labels, smoothing, probs, loss);
  ops::softmax_xent_forward(backend, logitsg, labelsg, smoothing, probsg, lossg);
  check_close(probsg, probs, "softmax_xent_forward probs " + where);
  check_close(lossg, loss, "softmax_xent_forward loss " + where);

  Tensor dlogits = Tensor::empty(shape, dt), dlogitsg = poisoned(shape, dt);
  ops::softmax_xent_backward(Backend::Cpu, probs, labels, smoothing, dlogits);
  ops::softmax_xent_backward(backend, probsg, labelsg, smoothing, dlogitsg);
  check_close(dlogitsg, dlogits, "softmax_xent_backward " + where);
}

// Runs body and checks that none of `watched` fell back from `backend` to another backend's kernels
// meanwhile (OpBase::fallbacks): for cuDNN's ops on the configurations it must take itself, a fallback
// would pass every comparison with the CPU by running the custom kernels instead of cuDNN's.
template <class Body>
void expect_no_fallback(Backend backend, const std::vector<const OpBase*>& watched, Body&& body) {
  std::vector<int64_t> before;
  for (const OpBase* op : watched) before.push_back(op->fallbacks(backend));
  body();
  for (size_t i = 0; i < watched.size(); ++i)
    CHECK_MESSAGE(watched[i]->fallbacks(backend) == before[i], watched[i]->name(), " on ", backend_name(backend),
                  " ran another backend's kernel ", watched[i]->fallbacks(backend) - before[i],
                  " times (its stderr line says why)");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

TEST_CASE("gpu backends: every op has an implementation in each gpu backend") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    for (const OpBase* op : all_ops()) CHECK_MESSAGE(op->has(backend), op->name());
  }
}

// Device memory (copies, the caching allocator) is shared by both GPU backends and goes through no op, so this
// case runs once, not once per backend.
TEST_CASE("gpu backends: copies round-trip and memory is reused") {
  if (!cuda_usable()) return;
  Rng rng(1);
  for (DType dt : {DType::F32, DType::F64}) {
    for (int64_t n : {1, 7, 1000, 300001}) {
      const Tensor a = random_tensor(Shape{n}, rng, dt);
      const Tensor on_gpu = gpu(a);
      CHECK(on_gpu.device() == Device::cuda());
      const Tensor copy = on_gpu.clone();  // device to device
      check_identical(copy, a, "round trip");
      if (n > 2) check_identical(gpu(a).slice(1, 3), a.slice(1, 3), "slice of a device tensor");
      CHECK(on_gpu.item(n - 1) == load(a, n - 1));
    }
  }
  // Freed blocks are cached; releasing them must work.
  for (int i = 0; i < 3; ++i) (void)Tensor::zeros(Shape{1 << 20}, DType::F32, Device::cuda());
  allocator_for(DeviceType::Cuda).release_cached();
  const Tensor z = Tensor::zeros(Shape{5}, DType::F32, Device::cuda());
  CHECK(z.item(4) == 0.0);
}

TEST_CASE("gpu backends: tensors on the wrong device or of the wrong type are rejected") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Tensor a = Tensor::zeros(Shape{4}), b = Tensor::zeros(Shape{4}), y = Tensor::zeros(Shape{4});
    CHECK_THROWS_AS(ops::add(backend, a, b, y), Error);
    Tensor ag = gpu(a), bg = gpu(b), yg = gpu(y);
    CHECK_THROWS_AS(ops::add(backend, ag, bg, y), Error);
    Tensor yd = Tensor::zeros(Shape{4}, DType::F64, Device::cuda());
    CHECK_THROWS_AS(ops::add(backend, ag, bg, yd), Error);
    CHECK_NOTHROW(ops::add(backend, ag, bg, yg));
  }
  // The CPU backend, given a GPU tensor as a later argument (a pointer it must not dereference), refuses
  // it before any kernel runs; so does a GPU backend given a CPU tensor through an optional pointer.
  if (!gpu_backends().empty()) {
    const ConvGeometry g{1, 1, 5, 5, 1, 3, 3, 1, 1, 1, 1};
    Tensor x = Tensor::zeros(Shape{1, 1, 5, 5}), w = Tensor::zeros(Shape{1, 1, 3, 3}), b = Tensor::zeros(Shape{1});
    Tensor y = Tensor::zeros(Shape{1, 1, 5, 5});
    Tensor wg = gpu(w), bg = gpu(b);
    CHECK_THROWS_AS(ops::conv2d_forward(Backend::Cpu, g, x, wg, nullptr, y), Error);
    CHECK_THROWS_AS(ops::conv2d_forward(Backend::Cpu, g, x, w, &bg, y), Error);
    Tensor xg = gpu(x), yg = gpu(y);
    CHECK_THROWS_AS(ops::conv2d_forward(gpu_backends().front(), g, xg, wg, &b, yg), Error);
  }
}

TEST_CASE("gpu backends: conv2d forward, backward-data and backward-weights match the cpu (float32)") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(2);
    const CudnnSearchScope heuristic(false);  // hundreds of shapes: cuDNN's ranking, no timing runs
    expect_no_fallback(backend, {&ops::conv2d_forward, &ops::conv2d_backward_data, &ops::conv2d_backward_weights},
                       [&] {
                         for (const ConvGeometry& g : conv_geometries()) compare_conv(backend, g, DType::F32, rng);
                       });
  }
}

TEST_CASE("gpu backends: conv2d matches the cpu (float64)") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(3);
    const CudnnSearchScope heuristic(false);
    for (const ConvGeometry& g : conv_geometries_f64()) compare_conv(backend, g, DType::F64, rng);
  }
}

TEST_CASE("gpu backends: conv2d backward-weights is bit-identical run to run (deterministic mode)") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(4);
    const std::vector<ConvGeometry> all = conv_geometries();
    for (const ConvGeometry& g : {all[all.size() - 5], all[all.size() - 4], all[all.size() * 3 / 5]}) {
      const Tensor x = gpu(random_tensor(Shape{g.n, g.c, g.h, g.w}, rng, DType::F32));
      const Tensor dy = gpu(random_tensor(Shape{g.n, g.k, g.p(), g.q()}, rng, DType::F32));
      Tensor dw1 = poisoned(Shape{g.k, g.c, g.r, g.s}, DType::F32), db1 = poisoned(Shape{g.k}, DType::F32);
      Tensor dw2 = poisoned(Shape{g.k, g.c, g.r, g.s}, DType::F32), db2 = poisoned(Shape{g.k}, DType::F32);
      ops::conv2d_backward_weights(backend, g, x, dy, dw1, &db1);
      ops::conv2d_backward_weights(backend, g, x, dy, dw2, &db2);
      check_identical(dw2, dw1, "dw of two runs, " + describe(g));
      check_identical(db2, db1, "dbias of two runs, " + describe(g));
    }
  }
}

TEST_CASE("gpu backends: max and average pooling match the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(5);
    expect_no_fallback(backend, {&ops::avgpool_forward, &ops::avgpool_backward}, [&] {
      for (const PoolGeometry& g : pool_geometries()) compare_pool(backend, g, DType::F32, rng);
    });
    const std::vector<PoolGeometry> all = pool_geometries();
    for (size_t i = 0; i < all.size(); i += 23) compare_pool(backend, all[i], DType::F64, rng);
  }
}

// Padding that differs between the sides of an axis (ONNX's asymmetric pads), ceil_mode and
// count_include_pad. cuDNN pads both sides alike and has no ceil_mode: those run the custom kernel, counted on
// the op; symmetric count_include_pad is cuDNN's own (CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING).
TEST_CASE("gpu backends: conv2d with padding per side matches the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(12);
    const CudnnSearchScope heuristic(false);
    for (const ConvGeometry& g : sampled(conv_side_padding_grid({1, 3, 64}))) compare_conv(backend, g, DType::F32, rng);
    const std::vector<ConvGeometry> all = conv_side_padding_grid({3});
    for (size_t i = 0; i < all.size(); i += 5) compare_conv(backend, all[i], DType::F64, rng);
  }
}

TEST_CASE("gpu backends: pooling with padding per side, ceil_mode and count_include_pad matches the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(13);
    for (const PoolGeometry& g : sampled(pool_side_padding_grid({1, 3, 64}))) compare_pool(backend, g, DType::F32, rng);
    const std::vector<PoolGeometry> all = pool_side_padding_grid({3});
    for (size_t i = 0; i < all.size(); i += 7) compare_pool(backend, all[i], DType::F64, rng);
    // Symmetric padding with count_include_pad, rounded down: cuDNN's own average.
    expect_no_fallback(backend, {&ops::avgpool_forward, &ops::avgpool_backward}, [&] {
      for (PoolGeometry g : sampled(pool_shape_grid({1, 3}))) {
        g.count_include_pad = true;
        compare_pool(backend, g, DType::F32, rng);
      }
    });
  }
}

TEST_CASE("gpu backends: activations match the cpu, forward and backward") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(6);
    const struct {
      Activation act;
      const char* name;
    } kinds[] = {{Activation::Relu, "relu"},
                 {Activation::LeakyRelu, "leaky_relu"},
                 {Activation::Tanh, "tanh"},
                 {Activation::Sigmoid, "sigmoid"}};
    // cuDNN runs every kind itself but leaky ReLU, which it has no mode for (the custom kernel by design).
    expect_no_fallback(backend, {&ops::activation_forward, &ops::activation_backward}, [&] {
      for (DType dt : {DType::F32, DType::F64})
        for (const auto& kind : kinds)
          for (int64_t n : {1, 257, 100003}) {
            const std::string where = std::string(kind.name) + " n=" + std::to_string(n) + " " + name_of(dt);
            const double alpha = 0.1;
            const Tensor x = random_tensor(Shape{n}, rng, dt, 0.05, 6.0), dy = random_tensor(Shape{n}, rng, dt);
            Tensor y = Tensor::empty(Shape{n}, dt), yg = poisoned(Shape{n}, dt);
            ops::activation_forward(Backend::Cpu, kind.act, alpha, x, y);
            ops::activation_forward(backend, kind.act, alpha, gpu(x), yg);
            check_close(yg, y, "activation_forward " + where);
            Tensor dx = Tensor::empty(Shape{n}, dt), dxg = poisoned(Shape{n}, dt);
            ops::activation_backward(Backend::Cpu, kind.act, alpha, x, y, dy, dx);
            ops::activation_backward(backend, kind.act, alpha, gpu(x), yg, gpu(dy), dxg);
            check_close(dxg, dx, "activation_backward " + where);
          }
    });
  }
}

// A NaN input stays NaN through every activation on every backend, as on the CPU (cuDNN is asked for
// CUDNN_PROPAGATE_NAN), so a diverged run reaches the trainer's check instead of being masked by a ReLU.
TEST_CASE("gpu backends: activations propagate NaN like the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Tensor x = Tensor::empty(Shape{5}, DType::F32);
    const float values[] = {std::numeric_limits<float>::quiet_NaN(), -0.0f, 0.0f, 2.0f, -3.0f};
    std::memcpy(x.raw(), values, sizeof values);
    for (Activation act : {Activation::Relu, Activation::LeakyRelu, Activation::Tanh, Activation::Sigmoid}) {
      CAPTURE(int(act));
      Tensor y = Tensor::empty(x.shape(), DType::F32);
      y.fill(7.0);  // not NaN: an element left unwritten must not pass for a propagated NaN
      Tensor yg = gpu(y);
      ops::activation_forward(Backend::Cpu, act, 0.1, x, y);
      ops::activation_forward(backend, act, 0.1, gpu(x), yg);
      const Tensor got = host(yg);
      CHECK(std::isnan(load(got, 0)));
      for (int64_t i = 1; i < 5; ++i) CHECK(std::fabs(load(got, i) - load(y, i)) <= 1e-6);
    }
  }
}

TEST_CASE("gpu backends: add and fill") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(7);
    for (DType dt : {DType::F32, DType::F64})
      for (int64_t n : {1, 1000, 100003}) {
        const Tensor a = random_tensor(Shape{n}, rng, dt), b = random_tensor(Shape{n}, rng, dt);
        Tensor y = Tensor::empty(Shape{n}, dt), yg = poisoned(Shape{n}, dt);
        ops::add(Backend::Cpu, a, b, y);
        ops::add(backend, gpu(a), gpu(b), yg);
        check_identical(yg, y, "add");
        Tensor in_place = gpu(a);  // y aliasing an input, as the graph's gradient accumulation does
        ops::add(backend, in_place, gpu(b), in_place);
        check_identical(in_place, y, "add in place");
      }
    for (DType dt : {DType::F32, DType::F64, DType::I32})
      for (int64_t n : {1, 4099}) {
        Tensor want = Tensor::empty(Shape{n}, dt);
        want.fill(-3.0);
        Tensor got = poisoned(Shape{n}, dt);
        ops::fill(backend, got, -3.0);
        check_identical(got, want, std::string("fill ") + name_of(dt));
      }
  }
}

TEST_CASE("gpu backends: dropout drops the same elements as the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(8);
    const uint64_t seed = 0x5eed1234abcdULL, stream = 7;
    for (DType dt : {DType::F32, DType::F64})
      for (double p : {0.0, 0.3, 0.5, 0.9})
        for (int64_t n : {1, 5, 4099, 100003}) {
          std::ostringstream os;
          os << "dropout p=" << p << " n=" << n << " " << name_of(dt);
          const Tensor x = random_tensor(Shape{n}, rng, dt);
          Tensor y = Tensor::empty(Shape{n}, dt), yg = poisoned(Shape{n}, dt);
          ops::dropout_forward(Backend::Cpu, p, seed, stream, x, y);
          ops::dropout_forward(backend, p, seed, stream, gpu(x), yg);
          check_identical(yg, y, "forward " + os.str());
          Tensor dx = Tensor::empty(Shape{n}, dt), dxg = poisoned(Shape{n}, dt);
          ops::dropout_backward(Backend::Cpu, p, seed, stream, x, dx);
          ops::dropout_backward(backend, p, seed, stream, gpu(x), dxg);
          check_identical(dxg, dx, "backward " + os.str());
        }
  }
}

TEST_CASE("gpu backends: dense forward and backward match the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(9);
    for (int n : {1, 3, 64})
      for (int in : {1, 17, 300})
        for (int out : {1, 10, 70}) compare_dense(backend, Shape{n, in}, out, DType::F32, rng);
    compare_dense(backend, Shape{3, 2, 5, 7}, 13, DType::F32, rng);    // a feature map flattened by the layer
    compare_dense(backend, Shape{256, 784}, 128, DType::F32, rng);     // an MNIST-sized hidden layer
    compare_dense(backend, Shape{3, 17}, 70, DType::F64, rng);
    compare_dense(backend, Shape{64, 300}, 10, DType::F64, rng);
  }
}

TEST_CASE("gpu backends: batch normalisation matches the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(10);
    expect_no_fallback(backend, {&ops::batchnorm_forward_train, &ops::batchnorm_forward_eval, &ops::batchnorm_backward},
                       [&] {
                         for (int n : {1, 3, 64})
                           for (int c : {1, 3, 17}) {
                             compare_batchnorm(backend, Shape{n, c, 5, 7}, DType::F32, rng);
                             if (n > 1) compare_batchnorm(backend, Shape{n, c}, DType::F32, rng);  // after dense
                           }
                         compare_batchnorm(backend, Shape{64, 32, 14, 14}, DType::F32, rng);
                       });
    compare_batchnorm(backend, Shape{3, 17, 5, 7}, DType::F64, rng);
    compare_batchnorm(backend, Shape{64, 17}, DType::F64, rng);
  }
}

TEST_CASE("gpu backends: softmax cross-entropy matches the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(11);
    for (int n : {1, 3, 64, 1000})
      for (int classes : {1, 2, 10, 47, 62, 100})
        for (double smoothing : {0.0, 0.1})
          compare_softmax_xent(backend, n, classes, smoothing, 4.0, 0.0, DType::F32, rng);
    compare_softmax_xent(backend, 64, 62, 0.1, 30.0, 1000.0, DType::F32, rng);  // large logits: needs the max shift
    compare_softmax_xent(backend, 64, 47, 0.1, 4.0, 0.0, DType::F64, rng);
    compare_softmax_xent(backend, 3, 100, 0.0, 4.0, 0.0, DType::F64, rng);
  }
}

TEST_CASE("gpu backends: count_correct matches the cpu") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(12);
    for (DType dt : {DType::F32, DType::F64})
      for (int n : {1, 3, 64, 5000})
        for (int classes : {1, 10, 62}) {
          const Tensor scores = random_tensor(Shape{n, classes}, rng, dt);
          Tensor labels = random_labels(n, classes, rng);
          for (int i = 0; i < n; i += 2) {  // make about half the rows right
            int best = 0;
            for (int j = 1; j < classes; ++j)
              if (load(scores, int64_t(i) * classes + j) > load(scores, int64_t(i) * classes + best)) best = j;
            store(labels, i, best);
          }
          Tensor correct = Tensor::empty(Shape{1}, DType::I32), correctg = poisoned(Shape{1}, DType::I32);
          ops::count_correct(Backend::Cpu, scores, labels, correct);
          ops::count_correct(backend, gpu(scores), gpu(labels), correctg);
          CHECK_MESSAGE(correctg.item() == correct.item(), "n=", n, " classes=", classes, " ", name_of(dt));
        }
  }
}

TEST_CASE("gpu backends: SGD and Adam steps match the cpu and are deterministic") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(13);
    constexpr int kSteps = 3;
    for (DType dt : {DType::F32, DType::F64})
      for (int64_t n : {1, 1000, 100003}) {
        const Shape shape{n};
        const Tensor param0 = random_tensor(shape, rng, dt), grad = random_tensor(shape, rng, dt);
        const Tensor gradg = gpu(grad);

        SgdConfig sgd_configs[4];
        sgd_configs[0].lr = 0.1;
        sgd_configs[1].lr = 0.05, sgd_configs[1].momentum = 0.9;
        sgd_configs[2].lr = 0.05, sgd_configs[2].momentum = 0.9, sgd_configs[2].nesterov = true;
        sgd_configs[3].lr = 0.05, sgd_configs[3].momentum = 0.8, sgd_configs[3].weight_decay = 1e-2;
        for (const SgdConfig& cfg : sgd_configs) {
          std::ostringstream os;
          os << "sgd momentum=" << cfg.momentum << " nesterov=" << cfg.nesterov << " wd=" << cfg.weight_decay
             << " n=" << n << " " << name_of(dt);
          Tensor param = param0.clone(), velocity = Tensor::zeros(shape, dt);
          Tensor param1 = gpu(param0), velocity1 = Tensor::zeros(shape, dt, Device::cuda());
          Tensor param2 = gpu(param0), velocity2 = Tensor::zeros(shape, dt, Device::cuda());
          for (int step = 0; step < kSteps; ++step) {
            ops::sgd_step(Backend::Cpu, cfg, param, grad, velocity);
            ops::sgd_step(backend, cfg, param1, gradg, velocity1);
            ops::sgd_step(backend, cfg, param2, gradg, velocity2);
          }
          check_close(param1, param, "param " + os.str());
          check_close(velocity1, velocity, "velocity " + os.str());
          check_identical(param2, param1, "param of two runs, " + os.str());
        }

        AdamConfig adam_configs[3];
        adam_configs[1].weight_decay = 1e-2;
        adam_configs[2].weight_decay = 1e-2, adam_configs[2].decoupled_weight_decay = true;
        for (const AdamConfig& cfg : adam_configs) {
          std::ostringstream os;
          os << (cfg.decoupled_weight_decay ? "adamw" : "adam") << " wd=" << cfg.weight_decay << " n=" << n << " "
             << name_of(dt);
          Tensor param = param0.clone(), m = Tensor::zeros(shape, dt), v = Tensor::zeros(shape, dt);
          Tensor param1 = gpu(param0), m1 = Tensor::zeros(shape, dt, Device::cuda());
          Tensor v1 = Tensor::zeros(shape, dt, Device::cuda());
          Tensor param2 = gpu(param0), m2 = Tensor::zeros(shape, dt, Device::cuda());
          Tensor v2 = Tensor::zeros(shape, dt, Device::cuda());
          for (int step = 1; step <= kSteps; ++step) {
            ops::adam_step(Backend::Cpu, cfg, step, param, grad, m, v);
            ops::adam_step(backend, cfg, step, param1, gradg, m1, v1);
            ops::adam_step(backend, cfg, step, param2, gradg, m2, v2);
          }
          check_close(param1, param, "param " + os.str());
          check_close(m1, m, "m " + os.str());
          check_close(v1, v, "v " + os.str());
          check_identical(param2, param1, "param of two runs, " + os.str());
          check_identical(v2, v1, "v of two runs, " + os.str());
        }
      }
  }
}

TEST_CASE("gpu backends: batch-norm statistics and the loss are deterministic") {
  for (Backend backend : gpu_backends()) {
    CAPTURE(backend_name(backend));
    Rng rng(14);
    const Shape shape{64, 17, 13, 13}, cs{17};
    const Tensor x = gpu(random_tensor(shape, rng, DType::F32)), dy = gpu(random_tensor(shape, rng, DType::F32));
    const Tensor gamma = gpu(random_tensor(cs, rng, DType::F32)), beta = gpu(random_tensor(cs, rng, DType::F32));
    Tensor results[2][4];  // per run: y, save_invstd, dx, dgamma
    for (auto& r : results) {
      Tensor y = poisoned(shape, DType::F32), mean = poisoned(cs, DType::F32), invstd = poisoned(cs, DType::F32);
      Tensor rm = Tensor::zeros(cs, DType::F32, Device::cuda()), rv = Tensor::zeros(cs, DType::F32, Device::cuda());
      ops::batchnorm_forward_train(backend, x, gamma, beta, 1e-5, 0.1, y, mean, invstd, rm, rv);
      Tensor dx = poisoned(shape, DType::F32), dgamma = poisoned(cs, DType::F32), dbeta = poisoned(cs, DType::F32);
      ops::batchnorm_backward(backend, x, dy, gamma, mean, invstd, dx, dgamma, dbeta);
      r[0] = y, r[1] = invstd, r[2] = dx, r[3] = dgamma;
    }
    for (int i = 0; i < 4; ++i) check_identical(results[1][i], results[0][i], "batchnorm output " + std::to_string(i));

    const Tensor logits = gpu(random_tensor(Shape{1000, 62}, rng, DType::F32, 0.05, 4.0));
    const Tensor labels = gpu(random_labels(1000, 62, rng));
    Tensor probs = poisoned(Shape{1000, 62}, DType::F32), loss1 = poisoned(Shape{1}, DType::F32);
    Tensor loss2 = poisoned(Shape{1}, DType::F32);
    ops::softmax_xent_forward(backend, logits, labels, 0.1, probs, loss1);
    ops::softmax_xent_forward(backend, logits, labels, 0.1, probs, loss2);
    check_identical(loss2, loss1, "loss of two runs");
  }
}

// ---- the TF32 math mode of the custom kernels ----

TEST_CASE("gpu backends: in TF32 the custom kernels' conv2d and dense stay within the TF32 bound of the cpu") {
  if (!cuda_usable()) return;
  const GpuMathScope tf32(true);
  Rng rng(15);
  for (const ConvGeometry& g : conv_geometries()) compare_conv(Backend::Cuda, g, DType::F32, rng, Expect::Tf32);
  for (int n : {1, 3, 64})
    for (int in : {1, 17, 300})
      for (int out : {1, 10, 70}) compare_dense(Backend::Cuda, Shape{n, in}, out, DType::F32, rng, Expect::Tf32);
  compare_dense(Backend::Cuda, Shape{3, 2, 5, 7}, 13, DType::F32, rng, Expect::Tf32);
  compare_dense(Backend::Cuda, Shape{256, 784}, 128, DType::F32, rng, Expect::Tf32);
  // float64 ignores the switch: still within float64 rounding.
  for (const ConvGeometry& g : conv_geometries_f64()) compare_conv(Backend::Cuda, g, DType::F64, rng);
  compare_dense(Backend::Cuda, Shape{64, 300}, 10, DType::F64, rng);
}

// Inputs built so that the three ways a product could be computed give different results, each exactly
// predictable. One operand holds v = 1 + 5 * 2^-13, the other 1. Rounded to TF32 (10 mantissa bits, to
// nearest) v becomes 1 + 2^-10; cut to TF32 without rounding it would be 1; float32 keeps it. So every output
// is count * v' where count is the number of terms in its sum (the same op on all-ones inputs, on the CPU) and
// v' is the value the product saw. Every partial sum j * v' (j < 2,046 terms: a multiple of 2^-13 below 2^11)
// fits float32's 24 bits, so the sums are exact in any order, and split-K partials are added in double: the
// GPU must give float(count * v') to the bit. A silent fallback to the SIMT kernel gives count * v; a TF32
// path that skips the rounding gives count. Each op runs with v on either side of its product (A and B).
TEST_CASE("gpu backends: the custom kernels' TF32 mode runs on tensor cores, and fp32 mode does not") {
  if (!cuda_usable()) return;
  REQUIRE_MESSAGE(custom_tf32_available(),
                  "the custom kernels have no TF32 path on this GPU: were they compiled for a GPU before sm_80?");
  constexpr double kV = 1 + 5.0 / 8192, kVInTf32 = 1 + 1.0 / 1024;
  auto filled = [](const Shape& shape, double value) {
    Tensor t = Tensor::empty(shape, DType::F32);
    t.fill(value);
    return t;
  };
  // got == float(count * factor), element by element, to the bit.
  auto check_counts = [](const Tensor& got_anywhere, const Tensor& count, double factor, const std::string& what) {
    const Tensor got = host(got_anywhere);
    REQUIRE(got.shape() == count.shape());
    int64_t wrong = 0, first = -1;
    for (int64_t i = 0; i < count.numel(); ++i)
      if (got.data<float>()[i] != float(double(count.data<float>()[i]) * factor)) {
        ++wrong;
        if (first < 0) first = i;
      }
    std::ostringstream message;
    message << what << ": " << wrong << " of " << count.numel() << " elements differ from count x " << factor;
    if (first >= 0)
      message << "; the first, " << first << ": " << got.data<float>()[first] << " for count "
              << count.data<float>()[first];
    CHECK_MESSAGE(wrong == 0, message.str());
  };

  // A conv whose filters span two 64-row tiles, with padding, and one whose backward-weights is split-K
  // (64 x 13 x 13 = 10,816 terms in chunks of 1,808).
  const ConvGeometry convs[] = {{3, 17, 9, 11, 70, 3, 3, 1, 1, 1, 1}, {64, 5, 13, 13, 17, 3, 3, 1, 1, 1, 1}};
  for (const bool tf32 : {true, false}) {
    const GpuMathScope scope(tf32);
    const double factor = tf32 ? kVInTf32 : kV;
    const std::string mode = tf32 ? " (tf32)" : " (fp32)";
    for (const ConvGeometry& g : convs) {
      const Shape x_shape{g.n, g.c, g.h, g.w}, w_shape{g.k, g.c, g.r, g.s}, y_shape{g.n, g.k, g.p(), g.q()};
      Tensor y_count = Tensor::empty(y_shape, DType::F32), dx_count = Tensor::empty(x_shape, DType::F32);
      Tensor dw_count = Tensor::empty(w_shape, DType::F32);
      ops::conv2d_forward(Backend::Cpu, g, filled(x_shape, 1), filled(w_shape, 1), nullptr, y_count);
      ops::conv2d_backward_data(Backend::Cpu, g, filled(y_shape, 1), filled(w_shape, 1), dx_count);
      ops::conv2d_backward_weights(Backend::Cpu, g, filled(x_shape, 1), filled(y_shape, 1), dw_count, nullptr);
      for (const bool v_first : {true, false}) {  // v in the GEMM's A operand, or in B
        const std::string where = describe(g) + (v_first ? ", v in A" : ", v in B") + mode;
        const double a = v_first ? kV : 1, b = v_first ? 1 : kV;
        Tensor y = poisoned(y_shape, DType::F32), dx = poisoned(x_shape, DType::F32);
        Tensor dw = poisoned(w_shape, DType::F32);
        // forward: A = filters, B = input patches; backward-data: A = filters, B = dy; backward-weights:
        // A = dy, B = input patches.
        ops::conv2d_forward(Backend::Cuda, g, gpu(filled(x_shape, b)), gpu(filled(w_shape, a)), nullptr, y);
        check_counts(y, y_count, factor, "conv2d_forward " + where);
        ops::conv2d_backward_data(Backend::Cuda, g, gpu(filled(y_shape, b)), gpu(filled(w_shape, a)), dx);
        check_counts(dx, dx_count, factor, "conv2d_backward_data " + where);
        ops::conv2d_backward_weights(Backend::Cuda, g, gpu(filled(x_shape, b)), gpu(filled(y_shape, a)), dw,
                                     nullptr);
        check_counts(dw, dw_count, factor, "conv2d_backward_weights " + where);
      }
    }

    // dense (and the gemm under its backward pass): forward A = x, B = w; dx: A = dy, B = w; dw: A = dy^T, B = x.
    const int n = 37, in = 300, out = 70;
    Tensor y_count = Tensor::empty(Shape{n, out}, DType::F32), dx_count = Tensor::empty(Shape{n, in}, DType::F32);
    Tensor dw_count = Tensor::empty(Shape{out, in}, DType::F32);
    ops::dense_forward(Backend::Cpu, filled(Shape{n, in}, 1), filled(Shape{out, in}, 1), nullptr, y_count);
    ops::dense_backward(Backend::Cpu, filled(Shape{n, in}, 1), filled(Shape{out, in}, 1), filled(Shape{n, out}, 1),
                        &dx_count, dw_count, nullptr);
    for (const bool v_first : {true, false}) {
      const std::string where = std::string(v_first ? "v in A" : "v in B") + mode;
      const double a = v_first ? kV : 1, b = v_first ? 1 : kV;
      Tensor y = poisoned(Shape{n, out}, DType::F32), dx = poisoned(Shape{n, in}, DType::F32);
      Tensor dw = poisoned(Shape{out, in}, DType::F32);
      ops::dense_forward(Backend::Cuda, gpu(filled(Shape{n, in}, a)), gpu(filled(Shape{out, in}, b)), nullptr, y);
      check_counts(y, y_count, factor, "dense_forward " + where);
      ops::dense_backward(Backend::Cuda, gpu(filled(Shape{n, in}, b)), gpu(filled(Shape{out, in}, b)),
                          gpu(filled(Shape{n, out}, a)), &dx, dw, nullptr);
      check_counts(dx, dx_count, factor, "dense_backward dx " + where);
      check_counts(dw, dw_count, factor, "dense_backward dw " + where);
    }
  }
}

#if QUILL_HAVE_CUDA
// cuda::gemm directly (no op calls it; dense builds its own problems, matrix_gemm.cuh): every transpose, row
// strides wider than the rows (the gap holds values that must not be read), alpha and beta (beta 0 must not
// read C, which holds NaN), odd sizes and ones spanning several tiles, against a float64 product on the CPU;
// within float32 rounding in fp32 mode and within the TF32 bound in TF32 mode.
TEST_CASE("gpu backends: cuda gemm matches the cpu for every transpose, in fp32 and TF32") {
  if (!cuda_usable()) return;
  Rng rng(16);
  struct Size {
    int m, n, k;
  };
  const Size sizes[] = {{1, 1, 1}, {3, 5, 7}, {17, 70, 33}, {64, 64, 16}, {65, 129, 300}, {128, 3, 1000}};
  for (const cuda::Math math : {cuda::Math::Fp32, cuda::Math::Tf32})
    for (const bool ta : {false, true})
      for (const bool tb : {false, true})
        for (const Size& z : sizes)
          for (const double beta : {-0.5, 0.0}) {
            std::ostringstream os;
            os << "gemm " << z.m << "x" << z.n << "x" << z.k << " trans_a=" << ta << " trans_b=" << tb
               << " beta=" << beta << (math == cuda::Math::Tf32 ? " (tf32)" : " (fp32)");
            const double alpha = 0.75;
            // Stored shapes: A is m x k (k x m transposed), B is k x n (n x k); 3 extra columns each.
            const int a_rows = ta ? z.k : z.m, a_cols = ta ? z.m : z.k, b_rows = tb ? z.n : z.k,
                      b_cols = tb ? z.k : z.n;
            const int lda = a_cols + 3, ldb = b_cols + 3, ldc = z.n + 3;
            const Tensor a = random_tensor(Shape{a_rows, lda}, rng, DType::F32);
            const Tensor b = random_tensor(Shape{b_rows, ldb}, rng, DType::F32);
            const Tensor c0 = random_tensor(Shape{z.m, ldc}, rng, DType::F32);

            // The float64 reference, and |alpha| |A| |B| + |beta| |C| for the TF32 bound.
            Tensor want = c0.cast(DType::F64), scale = absolute(c0).cast(DType::F64);
            if (beta == 0) want.fill(0.0);
            const Tensor a64 = a.cast(DType::F64), b64 = b.cast(DType::F64);
            const Tensor abs_a = absolute(a64), abs_b = absolute(b64);
            cpu::gemm<double>(ta, tb, z.m, z.n, z.k, alpha, a64.data<double>(), lda, b64.data<double>(), ldb, beta,
                              want.data<double>(), ldc);
            cpu::gemm<double>(ta, tb, z.m, z.n, z.k, alpha, abs_a.data<double>(), lda, abs_b.data<double>(), ldb,
                              std::abs(beta), scale.data<double>(), ldc);

            const Tensor ag = gpu(a), bg = gpu(b);
            Tensor cg = beta == 0 ? poisoned(Shape{z.m, ldc}, DType::F32) : gpu(c0);
            cuda::gemm<float>(ta, tb, z.m, z.n, z.k, float(alpha), ag.data<float>(), lda, bg.data<float>(), ldb,
                              float(beta), cg.data<float>(), ldc, math);
            // Compare the m x n part; the 3 columns past it must be untouched.
            const Tensor got = host(cg);
            Tensor got_part = Tensor::empty(Shape{z.m, z.n}, DType::F64), want_part = got_part.clone();
            Tensor scale_part = got_part.clone();
            bool gap_kept = true;
            for (int i = 0; i < z.m; ++i) {
              for (int j = 0; j < z.n; ++j) {
                store(got_part, int64_t(i) * z.n + j, load(got, int64_t(i) * ldc + j));
                store(want_part, int64_t(i) * z.n + j, load(want, int64_t(i) * ldc + j));
                store(scale_part, int64_t(i) * z.n + j, load(scale, int64_t(i) * ldc + j));
              }
              for (int j = z.n; j < ldc; ++j) {
                const double g = load(got, int64_t(i) * ldc + j), c = load(c0, int64_t(i) * ldc + j);
                gap_kept &= beta == 0 ? std::isnan(g) : g == c;
              }
            }
            CHECK_MESSAGE(gap_kept, os.str(), ": wrote past the n columns of C");
            if (math == cuda::Math::Tf32) {
              check_tf32(got_part, want_part, scale_part, os.str());
            } else {
              const double err = relative_error(got_part, want_part);
              CHECK_MESSAGE(err < tolerance(DType::F32), os.str(), ": relative error ", err);
            }
          }
}
#endif
