#pragma once
// Where a command computes: the device from --device (auto, cpu, cuda) and the op backend from
// --backend (custom kernels or cuDNN on CUDA).
#include <string>

#include "runtime/device.h"

namespace quill {

struct Placement {
  Device device = Device::cpu();
  Backend backend = Backend::Cpu;
  std::string str() const;  // "cpu", "cuda:0 (custom kernels)", ...
};

// auto: CUDA when a GPU is usable, else the CPU. cuda without one is an error. Call init_backends() first.
Placement choose_placement(const std::string& device, const std::string& backend = "custom");

// --cuda-graph on|off: whether training steps are replayed from a CUDA graph. on needs the CUDA device.
bool use_cuda_graph(const std::string& option, const Placement& placement);

}  // namespace quill
