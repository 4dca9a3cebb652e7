#pragma once
// CPU inference of a built graph, planned once: the same function as the graph's eval-mode forward
// (Context{training = false}), computed with fewer passes over memory.
//   - An eval-mode batch norm right after a convolution or dense layer (the only consumer of its output) is
//     folded into a copy of that layer's weights and bias: w' = w * s, b' = (b - mean) * s + beta with
//     s = gamma / sqrt(var + eps), per output channel (computed in double, rounded once).
//   - A ReLU right after such a convolution (or its folded batch norm) is applied as the convolution writes its
//     output (ops::conv2d_forward_relu); after a dense layer, in place on its output.
//   - Dropout (the identity in eval mode) is skipped: its consumers read its input.
//   - Max pooling runs its op with the plan's own argmax buffer (the layer keeps one for backward).
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
  // batches run in chunks of at most graph.inference_chunk() samples, as Graph::forward does. With several
  // OpenMP threads and at least two chunks, each thread runs whole chunks through the network with one-thread
  // ops (chunks handed out one at a time; one wait for all at the end, instead of one after every op, which
  // also keeps a thread that loses its core to another process from stalling the others op after op). A
  // single chunk (one image) runs op by op with threaded ops. Samples are independent in eval mode and every
  // op gives the same bits for any thread count, so the output is the same either way. The result is valid
  // until the next call.
  const Tensor& forward(const Tensor& input);

  // One line per step: the nodes it covers and what was fused ("conv1+bn1+relu1: conv, folded bn, relu").
  std::string summary() const;
  // Counts, for tests and the bench's log line.
  int folded_batchnorms() const { return folded_; }
  int fused_relus() const { return fused_relus_; }

 private:
  enum class Kind { Layer, Conv, Dense, MaxPool };
  struct Step {
    Kind kind = Kind::Layer;
    int node = 0;             // the graph node whose layer runs (Layer) or the convolution / dense node
    int output = 0;           // the value slot written: the last node the step covers
    std::vector<int> inputs;  // value slots read; -1 is the plan's input
    std::string covers;       // "conv1+bn1+relu1"
    // Conv and Dense: a convolution's geometry as its layer passes it to its op (n set per chunk), and folded
    // copies of the layer's weights and bias (the bias always present: zero for a layer without one).
    ConvGeometry geometry;
    PoolGeometry pool;  // MaxPool: as the layer passes it to its op (n set per chunk)
    Tensor weight, bias;
    bool folded_bn = false, relu = false;
  };
  // The activations of one thread's chunks.
  struct Buffers {
    std::vector<Tensor> storage;  // per slot: a buffer of chunk_ samples, allocated on first use
    std::vector<Tensor> values;   // per slot: this chunk's view of it
    std::vector<Tensor> argmax;   // per slot of a max pooling
  };
  void run_chunk(Buffers& b, const Tensor& input, Tensor& final_output);

  Graph& graph_;
  std::vector<Step> steps_;
  std::vector<int> slot_of_;  // per graph node: the slot that holds its value (-1: the plan's input)
  bool chunks_in_parallel_ = true;  // every layer run as is keeps no state in eval forward (see the .cpp)
  std::vector<Buffers> buffers_;    // one per thread
  int64_t chunk_ = 1;
  Tensor output_;
  int folded_ = 0, fused_relus_ = 0;
};

}  // namespace quill
