#include "kernels/cudnn/handle.h"

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_runtime.h"
#include "kernels/cudnn/cudnn_check.h"
#include "kernels/cudnn/version.h"

namespace quill::cudnn {

std::string version_text(size_t v) {
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

namespace {

// The cuDNN library found at run time must be the major version this build was compiled against, and built
// for the same major CUDA version as this program. An older minor version may lack what the headers
// promise (NVIDIA guarantees only newer ones): said once, not refused.
void check_loaded_library() {
  const size_t loaded = cudnnGetVersion(), cudart = cudnnGetCudartVersion();
  QUILL_CHECK(loaded / 10000 == CUDNN_MAJOR, "cuDNN ", version_text(loaded), " is loaded, but this build needs cuDNN ",
              CUDNN_MAJOR, " (it was compiled against ", version_text(CUDNN_VERSION),
              "): put that version's library first on LD_LIBRARY_PATH");
  QUILL_CHECK(cudart / 1000 == CUDART_VERSION / 1000, "the loaded cuDNN ", version_text(loaded), " is built for CUDA ",
              cudart / 1000, ", this program for CUDA ", CUDART_VERSION / 1000,
              ": install the cuDNN package for CUDA ", CUDART_VERSION / 1000);
  if (loaded < CUDNN_VERSION)
    std::fprintf(stderr, "quill: cudnn: the loaded cuDNN %s is older than the %s this build was compiled against\n",
                 version_text(loaded).c_str(), version_text(CUDNN_VERSION).c_str());
}

}  // namespace

std::string loaded_version() { return version_text(cudnnGetVersion()); }

int current_device() {
  int device = 0;
  QUILL_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

cudnnHandle_t handle() {
  static std::mutex mutex;
  static std::map<int, cudnnHandle_t> handles;
  const int device = current_device();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  static std::once_flag checked;
  std::call_once(checked, check_loaded_library);
  cudnnHandle_t h = nullptr;
  // Any failure here is an error, never "not supported": the cuDNN backend cannot run at all.
  const cudnnStatus_t created = cudnnCreate(&h);
  QUILL_CHECK(created == CUDNN_STATUS_SUCCESS, "cuDNN ", loaded_version(),
              " cannot start on this machine: cudnnCreate failed: ", cudnnGetErrorString(created), " (",
              int(created), ")");
  const cudnnStatus_t bound = cudnnSetStream(h, quill::cuda::stream());
  if (bound != CUDNN_STATUS_SUCCESS) {
    cudnnDestroy(h);
    QUILL_CHECK(false, "cudnnSetStream failed: ", cudnnGetErrorString(bound), " (", int(bound), ")");
  }
  handles.emplace(device, h);
  return h;
}

}  // namespace quill::cudnn
