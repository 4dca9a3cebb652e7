#pragma once
// The CUDA device's runtime services for Quill: a caching allocator, copies to and from the device, the
// stream every kernel of the backend runs on, page-locked staging for asynchronous uploads
// (runtime/host_staging.h) and CUDA graphs of a training step (runtime/step_graph.h).
//
// All device work (kernels, copies, cuDNN calls, graph replays) is ordered on one stream, stream(). That is
// what makes the caching allocator safe without events: a block freed on the host and handed out again is
// only touched by work queued after the work that last used it. It is a stream of its own, not the legacy
// default stream, because a CUDA graph can only be captured from such a stream; it is created as a blocking
// stream, so anything that still lands on the legacy default stream stays ordered with it (and a capture
// fails loudly instead of racing).
#include <cstddef>
#include <string>

#include <cuda_runtime_api.h>

#include "runtime/storage.h"

namespace quill::cuda {

// Installs the allocator, copy functions, staging and graph hooks, and creates stream(), if a usable CUDA
// device is present; otherwise installs nothing (device_available(DeviceType::Cuda) stays false) and keeps
// the reason. Never throws. Idempotent.
bool install_device_runtime();
// Why no device was installed ("" when one was).
const std::string& unavailable_reason();

// The stream of every kernel and copy of the backend (and of libraries such as cuDNN that share its memory).
// Created by install_device_runtime(); before that (no tensor can be on the device then) the legacy stream.
cudaStream_t stream();

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
