#pragma once
// The layer contract. A layer is built once for its per-sample input shapes (setup), which declares its
// parameters and returns its output shape; then forward and backward run on whole batches on the
// backend the graph chose. Shapes passed to setup exclude the batch dimension.
#include <memory>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "runtime/ops.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace quill {

// A trainable tensor and its gradient. The graph places all values (and all gradients) of a model in
// one flat buffer each, so optimizers update every parameter in one call.
struct Param {
  std::string name;     // "w", "b", "gamma", "beta"
  Shape shape;
  enum class Init { HeNormal, XavierUniform, Zeros, Ones } init = Init::Zeros;
  int64_t fan_in = 1, fan_out = 1;
  Tensor value, grad;
};

// One setting of a built layer (a conv's kernel, a dropout's rate, a batch norm's eps), for the machine-readable
// description of a network (engine/train_plan.h).
struct LayerAttribute {
  std::string name;
  std::variant<int64_t, double, bool, std::string> value;
};

// What a step needs to know besides the tensors.
struct Context {
  Backend backend = Backend::Cpu;
  bool training = false;
  uint64_t seed = 0;  // for dropout masks: the mask of a node is drawn from (seed, step, node index)
  uint64_t step = 0;
  // When set, the step is read from this float64 tensor on the graph's device when the kernels run
  // (runtime/step_values.h) and `step` is not used: a training step recorded once and replayed from a
  // CUDA graph (engine/train_step.h).
  const Tensor* step_values = nullptr;
};

class Layer {
 public:
  virtual ~Layer() = default;

  // The description line this layer was parsed from (round-trips through the parser).
  virtual std::string describe() const = 0;
  // The layer's kind: the first word of its description ("conv", "maxpool", "leaky", "dense", ...).
  std::string kind() const;
  // Every setting that decides what the layer computes, as built (defaults filled in): what another framework
  // needs to build the same layer. Parameters (with their shapes and initialisation) are listed by params().
  virtual std::vector<LayerAttribute> attributes() const { return {}; }
  // Number of inputs the layer takes.
  virtual int arity() const { return 1; }

  // Checks the inputs' per-sample shapes and returns the output's. Throws quill::Error naming the
  // layer and the shapes when they don't fit. Declares params_.
  virtual Shape setup(const std::vector<Shape>& inputs) = 0;

  virtual void forward(const Context& ctx, const std::vector<const Tensor*>& inputs, Tensor& output) = 0;
  // dinputs[i] is null when that input needs no gradient (the graph input).
  virtual void backward(const Context& ctx, const std::vector<const Tensor*>& inputs, const Tensor& output,
                        const Tensor& doutput, const std::vector<Tensor*>& dinputs) = 0;

  // Whether backward reads the output (else the graph may release it after forward).
  virtual bool backward_needs_output() const { return false; }

  std::vector<Param>& params() { return params_; }
  // Non-trained state saved with the model (batch-norm running statistics).
  virtual std::vector<Tensor*> buffers() { return {}; }
  // Creates buffers on a device (called by the graph after setup and when moving the model).
  virtual void allocate_buffers(DType dtype, Device device) {}

  std::string name;       // node name in the graph, for messages
  uint64_t index = 0;     // node index, seeds per-node randomness
  int source_line = 0;    // line of the model description it came from (0: built in code)

 protected:
  Param& add_param(std::string param_name, Shape shape, Param::Init init, int64_t fan_in, int64_t fan_out);
  [[noreturn]] void shape_error(const std::string& what, const std::vector<Shape>& inputs) const;

  std::vector<Param> params_;
};

// Parses one description line (without the node-naming parts) into a layer.
// `classes` replaces the word "classes" (e.g. `dense classes`). Throws with the problem, no line number.
std::unique_ptr<Layer> make_layer(const std::vector<std::string>& words, int classes);

}  // namespace quill
