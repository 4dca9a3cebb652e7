#pragma once
// The CUDA kernels of the *_indirect ops and accumulate_loss (runtime/ops.h): the same kernels as
// cuda_kernels.h's dropout and optimizers, with the values that change every training step read from
// step_values (a device pointer to kStepValueCount doubles, kernels/step_values.h) when they run, so that a
// step replayed from a CUDA graph gets each step's values. T is float or double; calls queue on stream().
#include <cstdint>

#include "runtime/geometry.h"

namespace quill::cuda {

// Dropout (forward, and backward, which is the same map) with stream dropout_stream(step, node).
template <class T>
void dropout_indirect(int64_t n, double p, uint64_t seed, uint64_t node, const double* step_values, const T* x, T* y);

// sgd_step / adam_step with the learning rate (and Adam's bias corrections) from step_values.
template <class T>
void sgd_step_indirect(int64_t n, const SgdConfig& cfg, const double* step_values, T* param, const T* grad,
                       T* velocity /*null if no momentum*/);
template <class T>
void adam_step_indirect(int64_t n, const AdamConfig& cfg, const double* step_values, T* param, const T* grad, T* m,
                        T* v);

// sums[0] = fma(loss[0], n, sums[0]); sums[1] += correct[0].
template <class T>
void accumulate_loss(const T* loss, const int32_t* correct, int64_t n, double* sums);

}  // namespace quill::cuda
