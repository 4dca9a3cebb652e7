#pragma once
// Turns cuDNN status codes into exceptions naming the call site and cuDNN's message. The "not supported"
// family (a configuration cuDNN has no kernel for) gets its own type so the bindings can fall back to the
// custom CUDA kernels instead of failing.
#include <cudnn.h>

#include "runtime/error.h"

namespace quill::cudnn {

class NotSupported : public Error {
 public:
  using Error::Error;
};

// The sub-codes of "not supported" that are about the machine, not the configuration: a driver or CUDA
// runtime cuDNN cannot work with, a GPU it has no kernels for, a missing prerequisite or sub-library. They
// are errors: falling back to the custom kernels there would turn the whole cuDNN backend into the custom
// one without a word in the results.
inline bool is_environment_failure(cudnnStatus_t status) {
  return status >= CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER &&
         status <= CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE;
}

// CUDNN_STATUS_NOT_SUPPORTED and its sub-codes about the configuration (cuDNN 9 groups all sub-codes as
// 3000..3999): no kernel for this shape, type, layout or padding.
inline bool is_not_supported(cudnnStatus_t status) {
  return status >= CUDNN_STATUS_NOT_SUPPORTED && int(status) < int(CUDNN_STATUS_NOT_SUPPORTED) + 1000 &&
         !is_environment_failure(status);
}

namespace detail {
[[noreturn]] void cudnn_fail(cudnnStatus_t status, const char* what, const char* file, int line);
}  // namespace detail

}  // namespace quill::cudnn

#define QUILL_CUDNN_CHECK(call)                                                        \
  do {                                                                                 \
    const cudnnStatus_t quill_cudnn_status_ = (call);                                  \
    if (quill_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                   \
      ::quill::cudnn::detail::cudnn_fail(quill_cudnn_status_, #call, __FILE__, __LINE__); \
  } while (0)
