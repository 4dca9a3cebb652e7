#include "engine/train_step.h"

#include <cstdio>

#include "runtime/step_values.h"

namespace quill {
namespace {

// Context::step of a recorded step, where the step number comes from the step values instead: a value no
// run reaches, so a kernel that took it as a launch argument by mistake would draw other masks, and the
// tests comparing the graph path with the eager one would see it.
constexpr uint64_t kStepFromValues = 0xFFFF'FFFF'FFFF'FFFFull;

// Steps must be exact in the float64 step values.
constexpr uint64_t kLargestStep = uint64_t(1) << 53;

bool same_tensor(const Tensor& a, const Tensor* b) {
  if (b == nullptr) return !a.defined();
  return a.defined() && b->defined() && a.raw() == b->raw() && a.shape() == b->shape() && a.dtype() == b->dtype();
}

}  // namespace

TrainStep::TrainStep(Graph& graph, Optimizer& optimizer, SoftmaxCrossEntropy& loss, Backend backend,
                     uint64_t dropout_seed, bool use_graph)
    : graph_(graph), optimizer_(optimizer), loss_(loss), backend_(backend), dropout_seed_(dropout_seed),
      use_graph_(use_graph) {
  if (!use_graph_) return;
  QUILL_CHECK(graph.device().is_cpu() || step_graphs_available(graph.device().type),
              "CUDA graphs need the CUDA device runtime, which ", graph.device().str(), " does not have");
  values_ = Tensor::zeros(Shape{kStepValueCount}, DType::F64, graph.device());
  staging_ = std::make_unique<HostStaging>(graph.device(), values_.bytes());
}

TrainStep::~TrainStep() = default;

void TrainStep::queue(const Context& ctx, const Tensor& images, const Tensor& labels, double lr, Tensor* sums) {
  const Tensor& logits = graph_.forward(ctx, images);
  {
    OpCallScope scope("loss", "fwd");  // names the op calls for a recorder (the op benchmark's)
    loss_.forward(backend_, logits, labels);
  }
  const Tensor* dlogits = nullptr;
  {
    OpCallScope scope("loss", "bwd");
    dlogits = &loss_.backward(backend_, labels);
  }
  graph_.backward(ctx, *dlogits);
  {
    OpCallScope scope("optimizer", "update");
    if (ctx.step_values != nullptr)
      optimizer_.queue_step(backend_, *ctx.step_values);
    else
      optimizer_.step(backend_, lr);
  }
  if (sums != nullptr)
    ops::accumulate_loss(backend_, loss_.loss_tensor(), loss_.count_correct(backend_, labels), images.dim(0), *sums);
}

void TrainStep::run(const Tensor& images, const Tensor& labels, uint64_t step, double lr, Tensor* sums) {
  Context ctx;
  ctx.backend = backend_;
  ctx.training = true;
  ctx.seed = dropout_seed_;
  if (!use_graph_) {
    ctx.step = step;
    queue(ctx, images, labels, lr, sums);
    return;
  }
  QUILL_CHECK(step < kLargestStep, "step ", step, " is too large for a replayed training step");
  // Other tensors than the recording's (another batch shape): record anew after an eager step.
  if (warm_ && !(same_tensor(images_, &images) && same_tensor(labels_, &labels) && same_tensor(sums_, sums))) reset();
  if (!warm_) {
    ctx.step = step;
    queue(ctx, images, labels, lr, sums);
    images_ = images;
    labels_ = labels;
    sums_ = sums != nullptr ? *sums : Tensor();
    warm_ = true;
    return;
  }
  // This step's values, uploaded behind the previous step's work and read by this replay.
  double* values = static_cast<double*>(staging_->next());
  values[kStepNumber] = double(step);
  optimizer_.count_step(lr, values);
  staging_->upload(values_.raw(), 0, values_.bytes());
  staging_->fence();
  if (!recording_) {
    recording_ = make_step_graph(graph_.device());
    Context recorded = ctx;
    recorded.step = kStepFromValues;
    recorded.step_values = &values_;
    try {
      // By value: the CPU stand-in calls this again at every replay, after this frame is gone.
      recording_->capture([this, recorded, images = images_, labels = labels_, sums = sums_]() mutable {
        queue(recorded, images, labels, 0.0, sums.defined() ? &sums : nullptr);
      });
    } catch (const Error& e) {
      // Nothing of the step ran (a capture only records), so the run goes on eagerly from this very step,
      // for good: a library call that cannot be captured (cuDNN does not promise its calls can be) would
      // fail every later capture too.
      std::fprintf(stderr, "quill: --cuda-graph: the training step could not be recorded (%s); training goes on "
                   "without the graph\n", e.what());
      reset();
      use_graph_ = false;
      optimizer_.set_steps(optimizer_.steps() - 1);  // count_step counted the step the recording was for
      ctx.step = step;
      queue(ctx, images, labels, lr, sums);
      return;
    }
    ++captures_;
  }
  recording_->replay();
  ++replays_;
}

void TrainStep::reset() {
  recording_.reset();  // first: its memory returns to the cache, and it no longer uses the tensors below
  warm_ = false;
  images_ = labels_ = sums_ = Tensor();
}

}  // namespace quill
