#include "apps/bench/op_cases.h"

#include <map>
#include <sstream>
#include <utility>

#include "engine/train_step.h"
#include "layers/loss.h"
#include "runtime/ops.h"
#include "runtime/rng.h"

namespace quill {
namespace {

constexpr uint64_t kSeed = 0x0b5eed;  // the recorded step's images, labels and dropout masks

std::string dims(const Shape& s) {
  std::string out;
  for (int i = 0; i < s.rank(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

const Tensor* tensor_at(const OpCall& call, size_t i) { return std::any_cast<Tensor>(&call.arguments[i]); }

// The tensor arguments of a call, in order (null pointers left out).
std::vector<const Tensor*> tensors_of(const OpCall& call) {
  std::vector<const Tensor*> out;
  for (size_t i = 0; i < call.arguments.size(); ++i)
    if (const Tensor* t = tensor_at(call, i)) out.push_back(t);
  return out;
}

std::string conv_shape(const ConvGeometry& g) {
  std::string shape = std::to_string(g.c) + "->" + std::to_string(g.k) + " k" + std::to_string(g.r);
  if (g.stride_h != 1) shape += " s" + std::to_string(g.stride_h);
  if (g.pad_h != 0) shape += " p" + std::to_string(g.pad_h);
  return shape + " " + std::to_string(g.h) + "x" + std::to_string(g.w);
}

const char* activation_word(Activation a) {
  switch (a) {
    case Activation::Relu: return "relu";
    case Activation::LeakyRelu: return "leaky";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
  }
  return "?";
}

// One op call of a training step: the tensors it reads copied as they were when it was made; the ones it
// writes are made afresh (zeros) for each backend, since an op overwrites its outputs, and zeros are as good
// a start as any for the few it also reads (an optimizer's moments, batch norm's running statistics).
struct RecordedCall {
  OpCall call;
  std::vector<int> same_as;  // per argument: the earlier argument that is the same tensor (add's in-place sum), or -1
};

// Records the op calls made on this thread while it lives. A tensor read by several calls with no write in
// between (an activation read by the next layer's forward and by its own backward) is copied once, so the
// recording holds about one copy of the step's memory.
class StepRecorder final : public OpRecorder {
 public:
  StepRecorder() : previous_(std::exchange(op_recorder, this)) {}
  ~StepRecorder() override { op_recorder = previous_; }
  StepRecorder(const StepRecorder&) = delete;
  StepRecorder& operator=(const StepRecorder&) = delete;

  void record(OpCall call) override {
    RecordedCall r;
    r.same_as.assign(call.arguments.size(), -1);
    std::vector<const void*> storage(call.arguments.size(), nullptr);
    for (size_t i = 0; i < call.arguments.size(); ++i) {
      Tensor* t = std::any_cast<Tensor>(&call.arguments[i]);
      if (t == nullptr || t->raw() == nullptr) continue;
      storage[i] = t->raw();
      for (size_t j = 0; j < i && r.same_as[i] < 0; ++j)
        if (storage[j] == storage[i]) r.same_as[i] = int(j);
      if (r.same_as[i] >= 0) {
        *t = std::any_cast<Tensor>(call.arguments[size_t(r.same_as[i])]);
      } else if (call.written[i]) {
        *t = Tensor::empty(t->shape(), t->dtype(), Device::cpu());  // its shape; prepare_call makes its memory
      } else {
        auto copy = unchanged_.find(storage[i]);
        if (copy == unchanged_.end() || copy->second.shape() != t->shape() || copy->second.dtype() != t->dtype())
          copy = unchanged_.insert_or_assign(storage[i], t->device().is_cpu() ? t->clone() : t->to(Device::cpu())).first;
        *t = copy->second;
      }
    }
    for (size_t i = 0; i < storage.size(); ++i)  // the call is about to write these
      if (call.written[i] && storage[i] != nullptr) unchanged_.erase(storage[i]);
    r.call = std::move(call);
    calls.push_back(std::move(r));
  }

  std::vector<RecordedCall> calls;

 private:
  OpRecorder* previous_;
  std::map<const void*, Tensor> unchanged_;  // a copy of each storage as it is, until a recorded call writes it
};

PreparedCall prepare_call(const RecordedCall& r, Backend b) {
  const Device device = b == Backend::Cpu ? Device::cpu() : Device::cuda(0);
  std::vector<std::any> args = r.call.arguments;
  PreparedCall p;
  for (size_t i = 0; i < args.size(); ++i) {
    if (r.same_as[i] >= 0) {
      args[i] = args[size_t(r.same_as[i])];
    } else if (Tensor* t = std::any_cast<Tensor>(&args[i])) {
      if (r.call.written[i]) {
        *t = Tensor::zeros(t->shape(), t->dtype(), device);
        p.outputs.push_back(*t);
      } else {
        *t = device.is_cpu() ? t->clone() : t->to(device);
      }
    }
  }
  p.run = [run = r.call.run, b, args]() mutable { run(b, args); };
  return p;
}

// A node's pass that makes several op calls names each by what its op's name adds to theirs in common
// (conv2d_backward_weights and conv2d_backward_data: bwd-weights, bwd-data), in every node that calls it.
std::map<std::string, std::string> op_suffixes(const std::vector<RecordedCall>& calls) {
  std::map<std::string, std::string> suffix;
  for (size_t begin = 0, end = 0; begin < calls.size(); begin = end) {
    const OpCall& first = calls[begin].call;
    std::string common = first.op->name();
    for (end = begin + 1; end < calls.size() && calls[end].call.part == first.part &&
                          calls[end].call.pass == first.pass; ++end) {
      const std::string name = calls[end].call.op->name();
      size_t n = 0;
      while (n < common.size() && n < name.size() && common[n] == name[n]) ++n;
      common.resize(n);
    }
    common.resize(common.rfind('_') == std::string::npos ? 0 : common.rfind('_') + 1);
    for (size_t i = begin; end - begin > 1 && i < end; ++i) {
      const std::string name = calls[i].call.op->name();
      if (name.size() > common.size()) suffix[name] = name.substr(common.size());
    }
  }
  return suffix;
}

}  // namespace

double conv_flops(const ConvGeometry& g) { return 2.0 * double(g.macs()); }

OpWork op_work(const OpCall& call) {
  const std::string op = call.op->name();
  const std::vector<const Tensor*> tensors = tensors_of(call);
  OpWork w;
  for (const Tensor* t : tensors) w.work += double(t->bytes());
  if (op == "sgd_step" || op == "adam_step")  // what an optimizer updates in place is read and written
    for (size_t i = 0; i < call.arguments.size(); ++i)
      if (call.written[i] && tensor_at(call, i) != nullptr) w.work += double(tensor_at(call, i)->bytes());
  const Shape first = tensors.empty() ? Shape{} : tensors[0]->shape();
  w.shape = dims(first.rank() > 1 ? first.drop_batch() : first);

  if (op.rfind("conv2d_", 0) == 0) {
    const ConvGeometry& g = std::any_cast<const ConvGeometry&>(call.arguments[0]);
    w.kind = WorkKind::Flops, w.work = conv_flops(g), w.shape = conv_shape(g);
  } else if (op == "dense_forward" || op == "dense_backward") {
    const Shape& x = tensors[0]->shape();
    const Shape& weights = tensors[1]->shape();
    const double macs = double(x[0]) * double(weights[0]) * double(weights[1]);
    // Backward: dw, and dx unless it is not asked for (the graph's input), are one product each.
    const bool dx = op == "dense_backward" && call.arguments[3].has_value();
    w.kind = WorkKind::Flops, w.work = (op == "dense_forward" ? 2 : dx ? 4 : 2) * macs;
    w.shape = std::to_string(weights[1]) + "->" + std::to_string(weights[0]);
  } else if (op == "maxpool_forward" || op == "avgpool_forward" || op == "maxpool_backward" ||
             op == "avgpool_backward") {
    const PoolGeometry& g = std::any_cast<const PoolGeometry&>(call.arguments[0]);
    w.shape = std::to_string(g.c) + "x" + std::to_string(g.h) + "x" + std::to_string(g.w) + " " +
              op.substr(0, 7) + " " + std::to_string(g.kh) + " -> " + std::to_string(g.p()) + "x" +
              std::to_string(g.q());
  } else if (op == "activation_forward" || op == "activation_backward") {
    w.shape = std::string(activation_word(std::any_cast<Activation>(call.arguments[0]))) + " " + w.shape;
  } else if (op == "dropout_forward" || op == "dropout_backward") {
    std::ostringstream p;
    p << "p " << std::any_cast<double>(call.arguments[0]) << " " << w.shape;
    w.shape = p.str();
  } else if (op.rfind("softmax_xent_", 0) == 0) {
    w.shape = std::to_string(tensors[0]->dim(1)) + " classes";
  } else if (op == "sgd_step") {
    w.shape = "sgd " + std::to_string(tensors[0]->numel()) + " params";
  } else if (op == "adam_step") {
    const bool decoupled = std::any_cast<const AdamConfig&>(call.arguments[0]).decoupled_weight_decay;
    w.shape = std::string(decoupled ? "adamw " : "adam ") + std::to_string(tensors[0]->numel()) + " params";
  }
  return w;
}

std::vector<OpCase> training_step_cases(Graph& graph, int batch, const OptimizerConfig& optimizer) {
  QUILL_CHECK(graph.built() && graph.device().is_cpu(), "op cases: the graph must be built on the CPU");
  QUILL_CHECK(batch >= 1, "op cases: the batch must be at least 1, got ", batch);
  QUILL_CHECK(graph.output_shape().rank() == 1, "op cases: the model's output must be one score per class, got ",
              graph.output_shape().str());
  const int64_t classes = graph.output_shape()[0];
  Tensor images = Tensor::empty(graph.input_shape().with_batch(batch), graph.dtype());
  Tensor labels = Tensor::empty(Shape{batch}, DType::I32);
  for (int64_t i = 0; i < images.numel(); ++i) {
    const float v = random_uniform(kSeed, 1, uint64_t(i));
    if (images.dtype() == DType::F32) images.data<float>()[i] = v;
    else images.data<double>()[i] = v;
  }
  for (int64_t i = 0; i < batch; ++i)
    labels.data<int32_t>()[i] = std::min(int32_t(classes - 1), int32_t(random_uniform(kSeed, 2, uint64_t(i)) * classes));

  // The step trains the model: its parameters and buffers are put back afterwards.
  std::vector<std::pair<Tensor*, Tensor>> saved{{&graph.flat_values(), graph.flat_values().clone()}};
  for (Tensor* t : graph.buffers()) saved.emplace_back(t, t->clone());
  std::vector<RecordedCall> calls;
  {
    Optimizer opt(optimizer, graph);
    SoftmaxCrossEntropy loss;
    TrainStep step(graph, opt, loss, Backend::Cpu, kSeed, false);
    StepRecorder recorder;
    step.run(images, labels, 0, 1e-3);
    calls = std::move(recorder.calls);
  }
  for (auto& [t, value] : saved) t->copy_from(value);

  const std::map<std::string, std::string> suffix = op_suffixes(calls);
  std::vector<OpCase> cases;
  for (const RecordedCall& r : calls) {
    OpCase c;
    c.layer = r.call.part.empty() ? "step" : r.call.part;
    c.op = r.call.op->name();
    auto it = suffix.find(c.op);
    c.pass = r.call.pass + (it != suffix.end() ? "-" + it->second : "");
    const OpWork w = op_work(r.call);
    c.kind = w.kind, c.work = w.work, c.shape = w.shape;
    c.prepare = [r](Backend b) { return prepare_call(r, b); };
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace quill
