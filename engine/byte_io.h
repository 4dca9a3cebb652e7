#pragma once
// Little-endian binary encoding for model files: a writer appending to a byte vector and a reader that
// checks every read against the end of its buffer.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace quill {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "model files are written in the host's little-endian order");

class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void raw(const void* data, size_t size);
  void string(const std::string& s);  // u64 length, then the bytes
  // dtype (u8), rank (u8), dims (i64 each), then the elements; the tensor may live on any device.
  void tensor(const Tensor& t);

  // Sections: a 4-character tag, a u64 payload length, the payload.
  void begin_section(const char tag[4]);
  void end_section();

  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  size_t section_length_at_ = 0;
};

class ByteReader {
 public:
  // `what` names the data in errors ("model file 'm.quill'").
  ByteReader(const uint8_t* data, size_t size, std::string what) : data_(data), size_(size), what_(std::move(what)) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int64_t i64();
  void raw(void* out, size_t size);
  std::string string();
  Tensor tensor();  // on the CPU
  ByteReader sub(size_t size);  // the next `size` bytes as their own reader
  bool done() const { return pos_ == size_; }
  size_t remaining() const { return size_ - pos_; }
  [[noreturn]] void malformed(const std::string& why) const;

 private:
  const uint8_t* take(size_t size);
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string what_;
};

}  // namespace quill
