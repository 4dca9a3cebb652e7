// The CUDA device's allocator, copy functions, stream, upload staging and step graphs, installed into the
// runtime only when a device works.
#include "kernels/cuda/device_runtime.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_kind.h"
#include "runtime/host_staging.h"
#include "runtime/step_graph.h"

namespace quill::cuda {
namespace {

// Created once by install_device_runtime(), before the allocator is installed, so before any device tensor
// (and so any kernel launch) can exist; never destroyed, like the cuDNN handles bound to it.
cudaStream_t g_stream = nullptr;

// The memory of one CUDA graph's recording (see CachingDeviceAllocator): free blocks by size class.
struct CapturePool {
  std::map<size_t, std::vector<void*>> free;
};

// The pool of the graph this thread is capturing, if any.
thread_local CapturePool* t_capture_pool = nullptr;

// Lets this thread make calls a stream capture would otherwise reject (cudaMalloc: not a stream operation,
// so not recorded, and the memory it returns is simply kept by the capture's pool), for its lifetime.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode() { (void)cudaThreadExchangeStreamCaptureMode(&mode_); }
  ~RelaxedCaptureMode() { (void)cudaThreadExchangeStreamCaptureMode(&mode_); }

 private:
  cudaStreamCaptureMode mode_ = cudaStreamCaptureModeRelaxed;
};

// Keeps freed blocks in free lists keyed by rounded size, so that a training loop with fixed shapes stops
// calling cudaMalloc/cudaFree (each of which synchronises the device) after its first step.
//
// CUDA graphs: a replay reuses the device addresses of its capture, including those of scratch memory the
// captured work allocated and freed again (activations, gradients, workspaces). So while a thread captures
// (begin_capture), blocks go to that capture's pool: taken from the pool's own free lists, else from the
// shared cache, else from cudaMalloc, and remembered as the pool's. A pool block freed, during the capture
// or later, returns to its pool, never to the shared cache; only the same graph's capture takes it again.
// Nothing else can be handed the graph's scratch memory while it may be replayed. end_pool (the graph's
// destruction) gives the pool's blocks back to the shared cache; stream order makes that safe as ever.
class CachingDeviceAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = size_class(bytes);
    CapturePool* pool = t_capture_pool;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (void* p = take(pool != nullptr ? pool->free : free_, size)) return handed_out(p, bytes, size);
      if (pool != nullptr)
        if (void* p = take(free_, size)) {
          pool_of_[p] = pool;
          return handed_out(p, bytes, size);
        }
    }
    void* p = nullptr;
    cudaError_t err;
    if (pool != nullptr) {
      RelaxedCaptureMode relaxed;
      err = cudaMalloc(&p, size);
    } else {
      err = cudaMalloc(&p, size);
      if (err == cudaErrorMemoryAllocation) {  // give the cache back and try once more (not while capturing:
        (void)cudaGetLastError();              // cudaFree synchronises the device)
        release_cached();
        err = cudaMalloc(&p, size);
      }
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
    if (pool != nullptr) pool_of_[p] = pool;
    return handed_out(p, bytes, size);
  }

  void deallocate(void* ptr, size_t bytes) override {
    if (ptr == nullptr) return;
    const size_t size = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    auto owner = pool_of_.find(ptr);
    (owner != pool_of_.end() ? owner->second->free : free_)[size].push_back(ptr);
    mark_block_cached(ptr, size, stream());
    stats_.bytes_in_use -= size;
    stats_.bytes_cached += size;
  }

  void release_cached() override {
    std::map<size_t, std::vector<void*>> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      stats_.device_allocations -= count(blocks);
      stats_.bytes_cached -= bytes(blocks);  // pools' free blocks stay: their graphs may still replay
    }
    cudaError_t first_error = cudaSuccess;
    for (auto& entry : blocks)
      for (void* p : entry.second) {
        const cudaError_t err = cudaFree(p);
        if (first_error == cudaSuccess) first_error = err;
      }
    QUILL_CUDA_CHECK(first_error);
  }

  // Allocations on this thread go to `pool` until end_capture().
  void begin_capture(CapturePool* pool) { t_capture_pool = pool; }
  void end_capture() { t_capture_pool = nullptr; }

  // The pool's free blocks return to the shared cache; blocks still in use return there when freed.
  void end_pool(CapturePool* pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& entry : pool->free) {
      std::vector<void*>& shared = free_[entry.first];
      shared.insert(shared.end(), entry.second.begin(), entry.second.end());
    }
    pool->free.clear();
    for (auto it = pool_of_.begin(); it != pool_of_.end();) it = it->second == pool ? pool_of_.erase(it) : std::next(it);
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  static void* handed_out(void* p, size_t bytes, size_t size) {
    mark_block_handed_out(p, bytes, size, stream());
    return p;
  }
  // A free block of `size` from `lists`, counted as in use; null when there is none. Holds mutex_.
  void* take(std::map<size_t, std::vector<void*>>& lists, size_t size) {
    auto it = lists.find(size);
    if (it == lists.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    stats_.bytes_cached -= size;
    stats_.bytes_in_use += size;
    return p;
  }
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
  static size_t bytes(const std::map<size_t, std::vector<void*>>& blocks) {
    size_t n = 0;
    for (const auto& entry : blocks) n += entry.first * entry.second.size();
    return n;
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  std::unordered_map<void*, CapturePool*> pool_of_;  // the pool of every block a capture has taken
  MemoryStats stats_;
};

// Never destroyed: tensors in static objects may free their storage after other statics are gone, and
// the driver reclaims device memory at exit anyway.
CachingDeviceAllocator& device_allocator() {
  static CachingDeviceAllocator* allocator = new CachingDeviceAllocator();
  return *allocator;
}

// Host<->device and device<->device copies, all on stream(). A copy involving the host returns when the
// data has arrived (the caller may read or free the host buffer right away), so it waits for the work
// queued before it; a device-to-device copy is only queued. Asynchronous uploads go through
// runtime/host_staging.h instead.
void copy_device_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (dst_device.is_cpu() || src_device.is_cpu()) {
    const cudaMemcpyKind kind = dst_device.is_cpu() ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice;
    QUILL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream()));
    QUILL_CUDA_CHECK(cudaStreamSynchronize(stream()));
  } else {
    QUILL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
  }
}

// ---- page-locked staging for asynchronous uploads (runtime/host_staging.h) ----
void* allocate_pinned(size_t bytes) {
  void* p = nullptr;
  QUILL_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
  return p;
}
void free_pinned(void* p) { (void)cudaFreeHost(p); }  // called from destructors: never throws
void* create_fence() {
  cudaEvent_t e = nullptr;
  QUILL_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}
void destroy_fence(void* fence) { (void)cudaEventDestroy(static_cast<cudaEvent_t>(fence)); }
void record_fence(void* fence) { QUILL_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(fence), stream())); }
void wait_fence(void* fence) { QUILL_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(fence))); }
void upload_async(void* dst, const void* src, size_t bytes) {
  QUILL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
}
const AsyncUploadHooks kUploadHooks{allocate_pinned, free_pinned,  create_fence, destroy_fence,
                                    record_fence,    wait_fence,   upload_async};

// ---- CUDA graphs of a training step (runtime/step_graph.h) ----
// capture() records, in this thread's capture mode, what the work queues on stream(); its allocations go to
// the graph's pool, which lives as long as the graph. Anything the capture cannot record (a host
// synchronisation such as a copy to the host, a cuDNN algorithm search) makes the capture fail with an error
// naming that call; the caller runs such things in an eager step first.
class CudaStepGraph final : public StepGraph {
 public:
  ~CudaStepGraph() override {
    if (exec_ != nullptr) (void)cudaGraphExecDestroy(exec_);  // a replay in flight completes first
    device_allocator().end_pool(&pool_);
  }

  void capture(const std::function<void()>& work) override {
    QUILL_CHECK(exec_ == nullptr, "a step graph is captured once");
    CachingDeviceAllocator& allocator = device_allocator();
    // ThreadLocal: calls that cannot be recorded fail on this thread; other threads are not restricted.
    QUILL_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
    allocator.begin_capture(&pool_);
    try {
      work();
    } catch (...) {
      allocator.end_capture();
      cudaGraph_t partial = nullptr;
      (void)cudaStreamEndCapture(stream(), &partial);
      if (partial != nullptr) (void)cudaGraphDestroy(partial);
      (void)cudaGetLastError();
      throw;
    }
    allocator.end_capture();
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream(), &graph);
    if (ended != cudaSuccess) {
      (void)cudaGetLastError();
      fail("capturing the training step as a CUDA graph failed: ", cudaGetErrorName(ended), " (",
           cudaGetErrorString(ended), "); train without --cuda-graph");
    }
    const cudaError_t instantiated = cudaGraphInstantiate(&exec_, graph, 0);
    (void)cudaGraphDestroy(graph);  // the executable graph does not need it
    if (instantiated != cudaSuccess) exec_ = nullptr;
    QUILL_CUDA_CHECK(instantiated);
  }

  void replay() override {
    QUILL_CHECK(exec_ != nullptr, "replay of a step graph that was not captured");
    QUILL_CUDA_CHECK(cudaGraphLaunch(exec_, stream()));
  }

 private:
  CapturePool pool_;
  cudaGraphExec_t exec_ = nullptr;
};

std::unique_ptr<StepGraph> make_cuda_step_graph() { return std::make_unique<CudaStepGraph>(); }

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
  if (err == cudaSuccess) err = cudaStreamCreateWithFlags(&g_stream, cudaStreamDefault);  // blocking: see header
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    g_stream = nullptr;
    reason = std::string("the CUDA device cannot run this build's kernels: ") + cudaGetErrorString(err);
    return false;
  }
  cudaDeviceProp prop{};
  (void)cudaGetDeviceProperties(&prop, 0);
  set_device_description(DeviceType::Cuda, {prop.name, kEmulatedDevice});
  reason.clear();
  return true;
}

}  // namespace

cudaStream_t stream() { return g_stream; }

bool install_device_runtime() {
  static const bool installed = [] {
    if (!probe_device(reason_storage())) return false;
    set_allocator(DeviceType::Cuda, &device_allocator());
    set_copy_function(DeviceType::Cpu, DeviceType::Cuda, copy_device_bytes);
    set_copy_function(DeviceType::Cuda, DeviceType::Cuda, copy_device_bytes);
    set_async_upload_hooks(DeviceType::Cuda, &kUploadHooks);
    set_step_graph_factory(DeviceType::Cuda, make_cuda_step_graph);
    return true;
  }();
  return installed;
}

const std::string& unavailable_reason() { return reason_storage(); }

MemoryStats memory_stats() { return device_allocator().stats(); }

}  // namespace quill::cuda
