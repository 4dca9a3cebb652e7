#pragma once
// What every fuzz target shares: quill::Error is how Quill refuses bad input, so it is caught; anything
// else that escapes (std::bad_alloc, std::out_of_range, a JSON exception) reaches libFuzzer as a crash.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/storage.h"

namespace quill::fuzz {

template <class Body>
int refusing_errors(Body body) {
  try {
    body();
  } catch (const quill::Error&) {
    // Bad input, refused with a message: the intended outcome for most inputs.
  }
  return 0;
}

// The 62 class names of an EMNIST ByClass model (0-9, A-Z, a-z), for targets that read text with one.
inline const std::vector<std::string>& byclass_classes() {
  static const std::vector<std::string> classes = [] {
    std::vector<std::string> v;
    for (char ch = '0'; ch <= '9'; ++ch) v.push_back(std::string(1, ch));
    for (char ch = 'A'; ch <= 'Z'; ++ch) v.push_back(std::string(1, ch));
    for (char ch = 'a'; ch <= 'z'; ++ch) v.push_back(std::string(1, ch));
    return v;
  }();
  return classes;
}

inline std::string text_of(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Tensors on the CPU, refused as too large beyond 64 MB: a description may ask for billions of parameters,
// legitimately, and building them would only make the fuzzer slow or trip its malloc limit. Installed by
// targets that build networks, in LLVMFuzzerInitialize (before any tensor exists).
class BoundedCpuAllocator final : public quill::Allocator {
 public:
  static constexpr size_t kMaxBytes = size_t(64) << 20;
  void* allocate(size_t bytes) override {
    if (bytes > kMaxBytes) quill::fail("fuzz: a tensor of ", bytes, " bytes is over the fuzzing budget");
    void* p = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
    if (p == nullptr) __builtin_trap();
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
};

inline void bound_cpu_tensors() {
  static BoundedCpuAllocator allocator;
  quill::set_allocator(quill::DeviceType::Cpu, &allocator);
}

// Formats with checksums would refuse almost every mutation at the checksum, so targets repair them first
// and the fuzzer reaches what comes after (the checks of the checksums have their own unit tests).
inline uint32_t crc32_of(const uint8_t* data, size_t size) {
  return uint32_t(crc32(0, data, uInt(size)));
}

// PNG bytes with the CRC of every whole chunk after the signature rewritten.
inline std::vector<uint8_t> with_chunk_crcs(const uint8_t* data, size_t size) {
  std::vector<uint8_t> png(data, data + size);
  size_t at = 8;
  while (at + 12 <= png.size()) {
    const uint64_t length = uint64_t(png[at]) << 24 | png[at + 1] << 16 | png[at + 2] << 8 | png[at + 3];
    if (length > png.size() - at - 12) break;
    const uint32_t crc = crc32_of(&png[at + 4], size_t(length) + 4);
    for (int i = 0; i < 4; ++i) png[at + 8 + length + i] = uint8_t(crc >> (24 - 8 * i));  // big-endian
    at += 12 + size_t(length);
  }
  return png;
}

}  // namespace quill::fuzz
