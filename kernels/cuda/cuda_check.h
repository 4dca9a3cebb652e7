#pragma once
// Turns CUDA runtime errors into quill::Error naming the call site and the CUDA message.
#include <cuda_runtime_api.h>

#include "runtime/error.h"

namespace quill::cuda::detail {
[[noreturn]] inline void cuda_fail(cudaError_t err, const char* what, const char* file, int line) {
  fail(file, ":", line, ": ", what, " failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
}
}  // namespace quill::cuda::detail

#define QUILL_CUDA_CHECK(call)                                                          \
  do {                                                                                  \
    const cudaError_t quill_cuda_err_ = (call);                                         \
    if (quill_cuda_err_ != cudaSuccess)                                                 \
      ::quill::cuda::detail::cuda_fail(quill_cuda_err_, #call, __FILE__, __LINE__);     \
  } while (0)

// After every kernel launch: reports a bad launch configuration (or a missing kernel image) at once,
// instead of at the next unrelated call.
#define QUILL_CUDA_CHECK_LAUNCH() QUILL_CUDA_CHECK(cudaGetLastError())
