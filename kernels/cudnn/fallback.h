#pragma once
// Running the custom CUDA kernel where cuDNN rejects a configuration, and saying so on stderr, once per op
// and reason:
//   quill: cudnn: <op> <shape>: not supported by cuDNN (<reason>), using the custom kernel
// (Ops cuDNN has no kernel for at all run the custom kernels silently: register_cudnn.cpp lists them.)
#include <string>

#include "runtime/geometry.h"
#include "runtime/tensor.h"

namespace quill::cudnn {

// Logs the line above the first time it is called for this op and reason (thread-safe); later calls are
// silent.
void note_fallback(const char* op, const std::string& shape, const std::string& reason);

std::string describe(const ConvGeometry& g);  // "x [n, c, h, w] w [k, c, r, s] stride 1x1 pad 0x0"
std::string describe(const PoolGeometry& g);  // "x [n, c, h, w] window 2x2 stride 2x2 pad 0x0"
std::string describe(const Tensor& t);        // "[n, c, h, w]"

}  // namespace quill::cudnn
