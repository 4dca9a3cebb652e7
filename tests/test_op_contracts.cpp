// The ops' shape contracts (kernels/op_contracts.cpp): the registry checks them before any backend runs, so
// every backend refuses the same wrong sizes with a one-line error, and no backend binding repeats them.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/backends.h"
#include "runtime/ops.h"
#include "tests/gpu_backends.h"

using namespace quill;
using test_gpu::gpu_backends;

namespace {

std::vector<Backend> all_backends() {
  std::vector<Backend> backends{Backend::Cpu};
  for (Backend b : gpu_backends(test_gpu::WithoutCuda::SkipGpuPart)) backends.push_back(b);
  return backends;
}

Device device_of(Backend b) { return b == Backend::Cpu ? Device::cpu() : Device::cuda(); }

Tensor filled(const Shape& shape, Device device) {
  Tensor t = Tensor::zeros(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.25f + 0.01f * float(i % 7);
  return device.is_cpu() ? t : t.to(device);
}

}  // namespace

TEST_CASE("op contracts: every op that takes tensors has one") {
  init_backends();
  for (const OpBase* op : all_ops()) {
    CAPTURE(op->name());
    if (std::strcmp(op->name(), "fill") == 0) continue;  // any tensor can be filled
    CHECK(op->has_contract());
  }
}

TEST_CASE("op contracts: every backend refuses the same wrong sizes before its kernels run") {
  init_backends();
  for (Backend backend : all_backends()) {
    CAPTURE(backend_name(backend));
    const Device d = device_of(backend);
    // A 3x3 convolution of one 5x5 image, 2 output channels: bias of 3 where 2 are expected.
    const ConvGeometry g{1, 1, 5, 5, 2, 3, 3, 1, 1, 1, 1};
    Tensor x = filled(Shape{1, 1, 5, 5}, d), w = filled(Shape{2, 1, 3, 3}, d), y = filled(Shape{1, 2, 5, 5}, d);
    Tensor bias3 = filled(Shape{3}, d), bias2 = filled(Shape{2}, d);
    CHECK_THROWS_WITH_AS(ops::conv2d_forward(backend, g, x, w, &bias3, y), doctest::Contains("conv2d_forward: bias"),
                         Error);
    CHECK_NOTHROW(ops::conv2d_forward(backend, g, x, w, &bias2, y));
    // Dense 4 -> 3 on 2 rows: a bias of 4.
    Tensor dx_in = filled(Shape{2, 4}, d), dw = filled(Shape{3, 4}, d), dy_out = filled(Shape{2, 3}, d);
    Tensor b4 = filled(Shape{4}, d);
    CHECK_THROWS_WITH_AS(ops::dense_forward(backend, dx_in, dw, &b4, dy_out), doctest::Contains("dense_forward: b"),
                         Error);
    // Adam with a second moment of the wrong size.
    Tensor p = filled(Shape{6}, d), grad = filled(Shape{6}, d), m = filled(Shape{6}, d), v5 = filled(Shape{5}, d);
    CHECK_THROWS_WITH_AS(ops::adam_step(backend, AdamConfig{}, 1, p, grad, m, v5), doctest::Contains("adam_step"),
                         Error);
    // SGD with momentum needs a velocity of the parameters' shape; without momentum it is not read.
    SgdConfig sgd;
    sgd.momentum = 0.9;
    CHECK_THROWS_AS(ops::sgd_step(backend, sgd, p, grad, v5), Error);
    sgd.momentum = 0;
    CHECK_NOTHROW(ops::sgd_step(backend, sgd, p, grad, v5));
    // Labels of the wrong count for the loss.
    Tensor logits = filled(Shape{3, 4}, d), probs = filled(Shape{3, 4}, d), loss = filled(Shape{1}, d);
    Tensor labels2 = Tensor::zeros(Shape{2}, DType::I32, d);
    CHECK_THROWS_WITH_AS(ops::softmax_xent_forward(backend, logits, labels2, 0.0, probs, loss),
                         doctest::Contains("labels"), Error);
    // Batch norm with eps 0, which cuDNN itself accepts.
    Tensor bx = filled(Shape{2, 3}, d), by = filled(Shape{2, 3}, d), gamma = filled(Shape{3}, d),
           beta = filled(Shape{3}, d), mean = filled(Shape{3}, d), invstd = filled(Shape{3}, d),
           running_mean = filled(Shape{3}, d), running_var = filled(Shape{3}, d);
    CHECK_THROWS_WITH_AS(ops::batchnorm_forward_train(backend, bx, gamma, beta, 0.0, 0.1, by, mean, invstd,
                                                      running_mean, running_var),
                         doctest::Contains("batchnorm_forward_train: eps must be positive"), Error);
    CHECK_THROWS_WITH_AS(ops::batchnorm_forward_eval(backend, bx, gamma, beta, running_mean, running_var, 0.0, by),
                         doctest::Contains("batchnorm_forward_eval: eps must be positive"), Error);
    CHECK_NOTHROW(ops::batchnorm_forward_eval(backend, bx, gamma, beta, running_mean, running_var, 1e-5, by));
  }
}
