#include "layers/optimizer.h"

#include "runtime/step_values.h"

namespace quill {

Optimizer::Optimizer(const OptimizerConfig& cfg, Graph& graph) : cfg_(cfg), graph_(graph) {
  QUILL_CHECK(cfg.kind == "sgd" || cfg.kind == "adam" || cfg.kind == "adamw", "unknown optimizer '", cfg.kind,
              "' (expected sgd, adam or adamw)");
  QUILL_CHECK(graph.built(), "the optimizer needs a built graph");
  const Shape shape = graph.flat_values().shape();
  slot1_ = Tensor::zeros(shape, graph.dtype(), graph.device());
  if (cfg.kind != "sgd") slot2_ = Tensor::zeros(shape, graph.dtype(), graph.device());
}

namespace {

// The kernels' settings of an optimizer configuration; the learning rate is left to the caller (a launch
// argument of the direct ops, a step value of the indirect ones).
SgdConfig sgd_config(const OptimizerConfig& cfg) {
  SgdConfig c;
  c.momentum = cfg.momentum;
  c.nesterov = cfg.nesterov;
  c.weight_decay = cfg.weight_decay;
  return c;
}

AdamConfig adam_config(const OptimizerConfig& cfg) {
  AdamConfig c;
  c.beta1 = cfg.beta1;
  c.beta2 = cfg.beta2;
  c.eps = cfg.eps;
  c.weight_decay = cfg.weight_decay;
  c.decoupled_weight_decay = cfg.kind == "adamw";
  return c;
}

}  // namespace

void Optimizer::step(Backend backend, double lr) {
  ++steps_;
  if (cfg_.kind == "sgd") {
    SgdConfig c = sgd_config(cfg_);
    c.lr = lr;
    ops::sgd_step(backend, c, graph_.flat_values(), graph_.flat_grads(), slot1_);
  } else {
    AdamConfig c = adam_config(cfg_);
    c.lr = lr;
    ops::adam_step(backend, c, steps_, graph_.flat_values(), graph_.flat_grads(), slot1_, slot2_);
  }
}

void Optimizer::count_step(double lr, double* values) {
  ++steps_;
  values[kStepLearningRate] = lr;
  values[kStepCorrection1] = adam_bias_correction(cfg_.beta1, steps_);  // unused by sgd
  values[kStepCorrection2] = adam_bias_correction(cfg_.beta2, steps_);
}

void Optimizer::queue_step(Backend backend, const Tensor& values) {
  if (cfg_.kind == "sgd")
    ops::sgd_step_indirect(backend, sgd_config(cfg_), values, graph_.flat_values(), graph_.flat_grads(), slot1_);
  else
    ops::adam_step_indirect(backend, adam_config(cfg_), values, graph_.flat_values(), graph_.flat_grads(), slot1_,
                            slot2_);
}

std::vector<Tensor*> Optimizer::state() {
  std::vector<Tensor*> out{&slot1_};
  if (slot2_.defined()) out.push_back(&slot2_);
  return out;
}

void Optimizer::to(Device device) {
  slot1_ = slot1_.to(device);
  if (slot2_.defined()) slot2_ = slot2_.to(device);
}

}  // namespace quill
