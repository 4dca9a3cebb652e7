#include "engine/onnx_export.h"

#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <variant>

#include <nlohmann/json.hpp>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "engine/atomic_file.h"
#include "runtime/error.h"
#include "runtime/geometry.h"

#ifndef QUILL_VERSION
#define QUILL_VERSION "unknown"
#endif

namespace quill {
namespace {

const LayerAttribute* find_attribute(const std::vector<LayerAttribute>& attributes, const std::string& name) {
  for (const LayerAttribute& a : attributes)
    if (a.name == name) return &a;
  return nullptr;
}

int64_t int_attribute(const std::vector<LayerAttribute>& attributes, const std::string& name, const std::string& where) {
  const LayerAttribute* a = find_attribute(attributes, name);
  QUILL_CHECK(a && std::holds_alternative<int64_t>(a->value), where, ": no integer attribute '", name, "'");
  return std::get<int64_t>(a->value);
}

double real_attribute(const std::vector<LayerAttribute>& attributes, const std::string& name, const std::string& where) {
  const LayerAttribute* a = find_attribute(attributes, name);
  QUILL_CHECK(a && std::holds_alternative<double>(a->value), where, ": no number attribute '", name, "'");
  return std::get<double>(a->value);
}

// An attribute given once for both axes (or sides) or per axis: `name`, else `name + suffix` for each suffix.
std::vector<int64_t> per_axis_attribute(const std::vector<LayerAttribute>& attributes, const std::string& name,
                                        const std::vector<std::string>& per_axis, const std::string& where) {
  if (find_attribute(attributes, name)) return std::vector<int64_t>(per_axis.size(), int_attribute(attributes, name, where));
  std::vector<int64_t> out;
  for (const std::string& n : per_axis) out.push_back(int_attribute(attributes, n, where));
  return out;
}

// kernel_shape, strides and pads (ONNX's order: top, left, bottom, right) of a window layer's attributes
// (layers/conv.cpp: window_attributes).
struct OnnxWindow {
  std::vector<int64_t> kernel, strides, pads;
};
OnnxWindow window_of(const std::vector<LayerAttribute>& attrs, const std::string& kernel, const std::string& where) {
  OnnxWindow w;
  w.kernel = per_axis_attribute(attrs, kernel, {kernel + "_h", kernel + "_w"}, where);
  w.strides = per_axis_attribute(attrs, "stride", {"stride_h", "stride_w"}, where);
  w.pads = per_axis_attribute(attrs, "pad", {"pad_top", "pad_left", "pad_bottom", "pad_right"}, where);
  return w;
}

// A pooling layer's pads and ceil_mode over a [C, H, W] input. Quill's ceil (runtime/geometry.h:
// window_count) drops a last window that would start in the padding after the input, as PyTorch does and as
// ONNX's text now says, where some ONNX Runtime releases (and ONNX's shape inference) keep it and give one
// output more. So where ceil changes the output size, the padding after the axis is widened until rounding
// down gives that size, and ceil_mode is 0: a max ignores padding, and an average that does not count padding
// divides the same. An average that counts padding (its divisor stops at the padded input's end) keeps
// ceil_mode 1, and is refused where the two readings of ceil_mode give different sizes.
void pooling_pads(OnnxWindow& win, const Shape& input, bool ceil, bool counts_padding, const std::string& where,
                  int64_t* ceil_mode) {
  *ceil_mode = 0;
  if (!ceil) return;
  bool changes = false, readers_differ = false;
  for (int axis = 0; axis < 2; ++axis) {
    const int size = int(input[1 + axis]), k = int(win.kernel[axis]), s = int(win.strides[axis]);
    const int before = int(win.pads[axis]), after = int(win.pads[2 + axis]);
    const int rounded_up = window_count(size, k, s, before, after, true);
    const int kept = (size + before + after - k + s - 1) / s + 1;  // no last window dropped
    readers_differ |= kept != rounded_up;
    if (rounded_up == window_count(size, k, s, before, after)) continue;
    changes = true;
    if (!counts_padding) win.pads[2 + axis] = (rounded_up - 1) * s + k - size - before;
  }
  if (counts_padding && changes) {
    *ceil_mode = 1;
    QUILL_CHECK(!readers_differ, where, ": its ceil drops a last window that would start in the padding, "
                "which ONNX readers disagree on; with countpad this has no portable ONNX form");
  }
}

bool bool_attribute(const std::vector<LayerAttribute>& attributes, const std::string& name, const std::string& where) {
  const LayerAttribute* a = find_attribute(attributes, name);
  QUILL_CHECK(a && std::holds_alternative<bool>(a->value), where, ": no yes/no attribute '", name, "'");
  return std::get<bool>(a->value);
}

void set_ints(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void set_int(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void set_float(onnx::NodeProto* node, const std::string& name, double value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(float(value));
}

onnx::NodeProto* add_node(onnx::GraphProto* graph, const std::string& op, const std::string& name,
                          const std::vector<std::string>& inputs, const std::string& output) {
  onnx::NodeProto* node = graph->add_node();
  node->set_op_type(op);
  node->set_name(name);
  for (const std::string& in : inputs) node->add_input(in);
  node->add_output(output);
  return node;
}

// A float32 initializer holding `t` (any float dtype, on the CPU) with ONNX dims `dims`.
void add_initializer(onnx::GraphProto* graph, const std::string& name, const Tensor& t, const std::vector<int64_t>& dims) {
  const Tensor f = t.to(Device::cpu()).cast(DType::F32);
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  QUILL_CHECK(n == f.numel(), "ONNX export: initializer '", name, "' has ", f.numel(), " values, its dims ", n);
  onnx::TensorProto* init = graph->add_initializer();
  init->set_name(name);
  init->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) init->add_dims(d);
  // raw_data is little-endian float32, as x86-64 and ARM hold them.
  init->set_raw_data(std::string(static_cast<const char*>(f.raw()), size_t(f.numel()) * sizeof(float)));
}

std::vector<int64_t> dims_of(const Shape& s) {
  std::vector<int64_t> d;
  for (int i = 0; i < s.rank(); ++i) d.push_back(s[i]);
  return d;
}

void set_tensor_type(onnx::ValueInfoProto* value, const std::string& name, const Shape& per_sample) {
  value->set_name(name);
  onnx::TypeProto_Tensor* type = value->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* shape = type->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  for (int i = 0; i < per_sample.rank(); ++i) shape->add_dim()->set_dim_value(per_sample[i]);
}

void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* entry = model.add_metadata_props();
  entry->set_key(key);
  entry->set_value(value);
}

// The nodes in an order where each comes after its inputs (Graph runs them in such an order, but keeps it
// to itself): declaration order, each node taken once its inputs are placed.
std::vector<size_t> inputs_first_order(const Graph& graph) {
  std::vector<size_t> order;
  std::set<std::string> placed = {Graph::kInput};
  std::vector<bool> done(graph.size(), false);
  while (order.size() < graph.size()) {
    bool progress = false;
    for (size_t i = 0; i < graph.size(); ++i) {
      if (done[i]) continue;
      bool ready = true;
      for (const std::string& in : graph.node_inputs(i)) ready = ready && placed.count(in) > 0;
      if (!ready) continue;
      done[i] = progress = true;
      order.push_back(i);
      placed.insert(graph.node_name(i));
    }
    QUILL_CHECK(progress, "ONNX export: the model's layers form a cycle");
  }
  return order;
}

}  // namespace

std::vector<uint8_t> export_onnx(const ModelRecord& record, const std::string& path) {
  std::unique_ptr<Graph> graph = build_model(record, Device::cpu(), path);
  const std::string where = path + ": ONNX export";
  QUILL_CHECK(graph->output_shape().rank() == 1, where, ": the network's output is ", graph->output_shape().str(),
              " per image; a classifier's is one logit per class");
  QUILL_CHECK(int64_t(record.classes.size()) == graph->output_shape()[0], where, ": ", record.classes.size(),
              " class names for ", graph->output_shape()[0], " outputs");

  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("quill");
  model.set_producer_version(QUILL_VERSION);
  model.set_model_version(1);
  model.set_doc_string("Quill handwriting classifier: input 'image' [N,1,28,28] float32, pixel byte/255 with ink "
                       "bright (255 = ink), framed as metadata quill.framing says; outputs 'probabilities' (softmax) "
                       "and 'logits'.");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);

  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("quill");
  set_tensor_type(g->add_input(), "image", graph->input_shape());

  // The ONNX tensor that holds each Quill node's output. A dropout passes its input's name on; the last
  // node's output is "logits". Other names are the nodes' own, made unique against the reserved ones.
  const std::set<std::string> reserved = {"image", "logits", "probabilities"};
  std::map<std::string, std::string> tensor_of = {{Graph::kInput, "image"}};
  auto fresh_name = [&](const std::string& base) {
    std::string name = base;
    while (reserved.count(name)) name = "node_" + name;
    return name;
  };
  const size_t last = graph->size() - 1;
  for (const size_t i : inputs_first_order(*graph)) {
    Layer& layer = graph->layer(i);
    const std::string node = graph->node_name(i), kind = layer.kind();
    const std::string at = where + ": layer '" + node + "' (" + layer.describe() + ")";
    const std::vector<LayerAttribute> attrs = layer.attributes();
    const std::vector<std::string> input_nodes = graph->node_inputs(i);
    std::vector<std::string> inputs;
    std::vector<Shape> input_shapes;  // per sample
    for (const std::string& in : input_nodes) {
      inputs.push_back(tensor_of.at(in));
      input_shapes.push_back(graph->input_shape());
      for (size_t j = 0; j < graph->size(); ++j)
        if (graph->node_name(j) == in) input_shapes.back() = graph->node_shape(j);
    }
    const std::string out = i == last ? "logits" : fresh_name(node);
    std::vector<Param>& params = layer.params();
    auto param_name = [&](size_t p) { return node + "." + params[p].name; };

    if (kind == "dropout") {
      if (i == last) add_node(g, "Identity", node, inputs, out);
      tensor_of[node] = i == last ? out : inputs[0];
      continue;
    }
    if (kind == "conv") {
      const OnnxWindow win = window_of(attrs, "kernel", at);
      std::vector<std::string> in = {inputs[0], param_name(0)};
      add_initializer(g, param_name(0), params[0].value, dims_of(params[0].shape));
      if (bool_attribute(attrs, "bias", at)) {
        in.push_back(param_name(1));
        add_initializer(g, param_name(1), params[1].value, dims_of(params[1].shape));
      }
      onnx::NodeProto* n = add_node(g, "Conv", node, in, out);
      set_ints(n, "kernel_shape", win.kernel);
      set_ints(n, "strides", win.strides);
      set_ints(n, "pads", win.pads);
      set_ints(n, "dilations", {1, 1});
      set_int(n, "group", 1);
    } else if (kind == "maxpool" || kind == "avgpool") {
      const OnnxWindow win = window_of(attrs, "window", at);
      const bool counts_padding = bool_attribute(attrs, "padding_counts", at);
      QUILL_CHECK(kind == "avgpool" || !counts_padding, at, ": a max pool that counts padding pixels has no ONNX form");
      // Quill's output size rounds down unless the layer says ceil (pooling_pads says how that is written).
      // Its average divides by the window's in-image pixels, ONNX's count_include_pad 0, or with countpad by
      // those in the padded input, count_include_pad 1.
      OnnxWindow written = win;
      int64_t ceil_mode = 0;
      pooling_pads(written, input_shapes[0], bool_attribute(attrs, "ceil_mode", at), counts_padding, at, &ceil_mode);
      onnx::NodeProto* n = add_node(g, kind == "maxpool" ? "MaxPool" : "AveragePool", node, inputs, out);
      set_ints(n, "kernel_shape", written.kernel);
      set_ints(n, "strides", written.strides);
      set_ints(n, "pads", written.pads);
      set_int(n, "ceil_mode", ceil_mode);
      if (kind == "avgpool") set_int(n, "count_include_pad", counts_padding ? 1 : 0);
    } else if (kind == "relu") {
      add_node(g, "Relu", node, inputs, out);
    } else if (kind == "leaky") {
      onnx::NodeProto* n = add_node(g, "LeakyRelu", node, inputs, out);
      set_float(n, "alpha", real_attribute(attrs, "negative_slope", at));
    } else if (kind == "tanh") {
      add_node(g, "Tanh", node, inputs, out);
    } else if (kind == "sigmoid") {
      add_node(g, "Sigmoid", node, inputs, out);
    } else if (kind == "dense") {
      std::string x = inputs[0];
      if (input_shapes[0].rank() != 1) {  // dense flattens its input
        x = fresh_name(node + ".flatten");
        set_int(add_node(g, "Flatten", node + ".flatten", inputs, x), "axis", 1);
      }
      // Quill's weight is [units, inputs]: y = x W^T + b, Gemm with transB.
      std::vector<std::string> in = {x, param_name(0)};
      add_initializer(g, param_name(0), params[0].value, dims_of(params[0].shape));
      if (bool_attribute(attrs, "bias", at)) {
        in.push_back(param_name(1));
        add_initializer(g, param_name(1), params[1].value, dims_of(params[1].shape));
      }
      onnx::NodeProto* n = add_node(g, "Gemm", node, in, out);
      set_int(n, "transB", 1);
    } else if (kind == "bn") {
      // Inference: (x - running mean) / sqrt(running var + eps) * gamma + beta, as Quill evaluates; the
      // running variance is used as stored (Quill's is the unbiased one, PyTorch's convention).
      std::vector<Tensor*> buffers = layer.buffers();
      QUILL_CHECK(buffers.size() == 2 && params.size() == 2, at, ": expected gamma, beta, running mean and variance");
      const std::vector<int64_t> c = {params[0].shape.numel()};
      add_initializer(g, param_name(0), params[0].value, c);
      add_initializer(g, param_name(1), params[1].value, c);
      add_initializer(g, node + ".running_mean", *buffers[0], c);
      add_initializer(g, node + ".running_var", *buffers[1], c);
      onnx::NodeProto* n = add_node(g, "BatchNormalization", node,
                                    {inputs[0], param_name(0), param_name(1), node + ".running_mean", node + ".running_var"}, out);
      set_float(n, "epsilon", real_attribute(attrs, "eps", at));
      set_float(n, "momentum", 1.0 - real_attribute(attrs, "momentum", at));  // ONNX: r = r * momentum + batch * (1 - momentum)
    } else if (kind == "flatten") {
      set_int(add_node(g, "Flatten", node, inputs, out), "axis", 1);
    } else if (kind == "add") {
      add_node(g, "Add", node, inputs, out);
    } else {
      QUILL_CHECK(false, at, ": layer kind '", kind, "' has no ONNX export");
    }
    tensor_of[node] = out;
  }
  set_int(add_node(g, "Softmax", "softmax", {"logits"}, "probabilities"), "axis", 1);
  set_tensor_type(g->add_output(), "probabilities", graph->output_shape());
  set_tensor_type(g->add_output(), "logits", graph->output_shape());

  add_metadata(model, "quill.version", QUILL_VERSION);
  add_metadata(model, "quill.classes", nlohmann::json(record.classes).dump());
  add_metadata(model, "quill.framing", framing_name(record.framing));
  add_metadata(model, "quill.framing_summary", framing_summary(record.framing));
  add_metadata(model, "quill.input",
               "image: float32 [N,1,28,28], pixel byte/255 in [0,1], 255 = ink (bright ink on a dark background), "
               "the character framed by the quill.framing convention");
  add_metadata(model, "quill.description", record.description);

  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    QUILL_CHECK(false, where, ": ONNX's checker refused the graph: ", e.what());
  }
  std::string bytes;
  QUILL_CHECK(model.SerializeToString(&bytes), where, ": the ONNX model could not be serialized");
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

void export_onnx_file(const std::string& model_path, const std::string& onnx_path) {
  const ModelRecord record = load_model_file(model_path);
  write_file_atomically(onnx_path, export_onnx(record, model_path));
}

}  // namespace quill
