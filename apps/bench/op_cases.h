#pragma once
// The op calls of one training step of a model, as cases the op benchmark (`quill bench --ops`) runs on
// any backend: every layer's forward and backward ops with their shapes at a batch size, the loss and the
// optimizer's update, recorded from a real step. A case makes its tensors on a backend's device from the
// recorded values, so every backend gets the same inputs and the outputs of two backends can be compared.
#include <functional>
#include <string>
#include <vector>

#include "runtime/geometry.h"
#include "layers/graph.h"
#include "layers/optimizer.h"
#include "runtime/op.h"

namespace quill {

// What an op's speed is measured in: arithmetic (GFLOP/s, against the float32 peak) or memory traffic
// (GB/s, against the copy bandwidth).
enum class WorkKind { Flops, Bytes };

// One call of an op, ready to run on one backend.
struct PreparedCall {
  std::function<void()> run;    // calls the op once (on a GPU: queues it)
  std::vector<Tensor> outputs;  // the tensors the call writes, compared across backends
};

struct OpCase {
  std::string layer;  // the node ("conv2"), "loss" or "optimizer"
  std::string pass;   // fwd, bwd, grad-sum, update; a node's pass with several op calls names each by its op,
                      // e.g. bwd-weights and bwd-data for conv2d_backward_weights and conv2d_backward_data
  std::string op;     // the op's registry name, e.g. conv2d_backward_weights
  std::string shape;  // per sample, e.g. "32->32 k3 p1 28x28"
  WorkKind kind = WorkKind::Bytes;
  double work = 0;  // FLOPs or bytes of one call
  // Makes the call's tensors on the backend's device, copies of those the recorded step passed (the same
  // values on every backend, the inputs a backward op took from its forward pass included), and returns
  // the call.
  std::function<PreparedCall(Backend)> prepare;

  std::string label() const { return layer + " " + pass; }
};

// The op calls of one training step of `graph` at `batch`, in the order the step makes them: each node's
// forward ops, the loss forward and backward, each node's backward ops in reverse, the optimizer update.
// They are recorded from a real step (engine/train_step.h) on the CPU, on random images and labels from a
// fixed seed, through the op registry's trace (runtime/op.h), so any layer kind is covered. `graph` must
// be built on the CPU; its parameters and buffers are left as they were. Copies (flatten, the backward of
// add, dropout 0) are not ops and do not appear.
std::vector<OpCase> training_step_cases(Graph& graph, int batch, const OptimizerConfig& optimizer);

// What one recorded op call costs: FLOPs for convolutions and dense layers, else the bytes of its tensor
// arguments (twice for those an optimizer reads and writes), and its shape per sample for the report.
struct OpWork {
  WorkKind kind = WorkKind::Bytes;
  double work = 0;
  std::string shape;
};
OpWork op_work(const OpCall& call);

// FLOPs of one convolution pass: 2 * N*K*P*Q * C*R*S (forward, backward-data and backward-weights alike).
double conv_flops(const ConvGeometry& g);

}  // namespace quill
