#pragma once
// Shapes of the ops, shared by every backend (cpu, cuda, cudnn). All tensors are dense NCHW.
#include <cstdint>

namespace quill {

// 2-D convolution: x[n][c][h][w] * w[k][c][r][s] -> y[n][k][p][q].
struct ConvGeometry {
  int n = 1, c = 1, h = 1, w = 1;  // input
  int k = 1, r = 1, s = 1;          // filters: count, height, width
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int p() const { return (h + 2 * pad_h - r) / stride_h + 1; }
  int q() const { return (w + 2 * pad_w - s) / stride_w + 1; }
  int64_t x_size() const { return int64_t(n) * c * h * w; }
  int64_t w_size() const { return int64_t(k) * c * r * s; }
  int64_t y_size() const { return int64_t(n) * k * p() * q(); }
  // Multiply-adds of the forward pass (backward-data and backward-weights cost the same).
  int64_t macs() const { return y_size() * c * r * s; }
};

// Max / average pooling over windows of kh x kw.
struct PoolGeometry {
  int n = 1, c = 1, h = 1, w = 1;
  int kh = 2, kw = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;
  int p() const { return (h + 2 * pad_h - kh) / stride_h + 1; }
  int q() const { return (w + 2 * pad_w - kw) / stride_w + 1; }
  int64_t x_size() const { return int64_t(n) * c * h * w; }
  int64_t y_size() const { return int64_t(n) * c * p() * q(); }
};

enum class Activation { Relu, LeakyRelu, Tanh, Sigmoid };

// Optimizer hyper-parameters for one update step.
struct SgdConfig {
  double lr = 0.01, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};
struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true: AdamW
};

}  // namespace quill
