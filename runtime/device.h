#pragma once
// Where a tensor's memory lives, what its elements are, and which backend runs an op.
#include <cstddef>
#include <cstdint>
#include <string>

namespace quill {

enum class DeviceType : uint8_t { Cpu, Cuda };

struct Device {
  DeviceType type = DeviceType::Cpu;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::Cuda, i}; }
  bool is_cpu() const { return type == DeviceType::Cpu; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

enum class DType : uint8_t { F32, F64, I32 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::F32; }
template <>
constexpr DType dtype_of<double>() { return DType::F64; }
template <>
constexpr DType dtype_of<int32_t>() { return DType::I32; }

// An implementation family of the ops. cudnn ops run on CUDA tensors.
enum class Backend : uint8_t { Cpu, Cuda, Cudnn };
constexpr int kBackendCount = 3;

const char* backend_name(Backend b);
Backend parse_backend(const std::string& name);  // "cpu", "cuda", "cudnn"
DeviceType backend_device(Backend b);

}  // namespace quill
