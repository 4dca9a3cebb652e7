#pragma once
// Running the custom CUDA kernel where cuDNN has none, and saying so once per op on stderr:
//   quill: cudnn: <op> <shape>: not supported by cuDNN, using the custom kernel
#include <string>

#include "kernels/geometry.h"
#include "runtime/tensor.h"

namespace quill::cudnn {

// Logs the line above the first time it is called for this op (thread-safe); later calls are silent.
void note_fallback(const char* op, const std::string& shape);

std::string describe(const ConvGeometry& g);  // "x [n, c, h, w] w [k, c, r, s] stride 1x1 pad 0x0"
std::string describe(const PoolGeometry& g);  // "x [n, c, h, w] window 2x2 stride 2x2 pad 0x0"
std::string describe(const Tensor& t);        // "[n, c, h, w]"

}  // namespace quill::cudnn
