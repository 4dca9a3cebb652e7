#include "kernels/cuda/settings.h"

#include <cuda_runtime.h>

namespace quill::cuda {
namespace {

// Compiled like every kernel of the backend, so its PTX version is theirs: the __CUDA_ARCH__ (divided by 10)
// their device code saw, which decides whether the TF32 kernel holds WMMA code or a trap.
__global__ void arch_probe_kernel() {}

}  // namespace

const std::shared_ptr<SettingsStore>& backend_settings() {
  static const std::shared_ptr<SettingsStore> store = std::make_shared<SettingsStore>();
  return store;
}

bool tf32_tensor_cores() {
  static const bool available = [] {
    cudaFuncAttributes attributes{};
    if (cudaFuncGetAttributes(&attributes, arch_probe_kernel) != cudaSuccess) {
      (void)cudaGetLastError();  // no device: clear the error, or the next launch check would report it
      return false;
    }
    return attributes.ptxVersion >= 80;
  }();
  return available;
}

}  // namespace quill::cuda
