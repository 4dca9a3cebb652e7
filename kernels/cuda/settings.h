#pragma once
// Run-time settings of the custom CUDA backend, the counterpart of the cuDNN backend's
// (kernels/cudnn/settings.h). Not a hidden global mode: register_cuda_ops() binds the ops that run matrix
// products (the three convolution passes, dense forward and backward) to one SettingsStore
// (backend_settings()), each call reads it and hands the kernels its math mode as an argument, so a program
// switches modes by calling backend_settings()->set(...) explicitly. Plain C++: the apps include it too.
#include <memory>

#include "runtime/settings_store.h"

namespace quill::cuda {

// How the float32 matrix products (gemm, conv forward / backward-data / backward-weights, dense) compute.
enum class Math {
  Fp32,  // SIMT FMA kernels: strict float32, within float32 rounding of the CPU reference
  Tf32,  // tensor cores: inputs rounded to TF32 (10-bit mantissa), products summed in float32
};

struct Settings {
  // false: strict float32. true: Math::Tf32, where the kernels were compiled for sm_80 or later
  // (tf32_tensor_cores()); elsewhere the SIMT kernels run and the switch changes nothing. float64 always
  // runs the SIMT kernels.
  bool tf32 = false;
  Math math() const { return tf32 ? Math::Tf32 : Math::Fp32; }
};

using SettingsStore = ::quill::SettingsStore<Settings>;

// The store the registered cuda ops read (created on first use; register_cuda_ops() captures it).
const std::shared_ptr<SettingsStore>& backend_settings();

// Whether Math::Tf32 runs on tensor cores here: a device is present and the kernels it runs were compiled
// for sm_80 or later (TF32 WMMA does not exist before Ampere). Decided once, on the first call.
bool tf32_tensor_cores();

}  // namespace quill::cuda
