#include "runtime/tensor.h"

#include <cstring>
#include <sstream>

namespace quill {

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) push_back(d);
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

void Shape::push_back(int64_t d) {
  QUILL_CHECK(rank_ < kMaxRank, "tensors have at most ", kMaxRank, " dimensions");
  QUILL_CHECK(d >= 0, "negative dimension ", d);
  dims_[rank_++] = d;
}

Shape Shape::with_batch(int64_t n) const {
  Shape s{n};
  for (int i = 0; i < rank_; ++i) s.push_back(dims_[i]);
  return s;
}

Shape Shape::drop_batch() const {
  Shape s;
  for (int i = 1; i < rank_; ++i) s.push_back(dims_[i]);
  return s;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << '[';
  for (int i = 0; i < rank_; ++i) os << (i ? ", " : "") << dims_[i];
  os << ']';
  return os.str();
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(size_t(shape.numel()) * dtype_size(dtype), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, Device::cpu());
  std::memset(t.raw(), 0, t.bytes());
  return device.is_cpu() ? t : t.to(device);
}

void* Tensor::raw() const {
  QUILL_CHECK(storage_ != nullptr, "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

Tensor Tensor::view(const Shape& shape) const {
  QUILL_CHECK(shape.numel() == numel(), "cannot view a tensor of shape ", shape_.str(), " as ", shape.str());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  QUILL_CHECK(shape_.rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "slice [", begin, ", ", end,
              ") out of range for shape ", shape_.str());
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.offset_ += begin * (shape_[0] ? numel() / shape_[0] : 0);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::cast(DType dtype) const {
  QUILL_CHECK(device().is_cpu(), "cast is a CPU operation");
  Tensor t = empty(shape_, dtype);
  const int64_t n = numel();
  auto convert = [&](auto* dst) {
    using D = std::remove_pointer_t<decltype(dst)>;
    switch (dtype_) {
      case DType::F32: for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(data<float>()[i]); break;
      case DType::F64: for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(data<double>()[i]); break;
      case DType::I32: for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(data<int32_t>()[i]); break;
    }
  };
  switch (dtype) {
    case DType::F32: convert(t.data<float>()); break;
    case DType::F64: convert(t.data<double>()); break;
    case DType::I32: convert(t.data<int32_t>()); break;
  }
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  check_same_shape(*this, src, "copy");
  QUILL_CHECK(dtype_ == src.dtype_, "copy from ", dtype_name(src.dtype_), " to ", dtype_name(dtype_));
  copy_bytes(raw(), device(), src.raw(), src.device(), bytes());
}

void Tensor::fill(double value) {
  QUILL_CHECK(device().is_cpu(), "Tensor::fill is for CPU tensors");
  const int64_t n = numel();
  switch (dtype_) {
    case DType::F32: { float* p = data<float>(); for (int64_t i = 0; i < n; ++i) p[i] = float(value); break; }
    case DType::F64: { double* p = data<double>(); for (int64_t i = 0; i < n; ++i) p[i] = value; break; }
    case DType::I32: { int32_t* p = data<int32_t>(); for (int64_t i = 0; i < n; ++i) p[i] = int32_t(value); break; }
  }
}

double Tensor::item(int64_t i) const {
  QUILL_CHECK(0 <= i && i < numel(), "item ", i, " out of range for shape ", shape_.str());
  const size_t size = dtype_size(dtype_);
  alignas(8) unsigned char value[8];
  copy_bytes(value, Device::cpu(), static_cast<const char*>(raw()) + i * size, device(), size);
  switch (dtype_) {
    case DType::F32: { float f; std::memcpy(&f, value, 4); return f; }
    case DType::F64: { double d; std::memcpy(&d, value, 8); return d; }
    case DType::I32: { int32_t k; std::memcpy(&k, value, 4); return k; }
  }
  return 0;
}

void ensure(Tensor& t, const Shape& shape, DType dtype, Device device) {
  if (t.defined() && t.shape() == shape && t.dtype() == dtype && t.device() == device) return;
  t = Tensor::empty(shape, dtype, device);
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  QUILL_CHECK(a.shape() == b.shape(), what, ": shapes differ, ", a.shape().str(), " vs ", b.shape().str());
}

}  // namespace quill
