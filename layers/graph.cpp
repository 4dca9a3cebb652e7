#include "layers/graph.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <sstream>

namespace quill {

void Graph::add(std::string name, std::unique_ptr<Layer> layer, std::vector<std::string> inputs) {
  QUILL_CHECK(!built_, "cannot add nodes to a built graph");
  QUILL_CHECK(name != kInput, "a node cannot be called '", kInput, "'");
  for (const Node& n : nodes_) QUILL_CHECK(n.name != name, "two nodes are called '", name, "'");
  layer->name = name;
  layer->index = nodes_.size();
  Node node;
  node.name = std::move(name);
  node.layer = std::move(layer);
  node.input_names = std::move(inputs);
  nodes_.push_back(std::move(node));
}

void Graph::resolve_inputs() {
  std::map<std::string, int> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].name] = int(i);
  input_consumers_ = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& node = nodes_[i];
    node.inputs.clear();
    if (node.input_names.empty()) {
      // The previous node, and for an add also the one before the previous block is ambiguous: require names.
      node.inputs.push_back(int(i) - 1);
    } else {
      for (const std::string& in : node.input_names) {
        if (in == kInput) {
          node.inputs.push_back(-1);
          continue;
        }
        auto it = index.find(in);
        QUILL_CHECK(it != index.end(), "layer '", node.name, "' (", node.layer->describe(), "): unknown input '",
                    in, "'");
        QUILL_CHECK(it->second != int(i), "layer '", node.name, "' takes its own output as input");
        node.inputs.push_back(it->second);
      }
    }
    QUILL_CHECK(int(node.inputs.size()) == node.layer->arity(), "layer '", node.name, "' (",
                node.layer->describe(), ") takes ", node.layer->arity(), " input(s), got ", node.inputs.size());
  }
  for (Node& n : nodes_) n.consumers = 0;
  for (Node& n : nodes_)
    for (int j : n.inputs) (j < 0 ? input_consumers_ : nodes_[j].consumers)++;
}

void Graph::topological_sort() {
  // Kahn's algorithm, taking ready nodes in declaration order so the order is stable.
  std::vector<int> missing(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (int j : nodes_[i].inputs) missing[i] += j >= 0;
  order_.clear();
  std::vector<bool> done(nodes_.size(), false);
  while (order_.size() < nodes_.size()) {
    int next = -1;
    for (size_t i = 0; i < nodes_.size() && next < 0; ++i)
      if (!done[i] && missing[i] == 0) next = int(i);
    QUILL_CHECK(next >= 0, "the model's layers form a cycle");
    done[next] = true;
    order_.push_back(next);
    for (size_t i = 0; i < nodes_.size(); ++i)
      for (int j : nodes_[i].inputs) missing[i] -= j == next;
  }
  QUILL_CHECK(order_.back() == int(nodes_.size()) - 1, "the last layer ('", nodes_.back().name,
              "') must be the model's output, but other layers depend on it");
  for (size_t i = 0; i + 1 < nodes_.size(); ++i)
    QUILL_CHECK(nodes_[i].consumers > 0, "the output of layer '", nodes_[i].name, "' (", nodes_[i].layer->describe(),
                ") is never used");
}

void Graph::build(const Shape& input_shape, DType dtype, Device device, uint64_t seed) {
  QUILL_CHECK(!nodes_.empty(), "the model has no layers");
  QUILL_CHECK(!built_, "the graph is already built");
  QUILL_CHECK(dtype != DType::I32, "models compute in float32 or float64");
  resolve_inputs();
  topological_sort();
  input_shape_ = input_shape;
  dtype_ = dtype;
  for (int i : order_) {
    Node& node = nodes_[i];
    std::vector<Shape> in;
    for (int j : node.inputs) in.push_back(j < 0 ? input_shape_ : nodes_[j].shape);
    node.shape = node.layer->setup(in);
  }
  device_ = Device::cpu();
  allocate_params(seed);
  for (Node& n : nodes_) n.layer->allocate_buffers(dtype_, device_);
  built_ = true;
  to(device);
}

void Graph::allocate_params(uint64_t seed) {
  int64_t total = 0;
  for (Param* p : params()) total += p->shape.numel();
  flat_values_ = Tensor::empty(Shape{total}, dtype_);
  flat_grads_ = Tensor::zeros(Shape{total}, dtype_);
  int64_t offset = 0;
  uint64_t stream = 0;
  for (Param* p : params()) {
    const int64_t n = p->shape.numel();
    Tensor v = flat_values_.slice(offset, offset + n);
    for (int64_t j = 0; j < n; ++j) {
      double x = 0;
      switch (p->init) {
        case Param::Init::HeNormal: x = random_normal(seed, stream, j) * std::sqrt(2.0 / p->fan_in); break;
        case Param::Init::XavierUniform:
          x = (2.0 * random_uniform(seed, stream, j) - 1.0) * std::sqrt(6.0 / (p->fan_in + p->fan_out));
          break;
        case Param::Init::Zeros: x = 0; break;
        case Param::Init::Ones: x = 1; break;
      }
      if (dtype_ == DType::F32)
        v.data<float>()[j] = float(x);
      else
        v.data<double>()[j] = x;
    }
    offset += n;
    ++stream;
  }
}

void Graph::to(Device device) {
  flat_values_ = flat_values_.to(device);
  flat_grads_ = flat_grads_.to(device);
  int64_t offset = 0;
  for (Param* p : params()) {
    const int64_t n = p->shape.numel();
    p->value = flat_values_.slice(offset, offset + n).view(p->shape);
    p->grad = flat_grads_.slice(offset, offset + n).view(p->shape);
    offset += n;
  }
  if (device != device_)
    for (Node& n : nodes_) n.layer->allocate_buffers(dtype_, device);
  device_ = device;
  for (Node& n : nodes_) n.output = n.grad = Tensor();
}

std::vector<Param*> Graph::params() {
  std::vector<Param*> out;
  for (Node& n : nodes_)
    for (Param& p : n.layer->params()) out.push_back(&p);
  return out;
}

std::vector<Tensor*> Graph::buffers() {
  std::vector<Tensor*> out;
  for (Node& n : nodes_)
    for (Tensor* t : n.layer->buffers()) out.push_back(t);
  return out;
}

const Tensor& Graph::input_of(int node_index) const {
  return node_index < 0 ? *input_ : nodes_[node_index].output;
}

const Tensor& Graph::forward(const Context& ctx, const Tensor& input) {
  QUILL_CHECK(built_, "the graph must be built before running it");
  QUILL_CHECK(input.shape().rank() >= 1 && input.shape().drop_batch() == input_shape_, "input of shape ",
              input.shape().str(), " does not fit the model, which takes [batch, ",
              input_shape_.str().substr(1));
  QUILL_CHECK(input.dtype() == dtype_ && input.device() == device_, "input is ", dtype_name(input.dtype()), " on ",
              input.device().str(), ", the model is ", dtype_name(dtype_), " on ", device_.str());
  const int64_t n = input.dim(0);
  // Inference on the CPU runs a large batch in chunks whose activations stay in the caches (every layer's
  // eval forward treats samples independently, so the outputs are the same bits); training keeps the whole
  // batch for backward, and a recorder of op calls (the op benchmark) sees the calls the batch makes.
  const int64_t chunk = inference_chunk();
  if (!ctx.training && device_.is_cpu() && op_recorder == nullptr && chunk < n) {
    ensure(chunked_output_, output_shape().with_batch(n), dtype_, device_);
    for (int64_t begin = 0; begin < n; begin += chunk) {
      const Tensor part = input.slice(begin, std::min(n, begin + chunk));
      chunked_output_.slice(begin, std::min(n, begin + chunk)).copy_from(forward_nodes(ctx, part));
    }
    input_ = nullptr;
    return chunked_output_;
  }
  return forward_nodes(ctx, input);
}

int64_t Graph::inference_chunk() const {
  int64_t largest = 1;  // elements of the largest per-sample activation
  for (const Node& node : nodes_) largest = std::max(largest, node.shape.numel());
  const int64_t per_sample = largest * int64_t(dtype_size(dtype_));
  return std::max<int64_t>({1, kInferenceChunkBytes / per_sample, int64_t(omp_get_max_threads())});
}

const Tensor& Graph::forward_nodes(const Context& ctx, const Tensor& input) {
  const int64_t n = input.dim(0);
  input_ = &input;
  std::vector<int> pending(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) pending[i] = nodes_[i].consumers;
  for (int i : order_) {
    Node& node = nodes_[i];
    ensure(node.output, node.shape.with_batch(n), dtype_, device_);
    std::vector<const Tensor*> in;
    for (int j : node.inputs) in.push_back(&input_of(j));
    {
      OpCallScope scope(node.name, "fwd");
      node.layer->forward(ctx, in, node.output);
    }
    if (ctx.training) continue;
    // Without backward, an activation is dead once its last consumer has run.
    for (int j : node.inputs)
      if (j >= 0 && --pending[j] == 0) nodes_[j].output = Tensor();
  }
  return nodes_.back().output;
}

void Graph::backward(const Context& ctx, const Tensor& doutput, Tensor* dinput) {
  Node& last = nodes_.back();
  QUILL_CHECK(last.output.defined() && input_ != nullptr, "backward needs a training forward pass first");
  check_same_shape(last.output, doutput, "backward: gradient of the output");
  for (Node& n : nodes_) n.grad = Tensor();
  last.grad = doutput;
  bool dinput_written = false;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    Node& node = nodes_[*it];
    QUILL_CHECK(node.grad.defined() && node.output.defined(), "backward needs a training forward pass first");
    std::vector<const Tensor*> in;
    std::vector<Tensor*> din;
    std::vector<Tensor> partial(node.inputs.size());  // gradients to add into an input that has one already
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const int j = node.inputs[k];
      in.push_back(&input_of(j));
      if (j < 0 && !dinput) {
        din.push_back(nullptr);
      } else if (j < 0 && !dinput_written) {
        ensure(*dinput, input_->shape(), dtype_, device_);
        din.push_back(dinput);
        dinput_written = true;
      } else if (j < 0) {
        partial[k] = Tensor::empty(input_->shape(), dtype_, device_);
        din.push_back(&partial[k]);
      } else if (!nodes_[j].grad.defined()) {
        nodes_[j].grad = Tensor::empty(nodes_[j].output.shape(), dtype_, device_);
        din.push_back(&nodes_[j].grad);
      } else {
        partial[k] = Tensor::empty(nodes_[j].output.shape(), dtype_, device_);
        din.push_back(&partial[k]);
      }
    }
    {
      OpCallScope scope(node.name, "bwd");
      node.layer->backward(ctx, in, node.output, node.grad, din);
    }
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      if (!partial[k].defined()) continue;
      const int j = node.inputs[k];
      Tensor& total = j < 0 ? *dinput : nodes_[j].grad;
      OpCallScope scope(j < 0 ? std::string(kInput) : nodes_[j].name, "grad-sum");
      ops::add(ctx.backend, total, partial[k], total);
    }
    // Consumers run backward before their producers, so this node's activation and gradient are done.
    node.output = Tensor();
    node.grad = Tensor();
  }
  input_ = nullptr;
}

std::vector<std::string> Graph::node_inputs(size_t i) const {
  QUILL_CHECK(built_, "node_inputs: the graph is not built");
  std::vector<std::string> names;
  for (int j : nodes_[i].inputs) names.push_back(j < 0 ? std::string(kInput) : nodes_[j].name);
  return names;
}

std::string Graph::summary() const {
  std::ostringstream os;
  os << std::left << std::setw(12) << "node" << std::setw(28) << "layer" << std::setw(18) << "output"
     << "params\n";
  int64_t total = 0;
  for (int i : order_) {
    const Node& n = nodes_[i];
    int64_t count = 0;
    for (const Param& p : n.layer->params()) count += p.shape.numel();
    total += count;
    os << std::setw(12) << n.name << std::setw(28) << n.layer->describe() << std::setw(18) << n.shape.str() << count
       << '\n';
  }
  os << "total parameters: " << total << '\n';
  return os.str();
}

}  // namespace quill
