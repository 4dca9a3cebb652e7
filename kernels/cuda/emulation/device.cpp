// The emulated device's host API: memory, copies, the stream's queue, events, graph capture and replay,
// errors, and the device's description.
//
// One in-order queue serves every stream (Quill uses one). Work queued there (kernels, copies involving
// device or page-locked memory, memsets, event records, graph replays) runs when something waits for it: a
// synchronising call (cudaStreamSynchronize, cudaEventSynchronize, cudaDeviceSynchronize, cudaMemcpy, a copy
// involving pageable host memory, cudaFree) runs the whole queue, in order, on the calling thread. So
// host code that reads or reuses memory before waiting sees what a GPU that had not yet got that far
// would show it. A kernel fault is sticky: every later call returns it, until cudaDeviceReset().
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <sanitizer/asan_interface.h>  // no-ops unless built with ASan

#include "block_scheduler.h"
#include "cuda_emulation.h"
#include "mma.h"

namespace cuda_emulation {
namespace {

using Clock = std::chrono::steady_clock;
using Operation = std::function<KernelFault()>;

// The stream handle cudaStreamCreate hands out; nullptr is the legacy default stream.
struct StreamRecord {
  unsigned flags = 0;
};

struct EventRecord {
  unsigned flags = 0;
  bool recorded = false;   // cudaEventRecord was called
  bool completed = false;  // the work before it has run
  Clock::time_point when{};
};

struct CaptureRecord {
  cudaStream_t stream = nullptr;
  std::thread::id thread;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::vector<Operation> nodes;
  std::string invalidated;  // why the capture can no longer end in a graph ("" while it can)
};

struct GraphRecord {
  std::vector<Operation> nodes;
};

class EmulatedDevice {
 public:
  std::recursive_mutex mutex;

  EmulatedDevice() {
    const char* text = std::getenv("QUILL_CUDA_EMULATION_ORDER");
    if (text != nullptr && !parse_order(text, &order)) {
      unusable = std::string("QUILL_CUDA_EMULATION_ORDER='") + text +
                 "' is not a thread order (expected forward, reverse, random or random:SEED)";
    }
  }

  // ---- errors ----
  cudaError_t fail(cudaError_t error, std::string detail) {
    t_last_error = error;
    t_last_detail = std::move(detail);
    t_detail_error = error;
    return error;
  }
  cudaError_t sticky() const { return sticky_error; }

  // ---- memory ----
  std::map<uintptr_t, size_t> device_blocks, pinned_blocks;

  // The block of `blocks` holding [p, p + bytes), or end().
  static std::map<uintptr_t, size_t>::const_iterator containing(const std::map<uintptr_t, size_t>& blocks,
                                                                const void* p, size_t bytes) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = blocks.upper_bound(a);
    if (it == blocks.begin()) return blocks.end();
    --it;
    if (a - it->first > it->second || bytes > it->second - (a - it->first)) return blocks.end();
    return it;
  }
  static bool overlaps(const std::map<uintptr_t, size_t>& blocks, const void* p, size_t bytes) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = blocks.upper_bound(a + (bytes == 0 ? 0 : bytes - 1));
    if (it == blocks.begin()) return false;
    --it;
    return it->first + it->second > a;
  }
  bool is_device(const void* p, size_t bytes) const { return containing(device_blocks, p, bytes) != device_blocks.end(); }
  bool is_pinned(const void* p, size_t bytes) const { return containing(pinned_blocks, p, bytes) != pinned_blocks.end(); }
  bool touches_device(const void* p, size_t bytes) const { return overlaps(device_blocks, p, bytes); }

  // ---- the queue ----
  std::deque<Operation> queue;

  // Runs everything queued, in order. Returns the sticky error if a kernel faulted (now or before).
  cudaError_t run_queue() {
    while (!queue.empty() && sticky_error == cudaSuccess) {
      Operation op = std::move(queue.front());
      queue.pop_front();
      const KernelFault fault = op();
      if (fault.error != cudaSuccess) {
        sticky_error = fault.error;
        sticky_message = fault.message;
        queue.clear();  // a faulted context runs nothing more
        if (std::getenv("QUILL_CUDA_EMULATION_QUIET") == nullptr)
          std::fprintf(stderr, "cuda emulation: %s\n", fault.message.c_str());
      }
    }
    if (sticky_error != cudaSuccess) return fail(sticky_error, sticky_message);
    return cudaSuccess;
  }

  // ---- capture ----
  std::unique_ptr<CaptureRecord> capture;
  static thread_local cudaStreamCaptureMode t_mode;

  // Whether this thread may make a call that a capture forbids (cudaMalloc, synchronisation): CUDA's rules
  // for cudaThreadExchangeStreamCaptureMode.
  bool unsafe_call_prohibited() const {
    if (capture == nullptr || t_mode == cudaStreamCaptureModeRelaxed) return false;
    const bool mine = capture->thread == std::this_thread::get_id();
    if (mine && capture->mode != cudaStreamCaptureModeRelaxed) return true;
    return t_mode == cudaStreamCaptureModeGlobal && !mine && capture->mode == cudaStreamCaptureModeGlobal;
  }
  cudaError_t refuse_during_capture(const char* call) {
    const std::string why = std::string(call) + " is not allowed while a stream is being captured";
    if (capture != nullptr && capture->invalidated.empty()) capture->invalidated = why;
    return fail(cudaErrorStreamCaptureUnsupported, why);
  }

  // Queues `op` on `stream`, or records it into the capture when that stream is being captured.
  cudaError_t submit(cudaStream_t stream, Operation op, const char* call) {
    if (capture != nullptr) {
      if (stream == capture->stream) {
        capture->nodes.push_back(std::move(op));
        return cudaSuccess;
      }
      if (stream == nullptr && capture->mode != cudaStreamCaptureModeRelaxed) {
        // The legacy stream synchronises with every blocking stream, so this would join the capture.
        const std::string why = std::string(call) + " on the legacy default stream during a capture";
        if (capture->invalidated.empty()) capture->invalidated = why;
        return fail(cudaErrorStreamCaptureImplicit, why);
      }
    }
    queue.push_back(std::move(op));
    return cudaSuccess;
  }

  bool stream_known(cudaStream_t s) const { return s == nullptr || streams.count(s) != 0; }

  std::unordered_map<cudaStream_t, StreamRecord> streams;
  std::unordered_map<cudaEvent_t, EventRecord> events;
  std::unordered_set<cudaGraph_t> graphs;
  std::unordered_set<cudaGraphExec_t> execs;
  uint64_t launches = 0;
  OrderSetting order;
  std::string unusable;  // why the device cannot be used ("" when it can)
  cudaError_t sticky_error = cudaSuccess;
  std::string sticky_message;

  static thread_local cudaError_t t_last_error;
  static thread_local cudaError_t t_detail_error;
  static thread_local std::string t_last_detail;
};

thread_local cudaStreamCaptureMode EmulatedDevice::t_mode = cudaStreamCaptureModeGlobal;
thread_local cudaError_t EmulatedDevice::t_last_error = cudaSuccess;
thread_local cudaError_t EmulatedDevice::t_detail_error = cudaSuccess;
thread_local std::string EmulatedDevice::t_last_detail;

EmulatedDevice& device() {
  static EmulatedDevice* d = new EmulatedDevice();  // never destroyed: tensors in statics free late
  return *d;
}

using Lock = std::lock_guard<std::recursive_mutex>;

// The common start of every call: the device lock, and a fault that is sticky.
#define QUILL_EMULATED_CALL(d)          \
  ::cuda_emulation::EmulatedDevice& d = ::cuda_emulation::device(); \
  std::lock_guard<std::recursive_mutex> lock_(d.mutex); \
  if (d.sticky() != cudaSuccess) return d.fail(d.sticky(), d.sticky_message)

const char* name_of(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorIllegalInstruction: return "cudaErrorIllegalInstruction";
    case cudaErrorMisalignedAddress: return "cudaErrorMisalignedAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
    case cudaErrorUnknown: return "cudaErrorUnknown";
  }
  return "cudaErrorUnknown";
}

const char* description_of(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorIllegalInstruction: return "an illegal instruction was encountered";
    case cudaErrorMisalignedAddress: return "misaligned address";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit: return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorStreamCaptureWrongThread: return "attempt to terminate a thread-local capture sequence from another thread";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unknown error";
}

// Runs the queue before a call that waits for the device.
#define QUILL_EMULATED_WAIT(d)                              \
  do {                                                      \
    const cudaError_t waited_ = d.run_queue();              \
    if (waited_ != cudaSuccess) return waited_;             \
  } while (0)

cudaError_t checked_copy(EmulatedDevice& d, void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                         const char* call, bool* pageable) {
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return d.fail(cudaErrorInvalidValue, std::string(call) + ": a null pointer");
  const bool dst_device = d.is_device(dst, bytes), src_device = d.is_device(src, bytes);
  if (kind == cudaMemcpyDefault)
    kind = dst_device ? (src_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                      : (src_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  const bool want_dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool want_src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDeviceToDevice)
    return d.fail(cudaErrorInvalidMemcpyDirection, std::string(call) + ": unknown copy kind " + std::to_string(kind));
  auto check = [&](const void* p, bool want_device, bool is_device, const char* role) -> std::string {
    if (want_device && !is_device)
      return std::string(call) + ": the " + role + " (" + std::to_string(bytes) +
             " bytes) is not inside one device allocation" +
             (d.touches_device(p, bytes) ? " (it runs past the end of one)" : " (a host pointer?)");
    if (!want_device && d.touches_device(p, bytes))
      return std::string(call) + ": the " + role + " is device memory, but the copy kind says host";
    return "";
  };
  std::string problem = check(dst, want_dst_device, dst_device, "destination");
  if (problem.empty()) problem = check(src, want_src_device, src_device, "source");
  if (!problem.empty()) return d.fail(cudaErrorInvalidValue, problem);
  const void* host = kind == cudaMemcpyHostToDevice ? src : (kind == cudaMemcpyDeviceToHost ? dst : nullptr);
  *pageable = kind == cudaMemcpyHostToHost || (host != nullptr && !d.is_pinned(host, bytes));
  return cudaSuccess;
}

Operation copy_operation(void* dst, const void* src, size_t bytes) {
  return [dst, src, bytes] {
    std::memmove(dst, src, bytes);
    return KernelFault{};
  };
}

}  // namespace

// ---- kernels ----

cudaError_t enqueue_kernel(KernelLaunch launch) {
  QUILL_EMULATED_CALL(d);
  const dim3 b = launch.block, g = launch.grid;
  const uint64_t threads = uint64_t(b.x) * b.y * b.z;
  if (b.x == 0 || b.y == 0 || b.z == 0 || threads > 1024 || b.z > 64 || g.x == 0 || g.y == 0 || g.z == 0 ||
      g.x > 2147483647u || g.y > 65535 || g.z > 65535 || launch.shared_bytes > 48 * 1024)
    return d.fail(cudaErrorInvalidConfiguration,
                  "launch of grid (" + std::to_string(g.x) + "," + std::to_string(g.y) + "," + std::to_string(g.z) +
                      ") x block (" + std::to_string(b.x) + "," + std::to_string(b.y) + "," + std::to_string(b.z) +
                      "), " + std::to_string(launch.shared_bytes) + " bytes of dynamic shared memory");
  if (!d.stream_known(launch.stream)) return d.fail(cudaErrorInvalidResourceHandle, "launch on an unknown stream");
  auto shared_launch = std::make_shared<const KernelLaunch>(std::move(launch));
  return d.submit(shared_launch->stream,
                  [shared_launch, &d]() { return run_kernel(*shared_launch, ++d.launches, d.order); },
                  "a kernel launch");
}

cudaError_t function_attributes(cudaFuncAttributes* attributes) {
  QUILL_EMULATED_CALL(d);
  if (attributes == nullptr) return d.fail(cudaErrorInvalidValue, "cudaFuncGetAttributes: null attributes");
  *attributes = {};
  attributes->maxThreadsPerBlock = 1024;
  attributes->ptxVersion = 90;
  attributes->binaryVersion = 90;
  return cudaSuccess;
}

cudaError_t max_active_blocks(int* blocks, int block_threads, size_t shared_bytes) {
  QUILL_EMULATED_CALL(d);
  if (blocks == nullptr || block_threads <= 0 || block_threads > 1024)
    return d.fail(cudaErrorInvalidValue, "cudaOccupancyMaxActiveBlocksPerMultiprocessor: bad arguments");
  *blocks = std::max(1, 2048 / block_threads);
  return cudaSuccess;
}

// ---- the emulation's own controls (cuda_emulation.h) ----

std::string device_name() { return "CUDA emulation on the CPU (an sm_90 model; not a GPU)"; }

OrderSetting thread_order() {
  EmulatedDevice& d = device();
  Lock lock(d.mutex);
  return d.order;
}

void set_thread_order(const OrderSetting& order) {
  EmulatedDevice& d = device();
  Lock lock(d.mutex);
  d.run_queue();  // work queued so far runs in the order it was queued under
  d.order = order;
}

std::string last_fault() {
  EmulatedDevice& d = device();
  Lock lock(d.mutex);
  return d.sticky_message;
}

size_t live_device_allocations() {
  EmulatedDevice& d = device();
  Lock lock(d.mutex);
  return d.device_blocks.size();
}

void mark_device_block(void* block, size_t used_bytes, size_t block_bytes, cudaStream_t stream) {
#if defined(__SANITIZE_ADDRESS__) || (defined(__has_feature) && __has_feature(address_sanitizer))
  EmulatedDevice& d = device();
  Lock lock(d.mutex);
  (void)d.submit(
      stream,
      [block, used_bytes, block_bytes] {
        ASAN_UNPOISON_MEMORY_REGION(block, used_bytes);
        ASAN_POISON_MEMORY_REGION(static_cast<char*>(block) + used_bytes, block_bytes - used_bytes);
        return KernelFault{};
      },
      "a caching allocator's mark");
#else
  (void)block, (void)used_bytes, (void)block_bytes, (void)stream;
#endif
}

namespace {
std::string describe_pointer_problem(const void* p, unsigned ldm) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) return "a pointer that is not 32-byte aligned";
  if (ldm % 4 != 0) return "a leading dimension of " + std::to_string(ldm) + " floats, not a multiple of 16 bytes";
  return "";
}
}  // namespace

}  // namespace cuda_emulation

namespace nvcuda::wmma::detail {
void check_pointer(const void* p, unsigned ldm, const char* what, const char* file, int line) {
  const std::string problem = cuda_emulation::describe_pointer_problem(p, ldm);
  if (!problem.empty())
    cuda_emulation::device_fault(cudaErrorMisalignedAddress, (std::string("wmma::") + what + " with " + problem).c_str(),
                                 file, line);
}
}  // namespace nvcuda::wmma::detail

using cuda_emulation::EmulatedDevice;
using cuda_emulation::device;
using cuda_emulation::Operation;
using cuda_emulation::KernelFault;

// ---- errors ----

const char* cudaGetErrorName(cudaError_t error) { return cuda_emulation::name_of(error); }

const char* cudaGetErrorString(cudaError_t error) {
  // The emulation says why, where a GPU only names the error: the last detail this thread got for it.
  thread_local std::string text;
  text = cuda_emulation::description_of(error);
  EmulatedDevice& d = device();
  std::lock_guard<std::recursive_mutex> lock(d.mutex);
  if (error != cudaSuccess && error == d.sticky_error && !d.sticky_message.empty())
    text += " (cuda emulation: " + d.sticky_message + ")";
  else if (error != cudaSuccess && error == EmulatedDevice::t_detail_error && !EmulatedDevice::t_last_detail.empty())
    text += " (cuda emulation: " + EmulatedDevice::t_last_detail + ")";
  return text.c_str();
}

cudaError_t cudaGetLastError() {
  EmulatedDevice& d = device();
  std::lock_guard<std::recursive_mutex> lock(d.mutex);
  const cudaError_t e = EmulatedDevice::t_last_error;
  if (d.sticky_error == cudaSuccess) EmulatedDevice::t_last_error = cudaSuccess;
  return d.sticky_error != cudaSuccess ? d.sticky_error : e;
}

cudaError_t cudaPeekAtLastError() {
  EmulatedDevice& d = device();
  std::lock_guard<std::recursive_mutex> lock(d.mutex);
  return d.sticky_error != cudaSuccess ? d.sticky_error : EmulatedDevice::t_last_error;
}

// ---- the device ----

cudaError_t cudaGetDeviceCount(int* count) {
  EmulatedDevice& d = device();
  std::lock_guard<std::recursive_mutex> lock(d.mutex);
  if (count == nullptr) return d.fail(cudaErrorInvalidValue, "cudaGetDeviceCount: null count");
  if (!d.unusable.empty()) {
    *count = 0;
    return d.fail(cudaErrorInitializationError, d.unusable);
  }
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device_index) {
  QUILL_EMULATED_CALL(d);
  if (device_index == nullptr) return d.fail(cudaErrorInvalidValue, "cudaGetDevice: null pointer");
  *device_index = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device_index) {
  QUILL_EMULATED_CALL(d);
  return device_index == 0 ? cudaSuccess : d.fail(cudaErrorInvalidDevice, "the emulation has one device, 0");
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device_index) {
  QUILL_EMULATED_CALL(d);
  if (prop == nullptr || device_index != 0) return d.fail(cudaErrorInvalidValue, "cudaGetDeviceProperties: bad arguments");
  *prop = {};
  std::snprintf(prop->name, sizeof prop->name, "%s", cuda_emulation::device_name().c_str());
  prop->totalGlobalMem = size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGESIZE));
  prop->sharedMemPerBlock = 48 * 1024;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;  // blocks run one at a time
  prop->l2CacheSize = 4 << 20;
  prop->maxThreadsPerMultiProcessor = 2048;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  QUILL_EMULATED_CALL(d);
  if (d.capture != nullptr && d.unsafe_call_prohibited()) return d.refuse_during_capture("cudaDeviceSynchronize");
  return d.run_queue();
}

cudaError_t cudaDeviceReset() {
  // Clears a sticky fault so that a process (the emulation's own tests) can go on. Unlike a GPU's reset it
  // keeps allocations: the caching allocator above may still hold them.
  EmulatedDevice& d = device();
  std::lock_guard<std::recursive_mutex> lock(d.mutex);
  d.queue.clear();
  d.capture.reset();
  d.sticky_error = cudaSuccess;
  d.sticky_message.clear();
  EmulatedDevice::t_last_error = cudaSuccess;
  return cudaSuccess;
}

// ---- memory ----

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  QUILL_EMULATED_CALL(d);
  if (ptr == nullptr) return d.fail(cudaErrorInvalidValue, "cudaMalloc: null pointer");
  if (d.unsafe_call_prohibited()) return d.refuse_during_capture("cudaMalloc");
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  // Its own heap block, exactly `bytes` long: AddressSanitizer's redzones then mark its bounds.
  void* p = nullptr;
  if (posix_memalign(&p, 256, bytes) != 0 || p == nullptr)
    return d.fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes");
  d.device_blocks[reinterpret_cast<uintptr_t>(p)] = bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  QUILL_EMULATED_CALL(d);
  if (d.unsafe_call_prohibited()) return d.refuse_during_capture("cudaFree");
  if (ptr == nullptr) return cudaSuccess;  // also how CUDA code creates the context
  QUILL_EMULATED_WAIT(d);                  // cudaFree waits for the device
  auto it = d.device_blocks.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == d.device_blocks.end())
    return d.fail(cudaErrorInvalidDevicePointer, "cudaFree of a pointer cudaMalloc did not return");
  ASAN_UNPOISON_MEMORY_REGION(ptr, it->second);  // the caching allocator may have poisoned cached blocks
  d.device_blocks.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned flags) {
  QUILL_EMULATED_CALL(d);
  if (ptr == nullptr) return d.fail(cudaErrorInvalidValue, "cudaHostAlloc: null pointer");
  if (d.unsafe_call_prohibited()) return d.refuse_during_capture("cudaHostAlloc");
  void* p = nullptr;
  if (posix_memalign(&p, 256, std::max<size_t>(bytes, 1)) != 0 || p == nullptr)
    return d.fail(cudaErrorMemoryAllocation, "cudaHostAlloc of " + std::to_string(bytes) + " bytes");
  d.pinned_blocks[reinterpret_cast<uintptr_t>(p)] = std::max<size_t>(bytes, 1);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) { return cudaHostAlloc(ptr, bytes, cudaHostAllocDefault); }

cudaError_t cudaFreeHost(void* ptr) {
  QUILL_EMULATED_CALL(d);
  if (ptr == nullptr) return cudaSuccess;
  if (d.unsafe_call_prohibited()) return d.refuse_during_capture("cudaFreeHost");
  QUILL_EMULATED_WAIT(d);
  auto it = d.pinned_blocks.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == d.pinned_blocks.end()) return d.fail(cudaErrorInvalidValue, "cudaFreeHost of a pointer cudaHostAlloc did not return");
  d.pinned_blocks.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  QUILL_EMULATED_CALL(d);
  if (!d.stream_known(stream)) return d.fail(cudaErrorInvalidResourceHandle, "cudaMemcpyAsync on an unknown stream");
  bool pageable = false;
  const cudaError_t checked = cuda_emulation::checked_copy(d, dst, src, bytes, kind, "cudaMemcpyAsync", &pageable);
  if (checked != cudaSuccess || bytes == 0) return checked;
  if (!pageable) return d.submit(stream, cuda_emulation::copy_operation(dst, src, bytes), "cudaMemcpyAsync");
  // Pageable host memory: CUDA stages or waits for it before returning, so the copy is done on return.
  if (d.capture != nullptr && (stream == d.capture->stream || d.unsafe_call_prohibited()))
    return d.refuse_during_capture("a copy to or from pageable host memory");
  QUILL_EMULATED_WAIT(d);
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  {
    QUILL_EMULATED_CALL(d);
    if (d.capture != nullptr && d.unsafe_call_prohibited()) return d.refuse_during_capture("cudaMemcpy");
  }
  const cudaError_t queued = cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
  if (queued != cudaSuccess) return queued;
  EmulatedDevice& d = device();
  std::lock_guard<std::recursive_mutex> lock(d.mutex);
  return d.run_queue();
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  QUILL_EMULATED_CALL(d);
  if (bytes == 0) return cudaSuccess;
  if (!d.is_device(ptr, bytes))
    return d.fail(cudaErrorInvalidValue, "cudaMemsetAsync of " + std::to_string(bytes) +
                                             " bytes that are not inside one device allocation");
  return d.submit(stream,
                  [ptr, value, bytes] {
                    std::memset(ptr, value, bytes);
                    return KernelFault{};
                  },
                  "cudaMemsetAsync");
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  const cudaError_t queued = cudaMemsetAsync(ptr, value, bytes, nullptr);
  if (queued != cudaSuccess) return queued;
  EmulatedDevice& d = device();
  std::lock_guard<std::recursive_mutex> lock(d.mutex);
  return d.run_queue();
}

// ---- streams ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  QUILL_EMULATED_CALL(d);
  if (stream == nullptr) return d.fail(cudaErrorInvalidValue, "cudaStreamCreate: null pointer");
  *stream = reinterpret_cast<cudaStream_t>(new char);  // a unique handle
  d.streams[*stream] = {flags};
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  QUILL_EMULATED_CALL(d);
  auto it = d.streams.find(stream);
  if (it == d.streams.end()) return d.fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy of an unknown stream");
  d.streams.erase(it);
  delete reinterpret_cast<char*>(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  QUILL_EMULATED_CALL(d);
  if (!d.stream_known(stream)) return d.fail(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize of an unknown stream");
  if (d.capture != nullptr && (stream == d.capture->stream || d.unsafe_call_prohibited()))
    return d.refuse_during_capture("cudaStreamSynchronize");
  return d.run_queue();
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  QUILL_EMULATED_CALL(d);
  if (d.capture != nullptr && (stream == d.capture->stream || d.unsafe_call_prohibited()))
    return d.refuse_during_capture("cudaStreamQuery");
  return d.run_queue();  // the emulated device does the work when asked whether it is done
}

// ---- events ----

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  QUILL_EMULATED_CALL(d);
  if (event == nullptr) return d.fail(cudaErrorInvalidValue, "cudaEventCreate: null pointer");
  *event = reinterpret_cast<cudaEvent_t>(new char);
  cuda_emulation::EventRecord record;
  record.flags = flags;
  d.events[*event] = record;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  QUILL_EMULATED_CALL(d);
  auto it = d.events.find(event);
  if (it == d.events.end()) return d.fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy of an unknown event");
  d.events.erase(it);
  delete reinterpret_cast<char*>(event);
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  QUILL_EMULATED_CALL(d);
  auto it = d.events.find(event);
  if (it == d.events.end()) return d.fail(cudaErrorInvalidResourceHandle, "cudaEventRecord of an unknown event");
  if (!d.stream_known(stream)) return d.fail(cudaErrorInvalidResourceHandle, "cudaEventRecord on an unknown stream");
  it->second.recorded = true;
  it->second.completed = false;
  EmulatedDevice* device_pointer = &d;
  return d.submit(stream,
                  [device_pointer, event] {
                    auto found = device_pointer->events.find(event);
                    if (found != device_pointer->events.end()) {
                      found->second.completed = true;
                      found->second.when = cuda_emulation::Clock::now();
                    }
                    return KernelFault{};
                  },
                  "cudaEventRecord");
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  QUILL_EMULATED_CALL(d);
  if (d.events.count(event) == 0) return d.fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize of an unknown event");
  if (d.capture != nullptr && d.unsafe_call_prohibited()) return d.refuse_during_capture("cudaEventSynchronize");
  return d.run_queue();
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  QUILL_EMULATED_CALL(d);
  if (d.events.count(event) == 0) return d.fail(cudaErrorInvalidResourceHandle, "cudaEventQuery of an unknown event");
  if (d.capture != nullptr && d.unsafe_call_prohibited()) return d.refuse_during_capture("cudaEventQuery");
  return d.run_queue();
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  QUILL_EMULATED_CALL(d);
  auto a = d.events.find(start), b = d.events.find(end);
  if (ms == nullptr || a == d.events.end() || b == d.events.end())
    return d.fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: unknown events");
  if ((a->second.flags | b->second.flags) & cudaEventDisableTiming)
    return d.fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime of an event created without timing");
  if (!a->second.recorded || !b->second.recorded)
    return d.fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime of an event never recorded");
  if (!a->second.completed || !b->second.completed) return d.fail(cudaErrorNotReady, "the events have not completed");
  *ms = std::chrono::duration<float, std::milli>(b->second.when - a->second.when).count();
  return cudaSuccess;
}

// ---- graphs ----

cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  QUILL_EMULATED_CALL(d);
  if (mode == nullptr) return d.fail(cudaErrorInvalidValue, "cudaThreadExchangeStreamCaptureMode: null pointer");
  std::swap(*mode, EmulatedDevice::t_mode);
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  QUILL_EMULATED_CALL(d);
  if (stream == nullptr)
    return d.fail(cudaErrorStreamCaptureUnsupported, "the legacy default stream cannot be captured");
  if (!d.stream_known(stream)) return d.fail(cudaErrorInvalidResourceHandle, "capture of an unknown stream");
  if (d.capture != nullptr) return d.fail(cudaErrorStreamCaptureUnsupported, "the emulation captures one stream at a time");
  d.capture = std::make_unique<cuda_emulation::CaptureRecord>();
  d.capture->stream = stream;
  d.capture->thread = std::this_thread::get_id();
  d.capture->mode = mode;
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  QUILL_EMULATED_CALL(d);
  if (status == nullptr) return d.fail(cudaErrorInvalidValue, "cudaStreamIsCapturing: null pointer");
  *status = d.capture == nullptr || d.capture->stream != stream ? cudaStreamCaptureStatusNone
            : d.capture->invalidated.empty()                    ? cudaStreamCaptureStatusActive
                                                                : cudaStreamCaptureStatusInvalidated;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  QUILL_EMULATED_CALL(d);
  if (graph == nullptr) return d.fail(cudaErrorInvalidValue, "cudaStreamEndCapture: null graph");
  *graph = nullptr;
  if (d.capture == nullptr || d.capture->stream != stream)
    return d.fail(cudaErrorInvalidValue, "cudaStreamEndCapture of a stream that is not being captured");
  if (d.capture->mode == cudaStreamCaptureModeThreadLocal && d.capture->thread != std::this_thread::get_id())
    return d.fail(cudaErrorStreamCaptureWrongThread, "a thread-local capture ended by another thread");
  std::unique_ptr<cuda_emulation::CaptureRecord> ended = std::move(d.capture);
  if (!ended->invalidated.empty()) return d.fail(cudaErrorStreamCaptureInvalidated, ended->invalidated);
  auto* g = new cuda_emulation::GraphRecord{std::move(ended->nodes)};
  *graph = reinterpret_cast<cudaGraph_t>(g);
  d.graphs.insert(*graph);
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  QUILL_EMULATED_CALL(d);
  if (exec == nullptr || d.graphs.count(graph) == 0)
    return d.fail(cudaErrorInvalidValue, "cudaGraphInstantiate of an unknown graph");
  auto* e = new cuda_emulation::GraphRecord(*reinterpret_cast<cuda_emulation::GraphRecord*>(graph));
  *exec = reinterpret_cast<cudaGraphExec_t>(e);
  d.execs.insert(*exec);
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  QUILL_EMULATED_CALL(d);
  if (d.execs.count(exec) == 0) return d.fail(cudaErrorInvalidResourceHandle, "cudaGraphLaunch of an unknown graph");
  if (!d.stream_known(stream)) return d.fail(cudaErrorInvalidResourceHandle, "cudaGraphLaunch on an unknown stream");
  // The nodes run in the order they were recorded (Quill records one stream, so that is their dependency
  // order), each with the arguments and addresses of the recording.
  const auto* record = reinterpret_cast<const cuda_emulation::GraphRecord*>(exec);
  return d.submit(stream,
                  [record] {
                    for (const Operation& node : record->nodes) {
                      const KernelFault fault = node();
                      if (fault.error != cudaSuccess) return fault;
                    }
                    return KernelFault{};
                  },
                  "cudaGraphLaunch");
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  QUILL_EMULATED_CALL(d);
  if (d.graphs.erase(graph) == 0) return d.fail(cudaErrorInvalidValue, "cudaGraphDestroy of an unknown graph");
  delete reinterpret_cast<cuda_emulation::GraphRecord*>(graph);
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  QUILL_EMULATED_CALL(d);
  if (d.execs.erase(exec) == 0) return d.fail(cudaErrorInvalidValue, "cudaGraphExecDestroy of an unknown graph");
  // A replay still queued holds the nodes: run it first, as a GPU completes a launched graph.
  QUILL_EMULATED_WAIT(d);
  delete reinterpret_cast<cuda_emulation::GraphRecord*>(exec);
  return cudaSuccess;
}
