#pragma once
// A dense, row-major (NCHW) tensor of up to 4 dimensions: a view of reference-counted storage.
// Copies of a Tensor share storage; clone() and to() copy the data.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/storage.h"

namespace quill {

class Shape {
 public:
  static constexpr int kMaxRank = 4;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  template <class It>
  Shape(It begin, It end) {
    for (; begin != end; ++begin) push_back(*begin);
  }

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  int64_t numel() const;
  void push_back(int64_t d);
  // The same shape with a new leading dimension (the batch).
  Shape with_batch(int64_t n) const;
  // The shape without its leading dimension.
  Shape drop_batch() const;
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "[3, 5, 7, 9]"

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i]; }
  int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  size_t bytes() const { return size_t(numel()) * dtype_size(dtype_); }

  // Typed pointer to the first element (a device pointer for GPU tensors). Checks the type.
  template <class T>
  T* data() const {
    QUILL_CHECK(dtype_of<T>() == dtype_, "tensor holds ", dtype_name(dtype_), ", accessed as ",
                dtype_name(dtype_of<T>()));
    return static_cast<T*>(raw());
  }
  void* raw() const;

  // Same data, another shape with the same element count.
  Tensor view(const Shape& shape) const;
  // Rows [begin, end) of the leading dimension, without copying.
  Tensor slice(int64_t begin, int64_t end) const;

  Tensor clone() const;
  Tensor to(Device device) const;        // copy to a device (returns *this if already there)
  Tensor cast(DType dtype) const;        // CPU only: converted copy
  void copy_from(const Tensor& src);     // same shape and dtype, any devices
  void fill(double value);               // CPU tensors only; GPU tensors use the fill op
  double item(int64_t i = 0) const;      // one element as double (copies from the device if needed)

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::F32;
};

// Allocates t unless it already has this shape, dtype and device: for buffers reused step after step.
void ensure(Tensor& t, const Shape& shape, DType dtype, Device device);

// Requires equal shapes; the message names what is checked.
void check_same_shape(const Tensor& a, const Tensor& b, const char* what);

}  // namespace quill
