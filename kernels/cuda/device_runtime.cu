// The CUDA device's allocator and copy functions, installed into the runtime only when a device works.
#include "kernels/cuda/device_runtime.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "kernels/cuda/cuda_check.h"

namespace quill::cuda {
namespace {

// Keeps freed blocks in free lists keyed by rounded size, so that a training loop with fixed shapes stops
// calling cudaMalloc/cudaFree (each of which synchronises the device) after its first step.
class CachingDeviceAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= size;
        stats_.bytes_in_use += size;
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      (void)cudaGetLastError();
      release_cached();
      err = cudaMalloc(&p, size);
    }
    if (err != cudaSuccess) {
      (void)cudaGetLastError();  // allocation failures are not sticky; clear the error for later calls
      const MemoryStats s = stats();
      fail("CUDA allocation of ", size, " bytes failed: ", cudaGetErrorString(err), " (", s.bytes_in_use,
           " bytes in use by Quill)");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use += size;
    ++stats_.device_allocations;
    return p;
  }

  void deallocate(void* ptr, size_t bytes) override {
    if (ptr == nullptr) return;
    const size_t size = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    free_[size].push_back(ptr);
    stats_.bytes_in_use -= size;
    stats_.bytes_cached += size;
  }

  void release_cached() override {
    std::map<size_t, std::vector<void*>> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      stats_.device_allocations -= count(blocks);
      stats_.bytes_cached = 0;
    }
    cudaError_t first_error = cudaSuccess;
    for (auto& entry : blocks)
      for (void* p : entry.second) {
        const cudaError_t err = cudaFree(p);
        if (first_error == cudaSuccess) first_error = err;
      }
    QUILL_CUDA_CHECK(first_error);
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  // Small blocks round to 512 bytes; larger ones to a quarter of their power of two, which bounds the
  // waste at 25% while letting slightly different sizes share a block.
  static size_t size_class(size_t bytes) {
    constexpr size_t kSmallStep = 512, kSmallLimit = size_t(1) << 20;
    if (bytes <= kSmallLimit) return (std::max<size_t>(bytes, 1) + kSmallStep - 1) / kSmallStep * kSmallStep;
    size_t power = kSmallLimit;
    while (power * 2 <= bytes) power *= 2;
    const size_t step = power / 4;
    return (bytes + step - 1) / step * step;
  }
  static size_t count(const std::map<size_t, std::vector<void*>>& blocks) {
    size_t n = 0;
    for (const auto& entry : blocks) n += entry.second.size();
    return n;
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  MemoryStats stats_;
};

// Never destroyed: tensors in static objects may free their storage after other statics are gone, and
// the driver reclaims device memory at exit anyway.
CachingDeviceAllocator& device_allocator() {
  static CachingDeviceAllocator* allocator = new CachingDeviceAllocator();
  return *allocator;
}

// Host<->device and device<->device copies. A copy involving the host returns when the data has arrived
// (the caller may read or free the host buffer right away); a device-to-device copy is only queued.
void copy_device_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (dst_device.is_cpu())
    QUILL_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
  else if (src_device.is_cpu())
    QUILL_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
  else
    QUILL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

// A kernel whose attributes tell whether this binary holds code the device can run.
__global__ void probe_kernel() {}

std::string& reason_storage() {
  static std::string reason = "CUDA backend not initialised";
  return reason;
}

// Checks, without throwing, that a device is present and can run this binary's kernels.
bool probe_device(std::string& reason) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    reason = err != cudaSuccess ? std::string("no usable CUDA driver/device: ") + cudaGetErrorString(err)
                                : std::string("no CUDA device found");
    return false;
  }
  err = cudaFree(nullptr);  // creates the context now, so a broken device is caught here
  if (err == cudaSuccess) {
    cudaFuncAttributes attributes;
    err = cudaFuncGetAttributes(&attributes, probe_kernel);
  }
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    reason = std::string("the CUDA device cannot run this build's kernels: ") + cudaGetErrorString(err);
    return false;
  }
  reason.clear();
  return true;
}

}  // namespace

bool install_device_runtime() {
  static const bool installed = [] {
    if (!probe_device(reason_storage())) return false;
    set_allocator(DeviceType::Cuda, &device_allocator());
    set_copy_function(DeviceType::Cpu, DeviceType::Cuda, copy_device_bytes);
    set_copy_function(DeviceType::Cuda, DeviceType::Cuda, copy_device_bytes);
    return true;
  }();
  return installed;
}

const std::string& unavailable_reason() { return reason_storage(); }

MemoryStats memory_stats() { return device_allocator().stats(); }

}  // namespace quill::cuda
