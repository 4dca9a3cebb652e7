#include "runtime/host_staging.h"

#include <cstdint>

#include "runtime/error.h"
#include "runtime/storage.h"

namespace quill {
namespace {

const AsyncUploadHooks* g_hooks[2] = {nullptr, nullptr};

constexpr size_t kAlignment = 64;

}  // namespace

void set_async_upload_hooks(DeviceType type, const AsyncUploadHooks* hooks) { g_hooks[int(type)] = hooks; }
const AsyncUploadHooks* async_upload_hooks(DeviceType type) { return g_hooks[int(type)]; }

HostStaging::HostStaging(Device device, size_t bytes, int slots)
    : device_(device), bytes_(bytes), hooks_(device.is_cpu() ? nullptr : async_upload_hooks(device.type)) {
  QUILL_CHECK(slots >= 1, "staging needs at least one slot");
  slots_.resize(size_t(slots));
  try {
    for (Slot& s : slots_) {
      if (hooks_ != nullptr) {
        s.memory = hooks_->allocate_pinned(bytes_ == 0 ? 1 : bytes_);
        s.fence = hooks_->create_fence();
      } else {
        plain_.emplace_back(new unsigned char[bytes_ + kAlignment]);
        const uintptr_t raw = reinterpret_cast<uintptr_t>(plain_.back().get());
        s.memory = reinterpret_cast<void*>((raw + kAlignment - 1) / kAlignment * kAlignment);
      }
    }
  } catch (...) {
    release();
    throw;
  }
}

HostStaging::~HostStaging() { release(); }

void HostStaging::release() noexcept {
  if (hooks_ == nullptr) return;
  for (Slot& s : slots_) {
    if (s.fence != nullptr) {
      try {
        hooks_->wait_fence(s.fence);  // the device may still be copying from the slot
      } catch (...) {
        // a failed device reports its error elsewhere; the memory is released anyway
      }
      hooks_->destroy_fence(s.fence);
      s.fence = nullptr;
    }
    if (s.memory != nullptr) hooks_->free_pinned(s.memory);
    s.memory = nullptr;
  }
}

void* HostStaging::next() {
  current_ = (current_ + 1) % int(slots_.size());
  Slot& s = slots_[size_t(current_)];
  if (hooks_ != nullptr) hooks_->wait_fence(s.fence);
  return s.memory;
}

void HostStaging::upload(void* dst, size_t offset, size_t bytes) {
  QUILL_CHECK(current_ >= 0, "upload before next()");
  QUILL_CHECK(offset + bytes <= bytes_, "upload of ", bytes, " bytes at ", offset, " overruns a staging slot of ",
              bytes_, " bytes");
  if (bytes == 0) return;
  const void* src = static_cast<const unsigned char*>(slots_[size_t(current_)].memory) + offset;
  if (hooks_ != nullptr)
    hooks_->upload(dst, src, bytes);
  else
    copy_bytes(dst, device_, src, Device::cpu(), bytes);
}

void HostStaging::fence() {
  QUILL_CHECK(current_ >= 0, "fence before next()");
  if (hooks_ != nullptr) hooks_->record_fence(slots_[size_t(current_)].fence);
}

}  // namespace quill
