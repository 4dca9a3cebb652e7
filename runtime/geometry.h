#pragma once
// Shapes of the ops, shared by every backend (cpu, cuda, cudnn). All tensors are dense NCHW.
#include <cstdint>

namespace quill {

// The output size along one axis: windows of `kernel` at `stride` over `size` inputs padded by `before` and
// `after`, rounded down; with ceil (pooling's ceil_mode) rounded up, but the last window must start inside
// the input or the padding before it (PyTorch's and ONNX's rule), so every window overlaps the input when
// both paddings are smaller than the window.
inline int window_count(int size, int kernel, int stride, int before, int after, bool ceil = false) {
  const int span = size + before + after - kernel;
  if (!ceil) return span / stride + 1;
  int count = (span + stride - 1) / stride + 1;
  if ((count - 1) * stride >= size + before) --count;
  return count;
}

// Padding: pad_h rows before (top) and pad_w columns before (left) each image; after it (bottom, right)
// pad_h_end and pad_w_end, where -1 (the default) means the same as before, so a geometry that sets only
// pad_h and pad_w is padded symmetrically. Kernels read the padding after an axis through pad_bottom() and
// pad_right(); it changes only the output size (and the divisor of an average that counts padding).

// 2-D convolution: x[n][c][h][w] * w[k][c][r][s] -> y[n][k][p][q].
struct ConvGeometry {
  int n = 1, c = 1, h = 1, w = 1;  // input
  int k = 1, r = 1, s = 1;          // filters: count, height, width
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;           // before: top, left
  int pad_h_end = -1, pad_w_end = -1;  // after: bottom, right; -1: pad_h, pad_w
  int pad_bottom() const { return pad_h_end < 0 ? pad_h : pad_h_end; }
  int pad_right() const { return pad_w_end < 0 ? pad_w : pad_w_end; }
  bool symmetric_padding() const { return pad_bottom() == pad_h && pad_right() == pad_w; }
  int p() const { return window_count(h, r, stride_h, pad_h, pad_bottom()); }
  int q() const { return window_count(w, s, stride_w, pad_w, pad_right()); }
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
  int pad_h = 0, pad_w = 0;           // before: top, left
  int pad_h_end = -1, pad_w_end = -1;  // after: bottom, right; -1: pad_h, pad_w
  bool ceil_mode = false;              // output size rounded up (window_count)
  // Average pooling: false divides by the window's pixels inside the image; true by those inside the padded
  // input, [-pad_h, h + pad_bottom()) x [-pad_w, w + pad_right()) (ONNX's count_include_pad, PyTorch's).
  bool count_include_pad = false;
  int pad_bottom() const { return pad_h_end < 0 ? pad_h : pad_h_end; }
  int pad_right() const { return pad_w_end < 0 ? pad_w : pad_w_end; }
  bool symmetric_padding() const { return pad_bottom() == pad_h && pad_right() == pad_w; }
  int p() const { return window_count(h, kh, stride_h, pad_h, pad_bottom(), ceil_mode); }
  int q() const { return window_count(w, kw, stride_w, pad_w, pad_right(), ceil_mode); }
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
