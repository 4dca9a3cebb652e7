#pragma once
// The odd shapes the kernel tests run on, shared by the GPU tests (test_gpu_backends.cpp) and the host run of
// the CUDA kernels' index maps (test_cuda_index_maps.cu): every combination of channels 1, 3 and 17, kernel
// 1, 3 and 5, stride 1 and 2 and padding 0, 1 and 2 (pooling: windows 1, 2, 3 and 5, strides 1 to 3, padding
// below the window) for the given batch sizes, on odd image sizes, with filter counts 4, 17 and 70 in turn
// (70 spans two 64-row GEMM tiles). Each test adds its own special shapes.
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/geometry.h"

namespace quill::test_shapes {

inline std::string describe(const ConvGeometry& g) {
  std::ostringstream os;
  os << "conv n=" << g.n << " c=" << g.c << " " << g.h << "x" << g.w << " k=" << g.k << " " << g.r << "x" << g.s
     << " stride " << g.stride_h << "x" << g.stride_w << " pad " << g.pad_h << "x" << g.pad_w;
  if (!g.symmetric_padding()) os << " (after " << g.pad_bottom() << "x" << g.pad_right() << ")";
  return os.str();
}

inline std::string describe(const PoolGeometry& g) {
  std::ostringstream os;
  os << "pool n=" << g.n << " c=" << g.c << " " << g.h << "x" << g.w << " window " << g.kh << "x" << g.kw
     << " stride " << g.stride_h << "x" << g.stride_w << " pad " << g.pad_h << "x" << g.pad_w;
  if (!g.symmetric_padding()) os << " (after " << g.pad_bottom() << "x" << g.pad_right() << ")";
  if (g.ceil_mode) os << " ceil_mode";
  if (g.count_include_pad) os << " count_include_pad";
  return os.str();
}

inline ConvGeometry conv_geometry(int n, int c, int h, int w, int k, int r, int s, int sh, int sw, int ph, int pw) {
  ConvGeometry g;
  g.n = n, g.c = c, g.h = h, g.w = w, g.k = k, g.r = r, g.s = s;
  g.stride_h = sh, g.stride_w = sw, g.pad_h = ph, g.pad_w = pw;
  return g;
}

inline std::vector<ConvGeometry> conv_shape_grid(std::initializer_list<int> batches) {
  std::vector<ConvGeometry> out;
  const int filters[] = {4, 17, 70};
  int index = 0;
  for (int n : batches)
    for (int c : {1, 3, 17})
      for (int kernel : {1, 3, 5})
        for (int stride : {1, 2})
          for (int pad : {0, 1, 2}) {
            const bool odd = index % 2;
            out.push_back(conv_geometry(n, c, odd ? 7 : 11, odd ? 13 : 9, filters[index % 3], kernel, kernel, stride,
                                        stride, pad, pad));
            ++index;
          }
  return out;
}

inline std::vector<PoolGeometry> pool_shape_grid(std::initializer_list<int> batches) {
  std::vector<PoolGeometry> out;
  int index = 0;
  for (int n : batches)
    for (int c : {1, 3, 17})
      for (int window : {1, 2, 3, 5})
        for (int stride : {1, 2, 3})
          for (int pad : {0, 1, 2}) {
            if (pad >= window) continue;  // every window must overlap the image
            PoolGeometry g;
            g.n = n;
            g.c = c;
            g.h = index % 2 ? 7 : 11;
            g.w = index % 2 ? 13 : 9;
            g.kh = g.kw = window;
            g.stride_h = g.stride_w = stride;
            g.pad_h = g.pad_w = pad;
            out.push_back(g);
            ++index;
          }
  return out;
}

// Padding per side (top, bottom, left, right): the asymmetric forms ONNX gives (pads, auto_pad SAME with an
// odd total), each used in turn.
constexpr int kSidePads[][4] = {{0, 1, 0, 1}, {1, 0, 1, 0}, {2, 0, 0, 1}, {0, 2, 1, 0}, {1, 1, 0, 2}};

// Convolutions with asymmetric padding: channels 1, 3 and 17, kernels 3x3, 3x5 and 1x3, strides 1x1, 2x2 and
// 1x2, the pads of kSidePads in turn, on odd image sizes.
inline std::vector<ConvGeometry> conv_side_padding_grid(std::initializer_list<int> batches) {
  std::vector<ConvGeometry> out;
  const int filters[] = {4, 17, 70};
  const int kernels[][2] = {{3, 3}, {3, 5}, {1, 3}}, strides[][2] = {{1, 1}, {2, 2}, {1, 2}};
  int index = 0;
  for (int n : batches)
    for (int c : {1, 3, 17})
      for (const auto& kernel : kernels)
        for (const auto& stride : strides) {
          const int* pad = kSidePads[index % 5];
          const bool odd = index % 2;
          ConvGeometry g = conv_geometry(n, c, odd ? 7 : 11, odd ? 13 : 9, filters[index % 3], kernel[0], kernel[1],
                                         stride[0], stride[1], pad[0], pad[2]);
          g.pad_h_end = pad[1], g.pad_w_end = pad[3];
          out.push_back(g);
          ++index;
        }
  return out;
}

// Pooling with asymmetric padding, ceil_mode and count_include_pad: channels 1, 3 and 17, windows 2x2, 3x3,
// 3x2 and 5x5, strides 1 to 3 (and 2x1), the pads of kSidePads (and none) where smaller than the window, each
// with ceil_mode and count_include_pad off and on in turn, on odd image sizes.
inline std::vector<PoolGeometry> pool_side_padding_grid(std::initializer_list<int> batches) {
  std::vector<PoolGeometry> out;
  const int windows[][2] = {{2, 2}, {3, 3}, {3, 2}, {5, 5}}, strides[][2] = {{1, 1}, {2, 2}, {3, 3}, {2, 1}};
  int index = 0;
  for (int n : batches)
    for (int c : {1, 3, 17})
      for (const auto& window : windows)
        for (const auto& stride : strides) {
          const int zero[4] = {0, 0, 0, 0};
          const int* pad = index % 6 == 5 ? zero : kSidePads[index % 6];
          if (pad[0] >= window[0] || pad[1] >= window[0] || pad[2] >= window[1] || pad[3] >= window[1]) pad = zero;
          PoolGeometry g;
          g.n = n, g.c = c;
          g.h = index % 2 ? 7 : 11;
          g.w = index % 2 ? 13 : 9;
          g.kh = window[0], g.kw = window[1];
          g.stride_h = stride[0], g.stride_w = stride[1];
          g.pad_h = pad[0], g.pad_h_end = pad[1], g.pad_w = pad[2], g.pad_w_end = pad[3];
          g.ceil_mode = (index / 2) % 2;
          g.count_include_pad = index % 2;
          out.push_back(g);
          ++index;
        }
  return out;
}

}  // namespace quill::test_shapes
