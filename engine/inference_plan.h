#pragma once
// CPU inference of a built graph, planned once: the same function as the graph's eval-mode forward
// (Context{training = false}), computed with fewer passes over memory.
//   - An eval-mode batch norm right after a convolution or dense layer (the only consumer of its output) is
//     folded into a copy of that layer's weights and bias: w' = w * s, b' = (b - mean) * s + beta with
//     s = gamma / sqrt(var + eps), per output channel (computed in double, rounded once).
//   - A ReLU right after such a convolution (or its folded batch norm) is applied as the convolution writes its
//     output (ops::conv2d_forward_relu); after a dense layer, in place on its output.
//   - Dropout (the identity in eval mode) is skipped: its consumers read its input.
// Every other node runs its own layer's eval forward. The graph's trained weights are read, never changed;
// the plan keeps folded copies, so a change to the graph's weights afterwards needs a new plan.
// Results differ from Graph::forward only by float rounding (the folded weights are rounded, and the
// products summed differ); tests/test_inference_plan.cpp bounds the difference.
//
// Who uses it: `quill bench --inference` and the Classifier on the CPU (`quill predict`, `quill read`,
// `quill serve`). `quill eval` and validation during training run Graph::forward (docs/ARCHITECTURE.md).
#include <string>
#include <vector>

#include "layers/graph.h"
#include "runtime/geometry.h"
#include "runtime/tensor.h"

namespace quill {

class InferencePlan {
 public:
  // graph: built, on the CPU; it must outlive the plan (layers that are not folded run from it).
  explicit InferencePlan(Graph& graph);

  // The graph's eval-mode output for a batch [n, input shape...] of the graph's dtype on the CPU. Large
  // batches run in chunks of graph.inference_chunk() samples, as Graph::forward does. The result is valid
  // until the next call.
  const Tensor& forward(const Tensor& input);

  // One line per step: the nodes it covers and what was fused ("conv1+bn1+relu1: conv, folded bn, relu").
  std::string summary() const;
  // Counts, for tests and the bench's log line.
  int folded_batchnorms() const { return folded_; }
  int fused_relus() const { return fused_relus_; }

 private:
  enum class Kind { Layer, Conv, Dense };
  struct Step {
    Kind kind = Kind::Layer;
    int node = 0;             // the graph node whose layer runs (Layer) or the convolution / dense node
    int output = 0;           // the value slot written: the last node the step covers
    std::vector<int> inputs;  // value slots read; -1 is the plan's input
    std::string covers;       // "conv1+bn1+relu1"
    // Conv and Dense: a convolution's geometry as its layer passes it to its op (n set per chunk), and folded
    // copies of the layer's weights and bias (the bias always present: zero for a layer without one).
    ConvGeometry geometry;
    Tensor weight, bias;
    bool folded_bn = false, relu = false;
  };
  void run_chunk(const Tensor& input, Tensor* final_output);

  Graph& graph_;
  std::vector<Step> steps_;
  std::vector<int> slot_of_;     // per graph node: the slot that holds its value (-1: the plan's input)
  std::vector<Tensor> storage_;  // per slot: a buffer of chunk_ samples, allocated on first use
  std::vector<Tensor> values_;   // per slot: this chunk's view of it
  int64_t chunk_ = 1;
  Tensor output_;
  int folded_ = 0, fused_relus_ = 0;
};

}  // namespace quill
