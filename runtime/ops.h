#pragma once
// The ops of the engine at the tensor level. Each backend implements them over its device's tensors,
// in float32 and float64 (labels and argmax are int32). Outputs are overwritten, never accumulated.
// Call as ops::conv2d_forward(backend, geometry, x, w, &bias, y). Each op is declared here and defined with its
// shape contract in kernels/op_contracts.cpp (all_ops() lists them in that order). Not inline variables: every
// file that included this header would then compile every op's registry code (a third of a sanitizer build).
#include <cstdint>

#include "runtime/geometry.h"
#include "runtime/op.h"
#include "runtime/tensor.h"

namespace quill {

// Every tensor given to an op is defined and lives on its backend's device: a CUDA tensor reaching the CPU
// kernels (or the reverse) is an error here, before any kernel dereferences a pointer of the wrong memory.
// This is the one device check of every backend; optional tensors are pointers, and null passes.
inline void check_op_argument(const char* op, Backend backend, const Tensor& t) {
  QUILL_CHECK(t.defined(), op, ": undefined tensor");
  QUILL_CHECK(t.device().type == backend_device(backend), op, ": the ", backend_name(backend),
              " backend got a tensor on ", t.device().str());
}
inline void check_op_argument(const char* op, Backend backend, const Tensor* t) {
  if (t != nullptr) check_op_argument(op, backend, *t);
}
inline void check_op_argument(const char* op, Backend backend, Tensor* t) {
  if (t != nullptr) check_op_argument(op, backend, *t);
}

}  // namespace quill

namespace quill::ops {

// ---- convolution: x [n,c,h,w], w [k,c,r,s], bias [k] (nullable), y [n,k,p,q] ----
extern Op<void(const ConvGeometry&, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y)>
    conv2d_forward;
// conv2d_forward, then y = max(0, y): the fused convolution + ReLU of CPU inference (engine/inference_plan.h),
// bit for bit the two ops in turn. The GPU backends run it as those two ops (kernels/backends.cpp).
extern Op<void(const ConvGeometry&, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y)>
    conv2d_forward_relu;
extern Op<void(const ConvGeometry&, const Tensor& dy, const Tensor& w, Tensor& dx)>
    conv2d_backward_data;
extern Op<void(const ConvGeometry&, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* dbias)>
    conv2d_backward_weights;

// ---- pooling; argmax is int32 [n,c,p,q] ----
extern Op<void(const PoolGeometry&, const Tensor& x, Tensor& y, Tensor& argmax)> maxpool_forward;
extern Op<void(const PoolGeometry&, const Tensor& dy, const Tensor& argmax, Tensor& dx)>
    maxpool_backward;
extern Op<void(const PoolGeometry&, const Tensor& x, Tensor& y)> avgpool_forward;
extern Op<void(const PoolGeometry&, const Tensor& dy, Tensor& dx)> avgpool_backward;

// ---- element-wise ----
extern Op<void(Activation, double alpha, const Tensor& x, Tensor& y)> activation_forward;
extern Op<void(Activation, double alpha, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx)>
    activation_backward;
extern Op<void(const Tensor& a, const Tensor& b, Tensor& y)> add;
extern Op<void(double p, uint64_t seed, uint64_t stream, const Tensor& x, Tensor& y)>
    dropout_forward;
extern Op<void(double p, uint64_t seed, uint64_t stream, const Tensor& dy, Tensor& dx)>
    dropout_backward;
extern Op<void(Tensor& t, double value)> fill;

// ---- fully connected: x [n,in], w [out,in], b [out] (nullable), y [n,out] ----
extern Op<void(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y)> dense_forward;
// dx and db may be null.
extern Op<void(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw, Tensor* db)>
    dense_backward;

// ---- batch normalisation per channel of x [n,c,(h,w)] ----
extern Op<void(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum, Tensor& y,
               Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var)>
    batchnorm_forward_train;
extern Op<void(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
               const Tensor& running_var, double eps, Tensor& y)>
    batchnorm_forward_eval;
extern Op<void(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& save_mean,
               const Tensor& save_invstd, Tensor& dx, Tensor& dgamma, Tensor& dbeta)>
    batchnorm_backward;

// ---- softmax cross-entropy: logits [n,classes], labels int32 [n]; loss [1] = mean over the batch ----
extern Op<void(const Tensor& logits, const Tensor& labels, double smoothing, Tensor& probs, Tensor& loss)>
    softmax_xent_forward;
extern Op<void(const Tensor& probs, const Tensor& labels, double smoothing, Tensor& dlogits)>
    softmax_xent_backward;
// correct [1] int32 = number of rows whose arg-max equals the label.
extern Op<void(const Tensor& scores, const Tensor& labels, Tensor& correct)> count_correct;

// ---- optimizers, in place over flat buffers of equal size ----
extern Op<void(const SgdConfig&, Tensor& param, const Tensor& grad, Tensor& velocity)> sgd_step;
extern Op<void(const AdamConfig&, int64_t step, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v)>
    adam_step;

// ---- the same with the values that change every step read from memory (runtime/step_values.h) ----
// For a training step replayed from a CUDA graph: step_values is a float64 tensor [kStepValueCount] on the
// op's device, read when the kernel runs rather than when it is queued. Results are bit for bit those of
// the ops above given the same values.
// Dropout with stream dropout_stream(step_values[kStepNumber], node).
extern Op<void(double p, uint64_t seed, uint64_t node, const Tensor& step_values, const Tensor& x, Tensor& y)>
    dropout_forward_indirect;
extern Op<void(double p, uint64_t seed, uint64_t node, const Tensor& step_values, const Tensor& dy, Tensor& dx)>
    dropout_backward_indirect;
// sgd_step with the learning rate step_values[kStepLearningRate] (cfg.lr is ignored).
extern Op<void(const SgdConfig&, const Tensor& step_values, Tensor& param, const Tensor& grad, Tensor& velocity)>
    sgd_step_indirect;
// adam_step with the learning rate and the bias corrections of its step t from step_values (cfg.lr is ignored).
extern Op<void(const AdamConfig&, const Tensor& step_values, Tensor& param, const Tensor& grad, Tensor& m,
               Tensor& v)>
    adam_step_indirect;

// ---- a training epoch's running sums, kept on the device so that no step waits for the host ----
// The one op that accumulates: sums [2] float64 += (loss[0] * n, correct[0]) for the mean loss [1] of a
// batch of n and its correct count [1] int32. The product and sum are one fused multiply-add, as the host's
// `sum += loss * n` compiles for x86-64 with FMA.
extern Op<void(const Tensor& loss, const Tensor& correct, int64_t n, Tensor& sums)> accumulate_loss;

}  // namespace quill::ops
