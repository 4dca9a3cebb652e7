#pragma once
// Host memory that uploads to a device are copied from asynchronously, in slots reused in turn. With two
// slots (double buffering) the host fills one with the next batch while the device may still be reading
// the other. On a GPU the slots are page-locked, so an upload is a true asynchronous copy queued on the
// device's stream, and each slot carries a fence (a CUDA event) telling when the device has finished
// reading it; the GPU runtime installs these as hooks (kernels/cuda/device_runtime.cu), so the CPU-only
// build, and staging for a CPU destination, get ordinary memory and plain synchronous copies.
#include <cstddef>
#include <memory>
#include <vector>

#include "runtime/device.h"

namespace quill {

// What a GPU runtime provides for asynchronous uploads.
struct AsyncUploadHooks {
  void* (*allocate_pinned)(size_t bytes);  // page-locked host memory
  void (*free_pinned)(void* ptr);
  void* (*create_fence)();
  void (*destroy_fence)(void* fence);
  void (*record_fence)(void* fence);  // marks the work queued on the device's stream so far
  void (*wait_fence)(void* fence);    // blocks until that work is done (at once if never recorded)
  void (*upload)(void* device_dst, const void* host_src, size_t bytes);  // queued on the stream
};
void set_async_upload_hooks(DeviceType type, const AsyncUploadHooks* hooks);
const AsyncUploadHooks* async_upload_hooks(DeviceType type);  // null when none are installed

class HostStaging {
 public:
  // `slots` buffers of `bytes` each (64-byte aligned) for uploads to `device`.
  HostStaging(Device device, size_t bytes, int slots = 2);
  ~HostStaging();  // waits until the device has read every slot
  HostStaging(const HostStaging&) = delete;
  HostStaging& operator=(const HostStaging&) = delete;

  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  // Page-locked, with asynchronous uploads (a GPU runtime's hooks); else ordinary memory.
  bool asynchronous() const { return hooks_ != nullptr; }

  // Moves to the next slot and returns its memory, once the device has finished reading what was last
  // uploaded from it (the host waits only if the device is that far behind).
  void* next();
  // Queues a copy of `bytes` at `offset` in the current slot to device memory `dst`: returns at once when
  // asynchronous (do not touch the slot before the next next() that returns it), after the copy otherwise.
  void upload(void* dst, size_t offset, size_t bytes);
  // Marks the current slot busy until the device has run the uploads queued from it. Call after upload().
  void fence();

 private:
  void release() noexcept;  // waits for the device, then frees the slots

  struct Slot {
    void* memory = nullptr;
    void* fence = nullptr;
  };
  Device device_;
  size_t bytes_;
  const AsyncUploadHooks* hooks_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<unsigned char[]>> plain_;  // the slots' memory without hooks
  int current_ = -1;
};

}  // namespace quill
