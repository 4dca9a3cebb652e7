#pragma once
// Optimizers update all of a graph's parameters in one call over its flat parameter buffer.
#include <memory>
#include <string>
#include <vector>

#include "runtime/geometry.h"
#include "layers/graph.h"

namespace quill {

struct OptimizerConfig {
  std::string kind = "adamw";  // sgd, adam, adamw
  double momentum = 0.9;       // sgd
  bool nesterov = true;        // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam(w)
  double weight_decay = 0.0;
};

class Optimizer {
 public:
  Optimizer(const OptimizerConfig& cfg, Graph& graph);
  // One update with learning rate lr from the gradients in graph.flat_grads().
  void step(Backend backend, double lr);

  // The same update split for a step replayed from a CUDA graph (engine/train_step.h), whose kernels read
  // the values that change every step from memory (runtime/step_values.h). count_step counts the next
  // update, as step() does, and writes the values it reads into values[kStepLearningRate..]: lr and, for
  // Adam, the bias corrections of the new step count. queue_step queues the update reading them from
  // `values` on the device when it runs; it counts nothing, so it can be recorded once and replayed.
  void count_step(double lr, double* values);
  void queue_step(Backend backend, const Tensor& values);

  int64_t steps() const { return steps_; }
  const OptimizerConfig& config() const { return cfg_; }
  // Optimizer state, for checkpoints: the step count is stored separately.
  std::vector<Tensor*> state();
  void set_steps(int64_t steps) { steps_ = steps; }
  // Moves the state along with the graph.
  void to(Device device);

 private:
  OptimizerConfig cfg_;
  Graph& graph_;
  Tensor slot1_, slot2_;  // sgd: velocity; adam: first and second moments
  int64_t steps_ = 0;
};

}  // namespace quill
