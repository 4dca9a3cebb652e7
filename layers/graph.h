#pragma once
// A network as a graph of layers. Each node takes named inputs (by default the node before it), so
// sequential CNNs and residual blocks are both plain graphs. Nodes run in topological order; their
// outputs are kept for backward and released as soon as nothing needs them.
#include <memory>
#include <string>
#include <vector>

#include "layers/layer.h"

namespace quill {

class Graph {
 public:
  static constexpr const char* kInput = "input";

  // Adds a node. inputs: names of earlier or later nodes, or "input"; empty means the previous node.
  void add(std::string name, std::unique_ptr<Layer> layer, std::vector<std::string> inputs = {});

  // Sets up every layer for per-sample input shape (e.g. [1, 28, 28]), allocates the parameters in one
  // flat buffer on the device and initialises them from the seed (He / Xavier, reproducible).
  void build(const Shape& input_shape, DType dtype, Device device, uint64_t seed);

  // Runs the nodes on a batch; returns the last node's output. Inference (ctx.training false) on the CPU
  // runs a batch larger than inference_chunk() in chunks of that many samples, with the same results.
  const Tensor& forward(const Context& ctx, const Tensor& input);
  // Samples per inference chunk on the CPU: the largest activation of a chunk is about
  // kInferenceChunkBytes (so a layer's input and output stay in the caches), and at least one sample per
  // thread.
  static constexpr int64_t kInferenceChunkBytes = int64_t(4) << 20;
  int64_t inference_chunk() const;
  // From the gradient of the last node's output, computes every parameter's gradient.
  // Requires a forward with ctx.training == true just before. When dinput is given, it receives the
  // gradient with respect to the graph's input too (gradient checks; saliency).
  void backward(const Context& ctx, const Tensor& doutput, Tensor* dinput = nullptr);

  // Moves parameters and buffers to another device.
  void to(Device device);

  bool built() const { return built_; }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return nodes_.back().shape; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  int64_t num_params() const { return flat_values_.defined() ? flat_values_.numel() : 0; }
  Tensor& flat_values() { return flat_values_; }
  Tensor& flat_grads() { return flat_grads_; }
  std::vector<Param*> params();
  std::vector<Tensor*> buffers();  // non-trained state (running statistics), in node order
  size_t size() const { return nodes_.size(); }
  Layer& layer(size_t i) { return *nodes_[i].layer; }
  const std::string& node_name(size_t i) const { return nodes_[i].name; }
  const Shape& node_shape(size_t i) const { return nodes_[i].shape; }
  // The names of node i's inputs, resolved: "input" (kInput) or earlier nodes' names. Needs build().
  std::vector<std::string> node_inputs(size_t i) const;

  // A table of nodes, shapes and parameter counts.
  std::string summary() const;

 private:
  struct Node {
    std::string name;
    std::unique_ptr<Layer> layer;
    std::vector<std::string> input_names;
    std::vector<int> inputs;  // node indices; -1 is the graph input
    Shape shape;              // per sample
    int consumers = 0;
    Tensor output, grad;
  };
  void resolve_inputs();
  void topological_sort();
  void allocate_params(uint64_t seed);
  const Tensor& input_of(int node_index) const;
  const Tensor& forward_nodes(const Context& ctx, const Tensor& input);

  std::vector<Node> nodes_;
  std::vector<int> order_;
  Shape input_shape_;
  DType dtype_ = DType::F32;
  Device device_;
  Tensor flat_values_, flat_grads_;
  Tensor chunked_output_;  // an inference batch's output, gathered from its chunks
  const Tensor* input_ = nullptr;
  int input_consumers_ = 0;
  bool built_ = false;
};

}  // namespace quill
