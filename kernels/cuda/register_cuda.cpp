// Binds the CUDA kernels to the tensor-level ops of runtime/ops.h and installs the device runtime. Each
// kernel file binds its own ops, at its end (bind_*_ops, one line per op where the op's arguments map onto
// the kernel's: kernels/binding.h). The op registry has already checked every tensor's size
// (kernels/op_contracts.cpp) and that it lives on the GPU (a host pointer handed to a kernel would fault
// asynchronously, far from the cause). The ops that run matrix products read the backend's math mode
// (kernels/cuda/settings.h) at every call.
#include "kernels/backends.h"
#include "kernels/cuda/device_runtime.h"
#include "runtime/storage.h"

namespace quill {
namespace cuda {
void bind_convolution_ops();    // conv2d.cu
void bind_pooling_ops();        // pool.cu
void bind_elementwise_ops();    // activation.cu: activations, add, fill
void bind_dropout_ops();        // dropout.cu, with the replayed step's dropout_*_indirect
void bind_dense_ops();          // dense.cu
void bind_batchnorm_ops();      // batchnorm.cu
void bind_loss_ops();           // softmax_xent.cu
void bind_count_correct_ops();  // count_correct.cu
void bind_optimizer_ops();      // optimizers.cu, with the replayed step's *_step_indirect
void bind_step_stats_ops();     // step_stats.cu: accumulate_loss
}  // namespace cuda

void register_cuda_ops() {
  cuda::install_device_runtime();  // ops are defined either way; without a device no tensor can reach them
  set_device_unavailable_reason(DeviceType::Cuda, cuda::unavailable_reason());
  cuda::bind_convolution_ops();
  cuda::bind_pooling_ops();
  cuda::bind_elementwise_ops();
  cuda::bind_dropout_ops();
  cuda::bind_dense_ops();
  cuda::bind_batchnorm_ops();
  cuda::bind_loss_ops();
  cuda::bind_count_correct_ops();
  cuda::bind_optimizer_ops();
  cuda::bind_step_stats_ops();
}

}  // namespace quill
