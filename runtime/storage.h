#pragma once
// Reference-counted memory on a device, obtained from that device's allocator.
#include <cstddef>
#include <memory>
#include <string>

#include "runtime/device.h"

namespace quill {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  // Returns cached blocks to the system (a caching allocator keeps freed blocks for reuse).
  virtual void release_cached() {}
};

// Copies bytes between two devices; dst and src are device pointers of the given devices.
using CopyFunction = void (*)(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// The allocator and copier of a device type. The CPU's are built in; a GPU backend installs its own.
Allocator& allocator_for(DeviceType type);
void set_allocator(DeviceType type, Allocator* allocator);
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
void set_copy_function(DeviceType a, DeviceType b, CopyFunction fn);  // for both directions a<->b
bool device_available(DeviceType type);
// Why a device type is not available, for error messages ("" when it is). A GPU backend that finds no usable
// device records the cause (no driver, a driver too old, no kernel image for this GPU); a build without one
// says so.
std::string device_unavailable_reason(DeviceType type);
void set_device_unavailable_reason(DeviceType type, std::string reason);

// What stands behind a device type, for logs and results: its name ("NVIDIA H100 80GB HBM3"), and whether it is
// an emulation on the CPU (the QUILL_CUDA_EMULATION build), which checks kernels' logic and must never be taken
// for the hardware or timed as such. Set by the backend that installs the device.
struct DeviceDescription {
  std::string name;
  bool emulated = false;
};
DeviceDescription device_description(DeviceType type);
void set_device_description(DeviceType type, DeviceDescription description);

class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

}  // namespace quill
