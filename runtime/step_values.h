#pragma once
// The values of a training step that change from one step to the next, in the form kernels read them from
// memory: a float64 tensor of kStepValueCount elements on the op's device. A step recorded once as a CUDA
// graph (runtime/step_graph.h) replays its kernels with the launch arguments of the recording, so there
// these values cannot be launch arguments; the host writes them before each replay (engine/train_step.h) and
// the *_indirect ops of runtime/ops.h read them. The formulas below are shared by the direct and the
// indirect paths, so a replayed step computes with the very bits an eagerly launched one does.
#include <cmath>
#include <cstdint>

#include "runtime/rng.h"  // QUILL_HD

namespace quill {

enum StepValue : int {
  kStepNumber = 0,        // the trainer's step (Context::step), for dropout masks; exact in a double below 2^53
  kStepLearningRate = 1,  // the optimizer's learning rate
  kStepCorrection1 = 2,   // Adam's bias corrections 1 - beta1^t and 1 - beta2^t of the update's step t
  kStepCorrection2 = 3,
  kStepValueCount = 4,
};

// Adam's bias correction 1 - beta^t.
inline double adam_bias_correction(double beta, int64_t t) { return 1.0 - std::pow(beta, double(t)); }

// The random stream of node `node`'s dropout mask at training step `step`: a fresh mask every step and node.
QUILL_HD uint64_t dropout_stream(uint64_t step, uint64_t node) { return (step << 16) ^ node; }

}  // namespace quill
