#pragma once
// One cuDNN handle per CUDA device, bound to quill::cuda::stream(): cuDNN's work is then ordered with the
// CUDA backend's kernels and copies, which keeps the caching allocator's reuse of freed blocks safe.
#include <cudnn.h>

namespace quill::cudnn {

// The handle of the current CUDA device, created on first use, after checking that the loaded cuDNN library
// is the major version this build was compiled against and built for the same CUDA major version (else an
// error: a cuDNN that cannot start is never a silent fallback to the custom kernels). Handles live until the
// process ends (destroying them during static destruction could run after the CUDA context is gone).
cudnnHandle_t handle();

// The current CUDA device's index (part of the algorithm cache key).
int current_device();

}  // namespace quill::cudnn
