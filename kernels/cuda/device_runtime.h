#pragma once
// The CUDA device's runtime services for Quill: a caching allocator, copies to and from the device, and
// the stream every kernel of the backend runs on.
//
// All device work (kernels and copies) is ordered on one stream, the legacy default stream. That is what
// makes the caching allocator safe without events: a block freed on the host and handed out again is only
// touched by work queued after the work that last used it.
#include <cstddef>
#include <string>

#include <cuda_runtime_api.h>

#include "runtime/storage.h"

namespace quill::cuda {

// Installs the allocator and copy functions if a usable CUDA device is present; otherwise installs nothing
// (device_available(DeviceType::Cuda) stays false) and keeps the reason. Never throws. Idempotent.
bool install_device_runtime();
// Why no device was installed ("" when one was).
const std::string& unavailable_reason();

// The stream of every kernel and copy of the backend (and of libraries such as cuDNN that share its memory).
inline cudaStream_t stream() { return nullptr; }  // legacy default stream: ordered with all blocking work

// Memory held by the caching allocator: handed out, and cached for reuse.
struct MemoryStats {
  size_t bytes_in_use = 0, bytes_cached = 0, device_allocations = 0;
};
MemoryStats memory_stats();

// Temporary device memory for one launch sequence (split-K partials, per-row losses), from the caching
// allocator. Released at scope end; reuse is safe because all work is ordered on stream().
template <class T>
class DeviceScratch {
 public:
  explicit DeviceScratch(size_t count)
      : bytes_(count * sizeof(T)), ptr_(static_cast<T*>(allocator_for(DeviceType::Cuda).allocate(bytes_))) {}
  ~DeviceScratch() { allocator_for(DeviceType::Cuda).deallocate(ptr_, bytes_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  T* get() const { return ptr_; }

 private:
  size_t bytes_;
  T* ptr_;
};

}  // namespace quill::cuda
