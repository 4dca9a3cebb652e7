#pragma once
// The math mode of the cuDNN backend as the op benchmark switches it: strict float32, or TF32 tensor cores
// allowed in convolutions (kernels/cudnn/settings.h). The custom CUDA kernels and the CPU have no TF32 path.
namespace quill {

// Sets the cuDNN backend's TF32 switch, keeping its other settings. Does nothing in builds without cuDNN.
void set_cudnn_tf32(bool on);

}  // namespace quill
