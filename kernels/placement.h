#pragma once
// Where a command computes: the device from --device (auto, cpu, cuda) and the op backend from
// --backend (custom kernels or cuDNN on CUDA).
#include <string>

#include "runtime/device.h"

namespace quill {

struct Placement {
  Device device = Device::cpu();
  Backend backend = Backend::Cpu;
  std::string str() const;  // "cpu", "cuda:0 (custom CUDA kernels)", ...
};

// auto: CUDA when a GPU is usable, else the CPU (also in a build for the CPU emulation of CUDA: its device is
// used when asked for by name only). cuda without one is an error. Call init_backends() first.
Placement choose_placement(const std::string& device, const std::string& backend = "custom");

// Whether the CUDA device and backend are there (a GPU, or the CPU emulation of CUDA).
bool gpu_usable();
// Whether --device auto takes the CUDA device: it is there and is a GPU, not the emulation.
bool gpu_for_auto();

// --cuda-graph on|off: whether training steps are replayed from a CUDA graph. on needs the CUDA device.
bool use_cuda_graph(const std::string& option, const Placement& placement);

}  // namespace quill
