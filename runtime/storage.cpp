#include "runtime/storage.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "runtime/error.h"

namespace quill {
namespace {

// Caches freed blocks by size so that a training loop with fixed shapes stops calling malloc after
// its first step (large blocks would otherwise be mmap'ed and page-faulted anew every step).
class CachingCpuAllocator final : public Allocator {
 public:
  ~CachingCpuAllocator() override { release_cached(); }
  void* allocate(size_t bytes) override {
    size_t size = round_up(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, size);
    if (!p) {  // give the cache back and try once more, as the CUDA allocator does
      release_cached();
      p = std::aligned_alloc(kAlignment, size);
    }
    // A clear message instead of std::bad_alloc: the size usually comes from a model description.
    if (!p) fail("out of memory: cannot allocate ", size, " bytes (", size >> 30, " GiB) on the CPU");
    return p;
  }
  void deallocate(void* ptr, size_t bytes) override {
    std::lock_guard<std::mutex> lock(mutex_);
    free_[round_up(bytes)].push_back(ptr);
  }
  void release_cached() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
  }

 private:
  static constexpr size_t kAlignment = 64;  // a cache line; also the widest vector load (AVX-512)
  static size_t round_up(size_t bytes) { return (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment; }
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
};

struct DeviceTable {
  CachingCpuAllocator cpu_allocator;
  Allocator* allocators[2] = {&cpu_allocator, nullptr};
  CopyFunction copiers[2][2] = {{nullptr, nullptr}, {nullptr, nullptr}};
};

DeviceTable& table() {
  static DeviceTable t;
  return t;
}

int slot(DeviceType t) { return static_cast<int>(t); }

}  // namespace

Allocator& allocator_for(DeviceType type) {
  Allocator* a = table().allocators[slot(type)];
  QUILL_CHECK(a != nullptr, "no ", type == DeviceType::Cuda ? "CUDA" : "CPU",
              " device: this build or this machine has no GPU backend");
  return *a;
}

void set_allocator(DeviceType type, Allocator* allocator) { table().allocators[slot(type)] = allocator; }

bool device_available(DeviceType type) { return table().allocators[slot(type)] != nullptr; }

namespace {
std::string& unavailable_reason_of(DeviceType type) {
  static std::string reasons[2] = {
      "", "this build has no CUDA backend (the CUDA toolkit was not found when it was configured)"};
  return reasons[slot(type)];
}
}  // namespace

std::string device_unavailable_reason(DeviceType type) {
  return device_available(type) ? std::string() : unavailable_reason_of(type);
}

void set_device_unavailable_reason(DeviceType type, std::string reason) {
  unavailable_reason_of(type) = std::move(reason);
}

namespace {
DeviceDescription& description_of(DeviceType type) {
  static DeviceDescription descriptions[2] = {{"cpu", false}, {"", false}};
  return descriptions[slot(type)];
}
}  // namespace

DeviceDescription device_description(DeviceType type) { return description_of(type); }

void set_device_description(DeviceType type, DeviceDescription description) {
  description_of(type) = std::move(description);
}

void set_copy_function(DeviceType a, DeviceType b, CopyFunction fn) {
  table().copiers[slot(a)][slot(b)] = fn;
  table().copiers[slot(b)][slot(a)] = fn;
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  CopyFunction fn = table().copiers[slot(dst_device.type)][slot(src_device.type)];
  QUILL_CHECK(fn != nullptr, "no copy function from ", src_device.str(), " to ", dst_device.str());
  fn(dst, dst_device, src, src_device, bytes);
}

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = allocator_for(device.type).allocate(bytes);
}

Storage::~Storage() { allocator_for(device_.type).deallocate(data_, bytes_); }

}  // namespace quill
