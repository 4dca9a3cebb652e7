// Binds the CPU reference kernels to the tensor-level ops of runtime/ops.h. Each kernel file binds its own
// ops, at its end (bind_*_ops, one line per op where the op's arguments map onto the kernel's: binding.h);
// the op registry has already checked every tensor's device and size (kernels/op_contracts.cpp).
#include "kernels/backends.h"

namespace quill {
namespace cpu {
void bind_convolution_ops();  // conv2d.cpp
void bind_pooling_ops();      // pool.cpp
void bind_elementwise_ops();  // elementwise.cpp: activations, add, dropout, fill
void bind_dense_ops();        // dense.cpp
void bind_batchnorm_ops();    // batchnorm.cpp
void bind_loss_ops();         // softmax_xent.cpp: the loss, count_correct, accumulate_loss
void bind_optimizer_ops();    // optimizers.cpp
}  // namespace cpu

void register_cpu_ops() {
  cpu::bind_convolution_ops();
  cpu::bind_pooling_ops();
  cpu::bind_elementwise_ops();
  cpu::bind_dense_ops();
  cpu::bind_batchnorm_ops();
  cpu::bind_loss_ops();
  cpu::bind_optimizer_ops();
}

}  // namespace quill
