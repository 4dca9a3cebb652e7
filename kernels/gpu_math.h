#pragma once
// The math mode of both GPU backends, switched together by `quill train --math` and `quill bench --ops
// --math`: strict float32 (the default), or TF32 tensor cores in the matrix products with float32
// accumulation. cuDNN: its convolutions may use tensor-op math (kernels/cudnn/settings.h). The custom
// kernels: the convolutions' three passes, dense layers and gemm run the TF32 WMMA kernel where it was
// compiled for sm_80 or later (kernels/cuda/settings.h). The CPU computes in float32 only. Every other op
// (pooling, activations, batch norm, the loss, the optimizers) is float32 in both modes.
#include <string>

#include "runtime/device.h"

namespace quill {

// Whether a run on `device` asks for TF32 (--math tf32 of train and bench); fp32 is the other mode. TF32 on
// the CPU, which computes in float32 only, is a one-line error rather than a silent float32 run.
bool tf32_requested(const std::string& math, Device device);

// Sets the TF32 switch of every GPU backend this build has, keeping their other settings.
void set_gpu_tf32(bool on);

// The switch as set_gpu_tf32() left it (false in builds without the GPU backends).
bool gpu_tf32();

// Whether the custom CUDA kernels have a TF32 tensor-core path here: a CUDA build, a device, and kernels
// compiled for sm_80 or later. Where false, --math tf32 leaves them in float32.
bool custom_tf32_available();

// How the cuDNN backend chooses convolution algorithms: by timing them on the real buffers (true, the
// default) or by cuDNN's heuristic ranking alone (kernels/cudnn/settings.h). No effect without cuDNN.
void set_cudnn_timed_search(bool timed);
bool cudnn_timed_search();

// The cuDNN library this process loaded ("9.19.0"; bench records it), "" in builds without cuDNN.
std::string cudnn_library_version();

// Sets one of the switches above for a scope and puts the previous value back at its end.
template <bool (*Get)(), void (*Set)(bool)>
class SwitchScope {
 public:
  explicit SwitchScope(bool on) : previous_(Get()) { Set(on); }
  ~SwitchScope() { Set(previous_); }
  SwitchScope(const SwitchScope&) = delete;
  SwitchScope& operator=(const SwitchScope&) = delete;

 private:
  bool previous_;
};

// The GPU math mode for a scope (true: TF32).
using GpuMathScope = SwitchScope<gpu_tf32, set_gpu_tf32>;
// The cuDNN algorithm search for a scope (false: the heuristic; tests of many shapes use it).
using CudnnSearchScope = SwitchScope<cudnn_timed_search, set_cudnn_timed_search>;

}  // namespace quill
