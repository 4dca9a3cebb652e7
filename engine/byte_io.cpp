#include "engine/byte_io.h"

namespace quill {

void ByteWriter::raw(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  bytes_.insert(bytes_.end(), p, p + size);
}

void ByteWriter::string(const std::string& s) {
  u64(s.size());
  raw(s.data(), s.size());
}

void ByteWriter::tensor(const Tensor& t) {
  const Tensor host = t.to(Device::cpu());
  u8(static_cast<uint8_t>(host.dtype()));
  u8(static_cast<uint8_t>(host.shape().rank()));
  for (int i = 0; i < host.shape().rank(); ++i) i64(host.dim(i));
  raw(host.raw(), host.bytes());
}

void ByteWriter::begin_section(const char tag[4]) {
  raw(tag, 4);
  section_length_at_ = bytes_.size();
  u64(0);  // patched by end_section
}

void ByteWriter::end_section() {
  const uint64_t length = bytes_.size() - section_length_at_ - sizeof(uint64_t);
  std::memcpy(bytes_.data() + section_length_at_, &length, sizeof length);
}

const uint8_t* ByteReader::take(size_t size) {
  if (size > size_ - pos_) malformed("a field runs past the end of its section");
  const uint8_t* p = data_ + pos_;
  pos_ += size;
  return p;
}

void ByteReader::malformed(const std::string& why) const { throw Error(what_ + " is malformed: " + why); }

uint8_t ByteReader::u8() { return *take(1); }

uint32_t ByteReader::u32() {
  uint32_t v;
  std::memcpy(&v, take(sizeof v), sizeof v);
  return v;
}

uint64_t ByteReader::u64() {
  uint64_t v;
  std::memcpy(&v, take(sizeof v), sizeof v);
  return v;
}

int64_t ByteReader::i64() {
  int64_t v;
  std::memcpy(&v, take(sizeof v), sizeof v);
  return v;
}

void ByteReader::raw(void* out, size_t size) { std::memcpy(out, take(size), size); }

std::string ByteReader::string() {
  const uint64_t n = u64();
  if (n > remaining()) malformed("a string is longer than its section");
  const uint8_t* p = take(n);
  return std::string(reinterpret_cast<const char*>(p), n);
}

Tensor ByteReader::tensor() {
  const uint8_t dtype = u8();
  if (dtype > static_cast<uint8_t>(DType::I32)) malformed("unknown tensor type " + std::to_string(dtype));
  const int rank = u8();
  if (rank < 1 || rank > Shape::kMaxRank) malformed("tensor rank " + std::to_string(rank) + " is out of range");
  Shape shape;
  uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const int64_t d = i64();
    if (d < 0 || d > int64_t(1) << 40) malformed("tensor dimension " + std::to_string(d) + " is out of range");
    // The product must fit Shape::numel's int64 even where a later dimension is 0.
    if (d > 0 && count > uint64_t(INT64_MAX) / uint64_t(d)) malformed("tensor shape " + shape.str() + " x " +
                                                                      std::to_string(d) + " is too large");
    shape.push_back(d);
    count *= uint64_t(d);
  }
  const DType type = static_cast<DType>(dtype);
  if (count > remaining() / dtype_size(type)) malformed("tensor data is shorter than its shape " + shape.str());
  Tensor t = Tensor::empty(shape, type);
  raw(t.raw(), t.bytes());
  return t;
}

ByteReader ByteReader::sub(size_t size) {
  const uint8_t* p = take(size);
  return ByteReader(p, size, what_);
}

}  // namespace quill
