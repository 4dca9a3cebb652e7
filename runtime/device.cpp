#include "runtime/device.h"

#include "runtime/error.h"

namespace quill {

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I32: return 4;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I32: return "int32";
  }
  return "?";
}

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::Cpu: return "cpu";
    case Backend::Cuda: return "cuda";
    case Backend::Cudnn: return "cudnn";
  }
  return "?";
}

Backend parse_backend(const std::string& name) {
  if (name == "cpu") return Backend::Cpu;
  if (name == "cuda" || name == "custom") return Backend::Cuda;
  if (name == "cudnn") return Backend::Cudnn;
  fail("unknown backend '", name, "' (expected cpu, cuda or cudnn)");
}

DeviceType backend_device(Backend b) { return b == Backend::Cpu ? DeviceType::Cpu : DeviceType::Cuda; }

}  // namespace quill
