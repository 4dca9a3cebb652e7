#include "kernels/cudnn/handle.h"

#include <map>
#include <mutex>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_runtime.h"
#include "kernels/cudnn/cudnn_check.h"

namespace quill::cudnn {

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
  cudnnHandle_t h = nullptr;
  QUILL_CUDNN_CHECK(cudnnCreate(&h));
  QUILL_CUDNN_CHECK(cudnnSetStream(h, quill::cuda::stream()));
  handles.emplace(device, h);
  return h;
}

}  // namespace quill::cudnn
