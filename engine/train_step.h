#pragma once
// One training step: forward, loss, backward, optimizer update and, optionally, the step's loss and
// correct count added to running sums on the device. Run eagerly (kernels queued one by one, the values
// that change every step passed as launch arguments), or with use_graph recorded once as a CUDA graph and
// replayed (runtime/step_graph.h), which launches the whole step with one call.
//
// The graph path. The first step at a batch shape runs eagerly: it makes the step's allocations, cuDNN's
// algorithm searches and the first launch of every kernel, none of which a capture may contain. The
// second is captured, and it and every later step replay the capture. Before each replay the values that
// change every step (the step number for dropout masks, the learning rate, Adam's bias corrections) are
// uploaded asynchronously into a small device tensor that the kernels read (runtime/step_values.h). A
// replay reuses the capture's device addresses, so:
//   - the batch must come in the same tensors every step; BatchTensors keeps them while the batch size
//     stays. A batch of another shape (an epoch's last, smaller batch) drops the graph and runs eagerly;
//   - nothing else may reallocate a buffer the step uses while the graph lives (the loss's buffers, the
//     pooling layers' argmax, batch-norm statistics, the optimizer's state): call reset() before anything
//     else runs the model (evaluation resizes those buffers); the trainer does at the end of every epoch;
//   - host-side settings read by the ops at each call (cuDNN's math mode, ...) are those of the capture.
// A capture that fails (a library call that cannot be recorded) is said once on stderr, and the run goes on
// eagerly from that step with use_graph() false: the same results, without the graph's speed.
// Memory the captured step allocates stays reserved for the graph (the GPU allocator's capture pool). On
// the CPU, where the "graph" is a stand-in that calls the step again (runtime/step_graph.h), the same path
// runs in tests: it must give the eager path's bits.
#include <cstdint>
#include <memory>

#include "layers/graph.h"
#include "layers/loss.h"
#include "layers/optimizer.h"
#include "runtime/host_staging.h"
#include "runtime/step_graph.h"

namespace quill {

class TrainStep {
 public:
  // The model, its optimizer and loss must outlive the step. Dropout masks draw from dropout_seed.
  TrainStep(Graph& graph, Optimizer& optimizer, SoftmaxCrossEntropy& loss, Backend backend, uint64_t dropout_seed,
            bool use_graph);
  ~TrainStep();

  // Runs training step number `step` with learning rate lr on images [n, ...] and int32 labels [n] on the
  // model's device. sums, when given, is a float64 [2] tensor on that device that receives += (mean loss
  // * n, correct count) (ops::accumulate_loss). Queues the work and returns without waiting for it.
  void run(const Tensor& images, const Tensor& labels, uint64_t step, double lr, Tensor* sums = nullptr);
  // Drops the recorded graph; the next step runs eagerly.
  void reset();

  bool use_graph() const { return use_graph_; }  // false from a failed capture on
  int64_t captures() const { return captures_; }  // graphs recorded so far
  int64_t replays() const { return replays_; }    // steps run by replaying one

 private:
  // The work of one step, eager (ctx.step_values null: lr and ctx.step as launch arguments) or to record.
  void queue(const Context& ctx, const Tensor& images, const Tensor& labels, double lr, Tensor* sums);

  Graph& graph_;
  Optimizer& optimizer_;
  SoftmaxCrossEntropy& loss_;
  Backend backend_;
  uint64_t dropout_seed_;
  bool use_graph_;

  // The graph path.
  Tensor values_;                         // float64 [kStepValueCount] on the device, read by the replays
  std::unique_ptr<HostStaging> staging_;  // where values_ is uploaded from
  std::unique_ptr<StepGraph> recording_;
  bool warm_ = false;                     // an eager step ran with these tensors
  Tensor images_, labels_, sums_;         // the tensors the recording uses: held, so their memory stays theirs
  int64_t captures_ = 0, replays_ = 0;
};

}  // namespace quill
