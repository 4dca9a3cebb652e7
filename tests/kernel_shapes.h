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
  return os.str();
}

inline std::string describe(const PoolGeometry& g) {
  std::ostringstream os;
  os << "pool n=" << g.n << " c=" << g.c << " " << g.h << "x" << g.w << " window " << g.kh << "x" << g.kw
     << " stride " << g.stride_h << "x" << g.stride_w << " pad " << g.pad_h << "x" << g.pad_w;
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

}  // namespace quill::test_shapes
