#pragma once
// The op calls of one training step of a model, as cases the op benchmark (`quill bench --ops`) runs on
// any backend: every layer's forward and backward ops with their shapes at a batch size, the loss and the
// optimizer's update. A case makes its tensors on a backend's device from fixed seeds, so every backend
// gets the same inputs and the outputs of two backends can be compared.
#include <functional>
#include <string>
#include <vector>

#include "runtime/geometry.h"
#include "layers/graph.h"
#include "layers/model_description.h"
#include "layers/optimizer.h"

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
  std::string pass;   // fwd, bwd-data, bwd-weights (convolutions), bwd, grad-sum, update
  std::string op;     // the op's registry name, e.g. conv2d_backward_weights
  std::string shape;  // per sample, e.g. "32->32 k3 p1 28x28"
  WorkKind kind = WorkKind::Bytes;
  double work = 0;  // FLOPs or bytes of one call
  // Makes the call's tensors on the backend's device and returns the call. Inputs are random and never
  // zero, from fixed seeds (the same values on every backend); what a backward op takes from its forward
  // pass (max-pool argmax, batch-norm statistics, activation outputs, softmax probabilities) is computed
  // by the forward op on the same backend.
  std::function<PreparedCall(Backend)> prepare;

  std::string label() const { return layer + " " + pass; }
};

// The op calls of one training step of `graph` at `batch`, in the order the step makes them: each node's
// forward ops, the loss forward and backward, each node's backward ops in reverse, the optimizer update.
// `graph` must be built from `desc` (add_to_graph). Copies (flatten, the backward of add, dropout 0) are
// not ops and are left out.
std::vector<OpCase> training_step_cases(Graph& graph, const ModelDescription& desc, int batch,
                                        const OptimizerConfig& optimizer);

// FLOPs of one convolution pass: 2 * N*K*P*Q * C*R*S (forward, backward-data and backward-weights alike).
double conv_flops(const ConvGeometry& g);

}  // namespace quill
