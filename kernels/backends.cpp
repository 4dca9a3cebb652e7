#include "kernels/backends.h"

#include <mutex>

namespace quill {

void init_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    define_op_contracts();
    register_cpu_ops();
#if QUILL_HAVE_CUDA  // the build's backends, set by kernels/CMakeLists.txt for this library only (with gpu_math.cpp)
    register_cuda_ops();
#endif
#if QUILL_HAVE_CUDNN
    register_cudnn_ops();
#endif
  });
}

std::string backends_summary() {
  std::string out = "cpu";
#if QUILL_HAVE_CUDA
  out += ", cuda (custom kernels)";
#endif
#if QUILL_HAVE_CUDNN
  out += ", cudnn";
#endif
  return out;
}

}  // namespace quill
