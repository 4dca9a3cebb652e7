#pragma once
// The one way the backend launches a kernel: launch(kernel, grid, block, shared_bytes, stream, args...).
// Under nvcc it is the triple-chevron launch; compiled by the system compiler against the CPU emulation's
// headers (kernels/cuda/emulation), it is cudaLaunchKernel, which queues the kernel on the emulated device.
// Either way each kernel has one source, and every launch is checked at once for a bad configuration.
#include <cstddef>
#include <tuple>
#include <utility>

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"

namespace quill::cuda {

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: the kernel takes a different number of arguments");
#if defined(__CUDACC__)
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
#else
  // Converted to the kernel's parameter types first, as the triple-chevron launch converts them.
  std::tuple<Params...> values(std::forward<Args>(args)...);
  std::apply([&](Params&... v) {
    void* pointers[] = {static_cast<void*>(&v)..., nullptr};
    (void)cudaLaunchKernel(kernel, grid, block, pointers, shared_bytes, stream);
  }, values);
#endif
  QUILL_CUDA_CHECK_LAUNCH();
}

}  // namespace quill::cuda
