#pragma once
// Convolution workspace from the CUDA backend's caching allocator, released at scope end. Reuse is safe
// because cuDNN runs on quill::cuda::stream(), like every other user of that memory.
#include <cstddef>
#include <memory>

#include "kernels/cuda/device_runtime.h"

namespace quill::cudnn {

class Workspace {
 public:
  explicit Workspace(size_t bytes) {
    if (bytes > 0) scratch_ = std::make_unique<cuda::DeviceScratch<unsigned char>>(bytes);
  }
  void* get() const { return scratch_ ? scratch_->get() : nullptr; }

 private:
  std::unique_ptr<cuda::DeviceScratch<unsigned char>> scratch_;  // none for zero bytes
};

}  // namespace quill::cudnn
