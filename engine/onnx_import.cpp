#include "engine/onnx_import.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>

#include "engine/atomic_file.h"
#include "engine/onnx_export.h"
#include "layers/layer_args.h"
#include "layers/model_description.h"
#include "runtime/error.h"
#include "runtime/geometry.h"

namespace quill {
namespace {

// ---- constants: initializers, Constant nodes and bound inputs -------------------------------------------

// A tensor of the file, its values widened to double (float32 and the integers a CNN graph holds convert
// exactly; int64 beyond 2^53 is refused).
struct Constant {
  int32_t type = 0;  // onnx::TensorProto::DataType
  std::vector<int64_t> dims;
  std::vector<double> values;
  int64_t numel() const { return int64_t(values.size()); }
};

std::string type_name(int32_t type) {
  if (onnx::TensorProto_DataType_IsValid(type))
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(type));
  return "an unknown type";
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

template <class T>
void copy_raw(const std::string& raw, std::vector<double>& out) {
  for (size_t i = 0; i < out.size(); ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));  // little-endian, as ONNX stores raw_data
    out[i] = double(v);
  }
}

Constant read_constant(const onnx::TensorProto& t, const std::string& where) {
  const std::string what = where + ": tensor '" + t.name() + "'";
  QUILL_CHECK(t.data_location() != onnx::TensorProto::EXTERNAL && t.external_data_size() == 0, what,
              " keeps its values in an external file; Quill reads only self-contained .onnx files");
  QUILL_CHECK(!t.has_segment(), what, " is a segment of a larger tensor, which Quill does not read");
  Constant c;
  c.type = t.data_type();
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    QUILL_CHECK(d >= 0 && (d == 0 || n <= kOnnxMaxTensorValues / d), what, " has dims ",
                dims_str(std::vector<int64_t>(t.dims().begin(), t.dims().end())), ", more than ",
                kOnnxMaxTensorValues, " values or negative");
    n *= d;
    c.dims.push_back(d);
  }
  size_t element = 0;
  switch (c.type) {
    case onnx::TensorProto::FLOAT: element = 4; break;
    case onnx::TensorProto::DOUBLE: element = 8; break;
    case onnx::TensorProto::INT64: element = 8; break;
    case onnx::TensorProto::INT32: element = 4; break;
    case onnx::TensorProto::BOOL: element = 1; break;
    default: throw OnnxUnsupported(what + " holds " + type_name(c.type) + " values; Quill reads float, double, int64, int32 and bool");
  }
  // The values are checked to be there before any memory is taken for them (dims alone may claim 2^28).
  if (t.has_raw_data()) {
    QUILL_CHECK(t.raw_data().size() == size_t(n) * element, what, " holds ", t.raw_data().size(), " bytes for ", n,
                " values of ", element, " bytes");
    c.values.resize(size_t(n));
    if (c.type == onnx::TensorProto::FLOAT) copy_raw<float>(t.raw_data(), c.values);
    if (c.type == onnx::TensorProto::DOUBLE) copy_raw<double>(t.raw_data(), c.values);
    if (c.type == onnx::TensorProto::INT64) copy_raw<int64_t>(t.raw_data(), c.values);
    if (c.type == onnx::TensorProto::INT32) copy_raw<int32_t>(t.raw_data(), c.values);
    if (c.type == onnx::TensorProto::BOOL) copy_raw<uint8_t>(t.raw_data(), c.values);
    return c;
  }
  auto take = [&](const auto& field) {
    QUILL_CHECK(field.size() == n, what, " holds ", field.size(), " values for dims ", dims_str(c.dims));
    c.values.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) c.values[size_t(i)] = double(field.Get(int(i)));
  };
  if (c.type == onnx::TensorProto::FLOAT) take(t.float_data());
  if (c.type == onnx::TensorProto::DOUBLE) take(t.double_data());
  if (c.type == onnx::TensorProto::INT64) take(t.int64_data());
  if (c.type == onnx::TensorProto::INT32 || c.type == onnx::TensorProto::BOOL) take(t.int32_data());
  return c;
}

bool is_real(const Constant& c) { return c.type == onnx::TensorProto::FLOAT || c.type == onnx::TensorProto::DOUBLE; }

// ---- attributes -------------------------------------------------------------------------------------------

// A node being read: its attributes are looked up by name, and those left unread at the end are refused
// (an attribute Quill does not know changes what the node computes).
class NodeReader {
 public:
  NodeReader(const onnx::NodeProto& node, std::string where) : node_(node), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

  const onnx::AttributeProto* find(const std::string& name) {
    for (const onnx::AttributeProto& a : node_.attribute())
      if (a.name() == name) {
        read_.insert(name);
        return &a;
      }
    return nullptr;
  }
  int64_t integer(const std::string& name, int64_t fallback) {
    const onnx::AttributeProto* a = find(name);
    if (!a) return fallback;
    QUILL_CHECK(a->type() == onnx::AttributeProto::INT, where_, ": attribute '", name, "' is not an integer");
    return a->i();
  }
  double real(const std::string& name, double fallback) {
    const onnx::AttributeProto* a = find(name);
    if (!a) return fallback;
    QUILL_CHECK(a->type() == onnx::AttributeProto::FLOAT, where_, ": attribute '", name, "' is not a float");
    return a->f();
  }
  std::string text(const std::string& name, const std::string& fallback) {
    const onnx::AttributeProto* a = find(name);
    if (!a) return fallback;
    QUILL_CHECK(a->type() == onnx::AttributeProto::STRING, where_, ": attribute '", name, "' is not a string");
    return a->s();
  }
  std::vector<int64_t> integers(const std::string& name, std::vector<int64_t> fallback) {
    const onnx::AttributeProto* a = find(name);
    if (!a) return fallback;
    QUILL_CHECK(a->type() == onnx::AttributeProto::INTS, where_, ": attribute '", name, "' is not a list of integers");
    QUILL_CHECK(a->ints_size() <= 16, where_, ": attribute '", name, "' has ", a->ints_size(), " values");
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  [[noreturn]] void unsupported(const std::string& attribute, const std::string& why) const {
    throw OnnxUnsupported(where_ + ": attribute '" + attribute + "' " + why);
  }
  // Refuses any attribute not read.
  void finish() const {
    for (const onnx::AttributeProto& a : node_.attribute())
      if (!read_.count(a.name())) unsupported(a.name(), "is not supported");
  }

 private:
  const onnx::NodeProto& node_;
  std::string where_;
  std::set<std::string> read_;
};

// The shortest decimal that reads back as the same float32 (a LeakyRelu alpha of 0.01f prints as 0.01).
std::string float_text(double v) {
  char buffer[64];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, v);
    if (float(std::strtod(buffer, nullptr)) == float(v)) break;
  }
  return buffer;
}

// ---- the network being assembled ---------------------------------------------------------------------------

// A tensor of the graph computed at run time: the Quill node that computes it ("input" for the graph input)
// and its per-sample shape. `flattened`: the node's output read as [numel] (a Flatten a dense layer makes
// itself; a line is written only when something else reads it).
struct Value {
  std::string node;
  Shape shape;
  bool flattened = false;
};

struct Line {
  std::string name;                 // Quill node name
  std::vector<std::string> words;   // the layer
  std::vector<std::string> inputs;  // Quill node names
  std::map<std::string, Constant> params;  // by Quill param name ("w", "b", "gamma", "beta")
  std::vector<Constant> buffers;    // running mean and variance of a batch norm
};

class Importer {
 public:
  Importer(const onnx::ModelProto& model, std::string path, const OnnxImportOptions& options)
      : model_(model), path_(std::move(path)), options_(options) {}

  OnnxImport run();

 private:
  void read_opset();
  void read_constants();
  std::string read_input();
  std::vector<const onnx::NodeProto*> live_nodes_in_order(const std::string& output);
  std::string choose_output();
  void convert(const onnx::NodeProto& node);
  std::string materialize(const Value& v);  // the Quill node holding v (adds a flatten line if needed)
  const Value& value(const std::string& name, const std::string& where);
  const Constant& constant(const std::string& name, const std::string& where);
  bool has_constant(const std::string& name) const { return constants_.count(name) > 0; }
  std::string new_name(const std::string& kind);
  void emit(Line line, const std::string& output, Shape shape, const std::vector<Value>& inputs);
  std::string description_text() const;
  ModelRecord build_record(const std::string& description, const Shape& input_shape, DType dtype,
                           const std::map<std::string, const Constant*>& params_by_name,
                           const std::vector<const Constant*>& buffers) const;
  bool try_quill_description(OnnxImport& result);

  const onnx::ModelProto& model_;
  std::string path_;
  const OnnxImportOptions& options_;
  int64_t opset_ = 0;
  std::map<std::string, Constant> constants_;
  std::map<std::string, Value> values_;
  std::vector<Line> lines_;
  std::set<std::string> names_ = {Graph::kInput};
  std::map<std::string, int> kind_counts_;
  std::vector<std::string> notes_;
  Shape input_shape_;
  DType dtype_ = DType::F32;
  std::string input_name_;
};

void Importer::read_opset() {
  for (const onnx::OperatorSetIdProto& o : model_.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
  QUILL_CHECK(opset_ > 0, path_, ": the model imports no version of the standard ONNX operator set");
}

void Importer::read_constants() {
  const onnx::GraphProto& g = model_.graph();
  for (const onnx::TensorProto& t : g.initializer()) constants_[t.name()] = read_constant(t, path_);
  QUILL_CHECK(g.sparse_initializer_size() == 0, path_, ": sparse initializers are not read");
  for (const auto& [name, bytes] : options_.bound_inputs) {
    onnx::TensorProto t;
    QUILL_CHECK(t.ParseFromString(bytes), path_, ": the value bound to input '", name, "' is not a TensorProto");
    constants_[name] = read_constant(t, path_ + " (input '" + name + "')");
  }
}

// The one graph input that is not a constant: float32 or float64 [N, ...], N the batch.
std::string Importer::read_input() {
  const onnx::ValueInfoProto* input = nullptr;
  for (const onnx::ValueInfoProto& v : model_.graph().input()) {
    if (constants_.count(v.name())) continue;
    QUILL_CHECK(input == nullptr, path_, ": the graph has more than one input ('", input ? input->name() : "", "', '",
                v.name(), "'); Quill's networks take one image batch");
    input = &v;
  }
  if (input == nullptr) throw OnnxUnsupported(path_ + ": the graph has no input; Quill's networks take an image batch");
  const std::string where = path_ + ": input '" + input->name() + "'";
  if (!input->type().has_tensor_type()) throw OnnxUnsupported(where + " is not a tensor (a sequence, map or optional)");
  const onnx::TypeProto_Tensor& t = input->type().tensor_type();
  if (t.elem_type() == onnx::TensorProto::FLOAT)
    dtype_ = DType::F32;
  else if (t.elem_type() == onnx::TensorProto::DOUBLE)
    dtype_ = DType::F64;
  else
    throw OnnxUnsupported(where + " is " + type_name(t.elem_type()) + "; Quill computes in float32 or float64");
  QUILL_CHECK(t.has_shape(), where, " has no shape");
  const int rank = t.shape().dim_size();
  if (rank < 2 || rank > Shape::kMaxRank)
    throw OnnxUnsupported(where + " has rank " + std::to_string(rank) +
                          "; Quill takes a batch of 1 to 3 dimensional samples ([N, C, H, W] at most)");
  for (int i = 1; i < rank; ++i) {
    const onnx::TensorShapeProto_Dimension& d = t.shape().dim(i);
    if (!d.has_dim_value()) throw OnnxUnsupported(where + ": dimension " + std::to_string(i) + " is not fixed; only the batch may vary");
    QUILL_CHECK(d.dim_value() > 0 && d.dim_value() <= (int64_t(1) << 24), where, ": dimension ", i, " is ", d.dim_value());
    input_shape_.push_back(d.dim_value());
  }
  QUILL_CHECK(input_shape_.numel() <= (int64_t(1) << 24), where, ": ", input_shape_.numel(), " values per sample");
  values_[input->name()] = Value{Graph::kInput, input_shape_};
  input_name_ = input->name();
  return input->name();
}

// The graph's output Quill computes: its only output, or the logits of the probabilities Quill exports. A
// Softmax at the end is noted (output_function) and the network stops before it.
std::string Importer::choose_output() {
  const onnx::GraphProto& g = model_.graph();
  QUILL_CHECK(g.output_size() >= 1, path_, ": the graph has no output");
  if (g.output_size() == 1) return g.output(0).name();
  if (g.output_size() == 2) {
    // Quill's own export: "probabilities" = Softmax("logits").
    for (const onnx::NodeProto& n : g.node())
      if (n.op_type() == "Softmax" && n.output_size() == 1 && n.input_size() == 1 &&
          n.output(0) == g.output(0).name() && n.input(0) == g.output(1).name())
        return g.output(0).name();
  }
  throw OnnxUnsupported(path_ + ": the graph has " + std::to_string(g.output_size()) +
                        " outputs; Quill's networks have one (or probabilities and the logits before them)");
}

// The nodes the output depends on, each after the nodes whose outputs it reads. Refuses cycles and names that
// nothing defines.
std::vector<const onnx::NodeProto*> Importer::live_nodes_in_order(const std::string& output) {
  const onnx::GraphProto& g = model_.graph();
  QUILL_CHECK(g.node_size() <= kOnnxMaxNodes, path_, ": ", g.node_size(), " nodes, more than ", kOnnxMaxNodes);
  std::map<std::string, int> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const std::string& out : g.node(i).output()) {
      if (out.empty()) continue;
      QUILL_CHECK(!constants_.count(out) && out != input_name_ && producer.emplace(out, i).second, path_,
                  ": tensor '", out, "' is defined twice");
    }
  // Depth-first from the output, iteratively (a hostile chain of nodes must not overflow the stack).
  enum State { Unseen, Open, Done };
  std::vector<State> state(size_t(g.node_size()), Unseen);
  std::vector<const onnx::NodeProto*> order;
  auto producer_of = [&](const std::string& name, const std::string& where) -> int {
    if (name.empty() || constants_.count(name) || name == input_name_) return -1;
    auto it = producer.find(name);
    QUILL_CHECK(it != producer.end(), where, ": tensor '", name, "' is not defined by any node, input or initializer");
    return it->second;
  };
  const int root = producer_of(output, path_ + ": output");
  if (root < 0) return order;
  std::vector<std::pair<int, int>> stack = {{root, 0}};  // node, next input to visit
  state[size_t(root)] = Open;
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    const onnx::NodeProto& n = g.node(node);
    if (next < n.input_size()) {
      const int dep = producer_of(n.input(next++), path_ + ": node '" + n.name() + "'");
      if (dep < 0) continue;
      QUILL_CHECK(state[size_t(dep)] != Open, path_, ": the graph has a cycle through node '", g.node(dep).name(), "' (",
                  g.node(dep).op_type(), ")");
      if (state[size_t(dep)] == Unseen) {
        state[size_t(dep)] = Open;
        stack.push_back({dep, 0});
      }
    } else {
      state[size_t(node)] = Done;
      order.push_back(&n);
      stack.pop_back();
    }
  }
  return order;
}

const Value& Importer::value(const std::string& name, const std::string& where) {
  auto it = values_.find(name);
  if (it == values_.end()) {
    if (constants_.count(name))
      throw OnnxUnsupported(where + ": input '" + name + "' is a constant where Quill's layer takes a computed tensor");
    fail(where, ": input '", name, "' is not computed by any node before it");
  }
  return it->second;
}

const Constant& Importer::constant(const std::string& name, const std::string& where) {
  auto it = constants_.find(name);
  if (it == constants_.end())
    throw OnnxUnsupported(where + ": input '" + name + "' is computed; Quill needs it as a constant (an initializer)");
  return it->second;
}

// Quill's own naming: the layer's kind and a count (conv1, relu2, dense1), as a description without `as` gets.
std::string Importer::new_name(const std::string& kind) {
  std::string name;
  do name = kind + std::to_string(++kind_counts_[kind]);
  while (names_.count(name));
  names_.insert(name);
  return name;
}

std::string Importer::materialize(const Value& v) {
  if (!v.flattened) return v.node;
  // A flatten line for a reader other than a dense layer; reused by later readers.
  const std::string key = v.node + "#flat";
  auto it = values_.find(key);
  if (it != values_.end()) return it->second.node;
  Line line;
  line.name = new_name("flatten");
  line.words = {"flatten"};
  line.inputs = {v.node};
  lines_.push_back(line);
  values_[key] = Value{line.name, v.shape};
  return line.name;
}

void Importer::emit(Line line, const std::string& output, Shape shape, const std::vector<Value>& inputs) {
  for (const Value& in : inputs) line.inputs.push_back(materialize(in));  // a flatten line comes first
  line.name = new_name(line.words.at(0));
  values_[output] = Value{line.name, shape};
  lines_.push_back(std::move(line));
}

// The padding of one axis, (before, after): explicit pads, or from auto_pad. SAME_UPPER puts an odd pixel
// after, SAME_LOWER before.
std::pair<int64_t, int64_t> axis_pads(NodeReader& r, const std::string& auto_pad, int64_t begin, int64_t end,
                                      int64_t size, int64_t kernel, int64_t stride) {
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const int64_t out = (size + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
    const int64_t small = total / 2, large = total - small;
    return auto_pad == "SAME_UPPER" ? std::make_pair(small, large) : std::make_pair(large, small);
  }
  if (auto_pad == "VALID") return {0, 0};
  if (auto_pad != "NOTSET" && !auto_pad.empty()) r.unsupported("auto_pad", "= " + auto_pad + " is not an ONNX value");
  return {begin, end};
}

// Reads kernel_shape, strides, pads and auto_pad of a 2-D window over [C, H, W]: per axis, padding per side.
WindowArgs read_window(NodeReader& r, const Shape& x, std::vector<int64_t> kernel, const std::string& op) {
  if (kernel.size() != 2)
    throw OnnxUnsupported(r.where() + ": a " + std::to_string(kernel.size()) + "-D " + op + "; Quill's are 2-D");
  std::vector<int64_t> strides = r.integers("strides", {1, 1});
  std::vector<int64_t> pads = r.integers("pads", {0, 0, 0, 0});
  const std::string auto_pad = r.text("auto_pad", "NOTSET");
  QUILL_CHECK(strides.size() == 2 && pads.size() == 4, r.where(), ": strides or pads of the wrong length");
  for (int64_t v : kernel) QUILL_CHECK(v >= 1 && v <= 4096, r.where(), ": kernel size ", v);
  for (int64_t v : strides) QUILL_CHECK(v >= 1 && v <= 4096, r.where(), ": stride ", v);
  for (int64_t v : pads) QUILL_CHECK(v >= 0 && v <= 4096, r.where(), ": padding ", v);
  const auto [top, bottom] = axis_pads(r, auto_pad, pads[0], pads[2], x[1], kernel[0], strides[0]);
  const auto [left, right] = axis_pads(r, auto_pad, pads[1], pads[3], x[2], kernel[1], strides[1]);
  // Quill's layers take padding smaller than the window on every side (a window of padding alone has no
  // maximum, and a convolution over it adds nothing but its bias).
  if (top >= kernel[0] || bottom >= kernel[0] || left >= kernel[1] || right >= kernel[1])
    r.unsupported("pads", dims_str({top, left, bottom, right}) + " are not all smaller than the window " +
                              dims_str(kernel) + "; Quill's padding is");
  WindowArgs w;
  w.kh = int(kernel[0]), w.kw = int(kernel[1]), w.sh = int(strides[0]), w.sw = int(strides[1]);
  w.pt = int(top), w.pb = int(bottom), w.pl = int(left), w.pr = int(right);
  return w;
}

// The description words of a window's stride and padding, as the layers read them.
void add_window_words(std::vector<std::string>& words, const WindowArgs& w, int default_sh, int default_sw) {
  std::istringstream in(w.describe_stride_and_padding(default_sh, default_sw));
  for (std::string word; in >> word;) words.push_back(word);
}

void check_rank3(const Value& x, const std::string& where, const std::string& op) {
  if (x.shape.rank() != 3)
    throw OnnxUnsupported(where + ": " + op + " of a " + std::to_string(x.shape.rank() + 1) +
                          "-D tensor; Quill's take [N, C, H, W]");
}

Constant transposed(const Constant& m) {
  Constant t = m;
  const int64_t rows = m.dims[0], cols = m.dims[1];
  t.dims = {cols, rows};
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t.values[size_t(j * rows + i)] = m.values[size_t(i * cols + j)];
  return t;
}

void Importer::convert(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  const std::string where = path_ + ": node '" + node.name() + "' (" + op + ")";
  NodeReader r(node, where);
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    throw OnnxUnsupported(where + ": operator domain '" + node.domain() + "' is not ONNX's; Quill reads only ONNX's own ops");
  QUILL_CHECK(node.output_size() >= 1 && !node.output(0).empty(), where, ": the node has no output");
  auto only_outputs = [&](int n, const char* what) {
    for (int i = n; i < node.output_size(); ++i)
      if (!node.output(i).empty())
        throw OnnxUnsupported(where + ": output " + std::to_string(i) + " (" + what + ") is not computed by Quill");
  };
  auto inputs_at_most = [&](int n) {
    QUILL_CHECK(node.input_size() >= 1 && node.input_size() <= n, where, ": ", node.input_size(), " inputs");
  };
  const std::string& out = node.output(0);

  if (op == "Constant") {
    const onnx::AttributeProto* a = r.find("value");
    if (!a || a->type() != onnx::AttributeProto::TENSOR)
      throw OnnxUnsupported(where + ": only a Constant with a 'value' tensor is read");
    r.finish();
    Constant c = read_constant(a->t(), where);
    constants_[out] = std::move(c);
    return;
  }
  if (op == "Identity" || op == "Dropout") {
    inputs_at_most(op == "Dropout" ? 3 : 1);
    const Value x = value(node.input(0), where);
    if (op == "Dropout") {
      only_outputs(1, "the mask");
      r.real("ratio", 0.5);       // opset < 12
      r.integer("is_test", 1);    // opset < 7
      r.integer("seed", 0);
      if (node.input_size() >= 3 && !node.input(2).empty()) {
        const Constant& training = constant(node.input(2), where);
        if (training.numel() != 1 || training.values[0] != 0)
          throw OnnxUnsupported(where + ": training_mode is on; Quill imports networks for inference");
      }
      if (node.input_size() >= 2 && !node.input(1).empty()) constant(node.input(1), where);
    }
    r.finish();
    values_[out] = x;  // the identity in inference: no layer
    return;
  }

  Line line;  // named by emit
  if (op == "Conv") {
    inputs_at_most(3);
    QUILL_CHECK(node.input_size() >= 2, where, ": no weight input");
    only_outputs(1, "");
    const Value x = value(node.input(0), where);
    check_rank3(x, where, op);
    const Constant& w = constant(node.input(1), where);
    QUILL_CHECK(w.dims.size() == 4 && is_real(w), where, ": the weight is ", dims_str(w.dims), ", not [K, C, R, S]");
    const std::vector<int64_t> kernel = r.integers("kernel_shape", {w.dims[2], w.dims[3]});
    QUILL_CHECK(kernel.size() == 2 && kernel[0] == w.dims[2] && kernel[1] == w.dims[3], where, ": kernel_shape ",
                dims_str(kernel), " does not match the weight ", dims_str(w.dims));
    if (r.integer("group", 1) != 1) r.unsupported("group", "is not 1; Quill's convolutions are not grouped");
    for (int64_t d : r.integers("dilations", {1, 1}))
      if (d != 1) r.unsupported("dilations", "are not 1; Quill's convolutions are not dilated");
    const WindowArgs win = read_window(r, x.shape, kernel, op);
    r.finish();
    QUILL_CHECK(w.dims[1] == x.shape[0], where, ": the weight ", dims_str(w.dims), " for ", x.shape[0], " input channels");
    line.words = {"conv", std::to_string(w.dims[0]), "k" + pair_text(win.kh, win.kw)};
    add_window_words(line.words, win, 1, 1);
    line.params["w"] = w;
    if (node.input_size() == 3 && !node.input(2).empty()) {
      const Constant& b = constant(node.input(2), where);
      QUILL_CHECK(b.numel() == w.dims[0] && is_real(b), where, ": the bias has ", b.numel(), " values for ", w.dims[0], " filters");
      line.params["b"] = b;
    } else {
      line.words.push_back("nobias");
    }
    ConvGeometry g;
    g.h = int(x.shape[1]), g.w = int(x.shape[2]), g.r = win.kh, g.s = win.kw, g.stride_h = win.sh, g.stride_w = win.sw;
    g.pad_h = win.pt, g.pad_h_end = win.pb, g.pad_w = win.pl, g.pad_w_end = win.pr;
    QUILL_CHECK(g.h + win.pt + win.pb >= win.kh && g.w + win.pl + win.pr >= win.kw, where,
                ": the kernel is larger than the padded input ", x.shape.str());
    const int64_t p = g.p(), q = g.q();
    emit(std::move(line), out, Shape{w.dims[0], p, q}, {x});
    return;
  }
  if (op == "MaxPool" || op == "AveragePool") {
    inputs_at_most(1);
    only_outputs(1, "the indices");
    const Value x = value(node.input(0), where);
    check_rank3(x, where, op);
    const onnx::AttributeProto* k = r.find("kernel_shape");
    QUILL_CHECK(k && k->type() == onnx::AttributeProto::INTS, where, ": no kernel_shape");
    const WindowArgs win = read_window(r, x.shape, std::vector<int64_t>(k->ints().begin(), k->ints().end()), op);
    for (int64_t d : r.integers("dilations", {1, 1}))
      if (d != 1) r.unsupported("dilations", "are not 1; Quill's pooling windows are not dilated");
    if (r.integer("storage_order", 0) != 0) r.unsupported("storage_order", "is column-major");
    const bool padded = win.pt || win.pb || win.pl || win.pr;
    PoolGeometry g;
    g.h = int(x.shape[1]), g.w = int(x.shape[2]), g.kh = win.kh, g.kw = win.kw, g.stride_h = win.sh, g.stride_w = win.sw;
    g.pad_h = win.pt, g.pad_h_end = win.pb, g.pad_w = win.pl, g.pad_w_end = win.pr;
    QUILL_CHECK(g.h + win.pt + win.pb >= win.kh && g.w + win.pl + win.pr >= win.kw, where,
                ": the window is larger than the padded input ", x.shape.str());
    const int64_t floor_p = g.p(), floor_q = g.q();
    g.ceil_mode = r.integer("ceil_mode", 0) != 0;
    // ceil_mode only where it changes the size: the description stays the one without it otherwise.
    const bool ceil = g.ceil_mode && (g.p() != floor_p || g.q() != floor_q);
    // count_include_pad only where there is padding to count (past the padded input, with ceil, none counts).
    const bool count_pad = op == "AveragePool" && r.integer("count_include_pad", 0) != 0 && padded;
    r.finish();
    const int64_t p = g.p(), q = g.q();
    line.words = {op == "MaxPool" ? "maxpool" : "avgpool", pair_text(win.kh, win.kw)};
    add_window_words(line.words, win, win.kh, win.kw);
    if (ceil) line.words.push_back("ceil");
    if (count_pad) line.words.push_back("countpad");
    emit(std::move(line), out, Shape{x.shape[0], p, q}, {x});
    return;
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    inputs_at_most(1);
    const Value x = value(node.input(0), where);
    check_rank3(x, where, op);
    r.finish();
    QUILL_CHECK(x.shape[1] <= 9999 && x.shape[2] <= 9999, where, ": the input ", x.shape.str(),
                " is larger than a pooling window may be");
    line.words = {op == "GlobalMaxPool" ? "maxpool" : "avgpool", pair_text(int(x.shape[1]), int(x.shape[2]))};
    emit(std::move(line), out, Shape{x.shape[0], 1, 1}, {x});
    return;
  }
  if (op == "Relu" || op == "Tanh" || op == "Sigmoid" || op == "LeakyRelu") {
    inputs_at_most(1);
    const Value x = value(node.input(0), where);
    if (op == "LeakyRelu")
      line.words = {"leaky", float_text(r.real("alpha", 0.01))};
    else
      line.words = {op == "Relu" ? "relu" : op == "Tanh" ? "tanh" : "sigmoid"};
    r.finish();
    emit(std::move(line), out, x.shape, {x});
    return;
  }
  if (op == "Gemm" || op == "MatMul") {
    inputs_at_most(op == "Gemm" ? 3 : 2);
    QUILL_CHECK(node.input_size() >= 2, where, ": ", node.input_size(), " inputs");
    const Value x = value(node.input(0), where);
    if (x.shape.rank() != 1)
      throw OnnxUnsupported(where + ": the input is " + std::to_string(x.shape.rank() + 1) +
                            "-D; Quill's dense layer multiplies [N, K] by a matrix");
    const Constant& b = constant(node.input(1), where);
    QUILL_CHECK(b.dims.size() == 2 && is_real(b), where, ": the matrix is ", dims_str(b.dims));
    double alpha = 1, beta = 1;
    bool trans_b = false;
    if (op == "Gemm") {
      alpha = r.real("alpha", 1.0);
      beta = r.real("beta", 1.0);
      if (r.integer("transA", 0) != 0) r.unsupported("transA", "is 1; Quill multiplies the batch [N, K] as it is");
      trans_b = r.integer("transB", 0) != 0;
    }
    r.finish();
    Constant w = trans_b ? b : transposed(b);  // Quill's weight is [units, inputs]
    QUILL_CHECK(w.dims[1] == x.shape[0], where, ": a ", dims_str(b.dims), " matrix for ", x.shape[0], " inputs");
    const int64_t units = w.dims[0];
    if (alpha != 1) {
      for (double& v : w.values) v *= alpha;
      notes_.push_back(node.name() + ": Gemm's alpha folded into the weight");
    }
    line.words = {"dense", std::to_string(units)};
    line.params["w"] = w;
    if (op == "Gemm" && node.input_size() == 3 && !node.input(2).empty()) {
      Constant c = constant(node.input(2), where);
      QUILL_CHECK(is_real(c), where, ": the bias C holds ", type_name(c.type));
      const bool per_unit = c.numel() == units && (c.dims.size() == 1 || (c.dims.size() == 2 && c.dims[0] == 1));
      const bool scalar = c.numel() == 1 && c.dims.size() <= 2;
      if (!per_unit && !scalar)
        throw OnnxUnsupported(where + ": the bias C is " + dims_str(c.dims) + "; Quill's dense bias is one value per unit");
      Constant bias;
      bias.type = c.type;
      bias.dims = {units};
      bias.values.assign(size_t(units), 0.0);
      for (int64_t i = 0; i < units; ++i) bias.values[size_t(i)] = beta * c.values[per_unit ? size_t(i) : 0];
      line.params["b"] = bias;
    } else {
      line.words.push_back("nobias");
    }
    Value unflattened = x;  // Quill's dense layer flattens its input itself
    unflattened.flattened = false;
    emit(std::move(line), out, Shape{units}, {unflattened});
    return;
  }
  if (op == "BatchNormalization") {
    QUILL_CHECK(node.input_size() == 5, where, ": ", node.input_size(), " inputs, not 5");
    only_outputs(1, "the running statistics of training");
    const Value x = value(node.input(0), where);
    if (x.shape.rank() != 3 && x.shape.rank() != 1)
      throw OnnxUnsupported(where + ": the input is " + std::to_string(x.shape.rank() + 1) +
                            "-D; Quill's batch norm takes [N, C, H, W] or [N, C]");
    const int64_t c = x.shape[0];
    std::vector<Constant> v;
    for (int i = 1; i < 5; ++i) {
      v.push_back(constant(node.input(i), where));
      QUILL_CHECK(v.back().numel() == c && is_real(v.back()), where, ": input ", i, " has ", v.back().numel(),
                  " values for ", c, " channels");
      v.back().dims = {c};
    }
    const double eps = r.real("epsilon", 1e-5);
    r.real("momentum", 0.9);  // training only
    if (r.integer("training_mode", 0) != 0) r.unsupported("training_mode", "is 1; Quill imports networks for inference");
    if (r.integer("spatial", 1) != 1) r.unsupported("spatial", "is 0 (statistics per pixel); Quill's are per channel");
    r.integer("is_test", 1);  // opset < 7
    r.finish();
    // Quill's batch norm divides by sqrt(var + 1e-5): another epsilon is folded into the variance.
    constexpr double kQuillEps = 1e-5;
    if (float(eps) != float(kQuillEps)) {  // ONNX holds epsilon as a float32
      for (double& var : v[3].values) {
        var += eps - kQuillEps;
        if (var < 0) r.unsupported("epsilon", "is smaller than Quill's 1e-5 by more than a channel's variance");
      }
      notes_.push_back(node.name() + ": batch norm epsilon " + float_text(eps) + " folded into the running variance");
    }
    line.words = {"bn"};
    line.params["gamma"] = v[0];
    line.params["beta"] = v[1];
    line.buffers = {v[2], v[3]};
    emit(std::move(line), out, x.shape, {x});
    return;
  }
  if (op == "Flatten" || op == "Reshape") {
    inputs_at_most(2);
    const Value x = value(node.input(0), where);
    bool to_batch_rows = false;
    if (op == "Flatten") {
      inputs_at_most(1);
      int64_t axis = r.integer("axis", 1);
      if (axis < 0) axis += x.shape.rank() + 1;
      if (axis != 1) r.unsupported("axis", "is " + std::to_string(axis) + "; Quill flattens each sample to [N, features] (axis 1)");
      to_batch_rows = true;
    } else {
      QUILL_CHECK(node.input_size() == 2, where, ": ", node.input_size(), " inputs");
      r.integer("allowzero", 0);
      const Constant& s = constant(node.input(1), where);
      const int64_t features = x.shape.numel();
      const bool batch_first = s.numel() == 2 && (s.values[0] == 0 || s.values[0] == -1);
      const bool ok = batch_first && (s.values[1] == double(features) || (s.values[0] == 0 && s.values[1] == -1));
      if (!ok) throw OnnxUnsupported(where + ": a reshape to " + dims_str(std::vector<int64_t>(s.values.begin(), s.values.end())) +
                                     "; Quill reshapes only to [N, features]");
      to_batch_rows = true;
    }
    r.finish();
    // A flatten Quill's dense layer does itself: a line only when something else reads it.
    Value flat = x;
    flat.shape = Shape{x.shape.numel()};
    flat.flattened = to_batch_rows && x.shape.rank() != 1;
    values_[out] = flat;
    return;
  }
  if (op == "Add") {
    QUILL_CHECK(node.input_size() == 2, where, ": ", node.input_size(), " inputs");
    const Value a = value(node.input(0), where), b = value(node.input(1), where);
    r.finish();
    if (a.shape != b.shape)
      throw OnnxUnsupported(where + ": adds " + a.shape.str() + " and " + b.shape.str() + "; Quill adds tensors of one shape");
    line.words = {"add"};
    emit(std::move(line), out, a.shape, {a, b});
    return;
  }
  if (op == "Softmax" || op == "LogSoftmax")
    throw OnnxUnsupported(where + ": " + op + " is read only as the graph's last node" +
                          (op == "LogSoftmax" ? "; Quill has no log-softmax" : ""));
  throw OnnxUnsupported(where + ": op '" + op + "' is not one Quill has");
}

std::string Importer::description_text() const {
  std::string text = "# Imported from " + path_ + " (ONNX opset " + std::to_string(opset_) + ")\n";
  std::string previous = Graph::kInput;
  // The lines are named as Quill names a description's lines without `as` (kind and count, in order), so
  // `from` refers to them by those names; run() checks that the built graph has them.
  for (const Line& line : lines_) {
    std::string s;
    for (const std::string& w : line.words) s += (s.empty() ? "" : " ") + w;
    if (!(line.inputs.size() == 1 && line.inputs[0] == previous)) {
      s += " from";
      for (const std::string& in : line.inputs) s += " " + in;
    }
    text += s + "\n";
    previous = line.name;
  }
  return text;
}

Tensor to_tensor(const Constant& c, const Shape& shape, DType dtype) {
  QUILL_CHECK(shape.numel() == c.numel(), "internal: ", c.numel(), " values for ", shape.str());
  Tensor t = Tensor::empty(shape, DType::F64);
  std::copy(c.values.begin(), c.values.end(), t.data<double>());
  return t.cast(dtype);
}

OnnxImport Importer::run() {
  read_opset();
  read_constants();
  read_input();
  std::string output = choose_output();
  OnnxOutputFunction function = OnnxOutputFunction::None;
  const std::vector<const onnx::NodeProto*> order = live_nodes_in_order(output);
  for (const onnx::NodeProto* node : order) {
    if (node->output(0) == output && (node->op_type() == "Softmax" || node->op_type() == "LogSoftmax")) {
      // The graph's last node: the network ends at its input.
      const std::string where = path_ + ": node '" + node->name() + "' (" + node->op_type() + ")";
      NodeReader r(*node, where);
      QUILL_CHECK(node->input_size() == 1, where, ": ", node->input_size(), " inputs");
      const Value& x = value(node->input(0), where);
      int64_t axis = r.integer("axis", opset_ >= 13 ? -1 : 1);
      r.finish();
      if (node->op_type() == "LogSoftmax") throw OnnxUnsupported(where + ": Quill has no log-softmax");
      if (axis < 0) axis += x.shape.rank() + 1;
      if (x.shape.rank() != 1 || axis != 1)
        throw OnnxUnsupported(where + ": a softmax over axis " + std::to_string(axis) + " of a " +
                              std::to_string(x.shape.rank() + 1) + "-D tensor; Quill's is over the classes of [N, classes]");
      function = OnnxOutputFunction::Softmax;
      output = node->input(0);
      continue;
    }
    convert(*node);
  }
  const Value& result = value(output, path_ + ": output");
  const bool identity = result.node == Graph::kInput && !result.flattened;
  if (!identity) materialize(result);
  if (identity || lines_.empty()) {
    if (!options_.allow_no_layers) throw OnnxUnsupported(path_ + ": the graph has no layer Quill computes");
    lines_.clear();
  } else {
    QUILL_CHECK(lines_.back().name == materialize(result), path_, ": internal: the output is not the last layer");
  }

  OnnxImport imported;
  imported.output_function = function;
  imported.notes = notes_;
  ModelRecord& record = imported.record;
  record.input_shape = input_shape_;
  record.dtype = dtype_;
  record.weights = Tensor::empty(Shape{0}, dtype_);
  if (!lines_.empty()) {
    record.description = description_text();
    Graph graph;
    try {
      add_to_graph(parse_model_description(record.description), 0, graph);
      graph.build(input_shape_, dtype_, Device::cpu(), 0);
    } catch (const Error& e) {
      throw OnnxUnsupported(path_ + ": Quill's layers refuse the graph: " + e.what());
    }
    QUILL_CHECK(graph.size() == lines_.size(), "internal: ", graph.size(), " nodes for ", lines_.size(), " lines");
    for (size_t i = 0; i < graph.size(); ++i)
      QUILL_CHECK(graph.node_name(i) == lines_[i].name, "internal: node ", i, " is named ", graph.node_name(i), ", not ",
                  lines_[i].name);
    // Fill each layer's parameters and buffers, in the graph's node order.
    std::map<std::string, const Line*> by_name;
    for (const Line& line : lines_) by_name[line.name] = &line;
    for (size_t i = 0; i < graph.size(); ++i) {
      const Line& line = *by_name.at(graph.node_name(i));
      for (Param& p : graph.layer(i).params()) {
        auto it = line.params.find(p.name);
        QUILL_CHECK(it != line.params.end(), "internal: no value for ", line.name, ".", p.name);
        p.value.copy_from(to_tensor(it->second, p.shape, dtype_));
      }
      std::vector<Tensor*> buffers = graph.layer(i).buffers();
      QUILL_CHECK(buffers.size() == line.buffers.size(), "internal: buffers of ", line.name);
      for (size_t b = 0; b < buffers.size(); ++b) buffers[b]->copy_from(to_tensor(line.buffers[b], buffers[b]->shape(), dtype_));
    }
    const int64_t classes = graph.output_shape().numel();
    std::vector<std::string> names;
    for (int64_t c = 0; c < classes && c < 100000; ++c) names.push_back(std::to_string(c));
    record = capture_model(graph, record.description, names, FramingConvention::Mnist);
  }
  record.metadata = {{"imported_from", path_}, {"onnx_opset", opset_}, {"producer", model_.producer_name()}};
  return imported;
}

// The metadata Quill's export writes: class names and framing.
void apply_quill_metadata(const onnx::ModelProto& model, const std::string& path, OnnxImport& imported) {
  for (const onnx::StringStringEntryProto& e : model.metadata_props()) {
    if (e.key() == "quill.classes") {
      nlohmann::json j = nlohmann::json::parse(e.value(), nullptr, false);
      QUILL_CHECK(j.is_array() && j.size() == imported.record.classes.size(), path,
                  ": metadata quill.classes is not a list of ", imported.record.classes.size(), " class names");
      std::vector<std::string> names;
      for (const auto& c : j) {
        QUILL_CHECK(c.is_string() && !c.get<std::string>().empty(), path, ": metadata quill.classes holds a non-name");
        names.push_back(c.get<std::string>());
      }
      imported.record.classes = names;
    } else if (e.key() == "quill.framing") {
      QUILL_CHECK(e.value() == "mnist" || e.value() == "emnist", path, ": metadata quill.framing is '", e.value(), "'");
      imported.record.framing = e.value() == "emnist" ? FramingConvention::Emnist : FramingConvention::Mnist;
    }
  }
}

// The layers with parameters, as their descriptions: what decides how much a description allocates.
std::vector<std::string> parameter_layers(const ModelDescription& d, int classes) {
  std::vector<std::string> out;
  for (const ModelLine& line : d.lines) {
    std::unique_ptr<Layer> layer = make_layer(line.words, classes);
    const std::string kind = layer->kind();
    if (kind != "conv" && kind != "dense" && kind != "bn") continue;
    // How the weights were initialised does not change what the layer computes, and the file cannot say.
    std::string text = layer->describe();
    const size_t xavier = text.find(" xavier");
    if (xavier != std::string::npos) text.erase(xavier, 7);
    out.push_back(text);
  }
  return out;
}

// For a file Quill exported: its quill.description with the file's weights, when exporting that gives exactly
// the file's graph (so nothing in the file was changed since). Else the file is read as any other.
bool use_quill_description(const onnx::ModelProto& model, const std::string& path, OnnxImport& imported) {
  std::string description;
  for (const onnx::StringStringEntryProto& e : model.metadata_props())
    if (e.key() == "quill.description") description = e.value();
  if (description.empty() || imported.record.description.empty()) return false;
  ModelRecord candidate = imported.record;
  candidate.description = description;
  std::unique_ptr<Graph> graph;
  try {
    const int classes = int(candidate.classes.size());
    // The same layers with parameters as the graph itself (so building it allocates what the file holds).
    if (parameter_layers(parse_model_description(description), classes) !=
        parameter_layers(parse_model_description(imported.record.description), classes))
      return false;
    graph = std::make_unique<Graph>();
    add_to_graph(parse_model_description(description), classes, *graph);
    graph->build(candidate.input_shape, candidate.dtype, Device::cpu(), 0);
  } catch (const Error&) {
    return false;
  }
  std::map<std::string, const onnx::TensorProto*> initializers;
  for (const onnx::TensorProto& t : model.graph().initializer()) initializers[t.name()] = &t;
  auto fill = [&](Tensor& target, const std::string& name) {
    auto it = initializers.find(name);
    if (it == initializers.end()) return false;
    const Constant c = read_constant(*it->second, path);
    if (c.numel() != target.numel() || !is_real(c)) return false;
    target.copy_from(to_tensor(c, target.shape(), target.dtype()));
    return true;
  };
  for (size_t i = 0; i < graph->size(); ++i) {
    for (Param& p : graph->layer(i).params())
      if (!fill(p.value, graph->node_name(i) + "." + p.name)) return false;
    std::vector<Tensor*> buffers = graph->layer(i).buffers();
    if (buffers.size() == 2 && !(fill(*buffers[0], graph->node_name(i) + ".running_mean") &&
                                 fill(*buffers[1], graph->node_name(i) + ".running_var")))
      return false;
    if (buffers.size() != 0 && buffers.size() != 2) return false;
  }
  candidate = capture_model(*graph, description, candidate.classes, candidate.framing);
  candidate.metadata = imported.record.metadata;
  // Exported again, the graph must be the file's, node for node and weight for weight.
  onnx::ModelProto again;
  try {
    const std::vector<uint8_t> bytes = export_onnx(candidate, path);
    if (!again.ParseFromArray(bytes.data(), int(bytes.size()))) return false;
  } catch (const Error&) {
    return false;
  }
  const onnx::GraphProto &a = again.graph(), &b = model.graph();
  if (a.node_size() != b.node_size() || a.initializer_size() != b.initializer_size() || a.input_size() != b.input_size() ||
      a.output_size() != b.output_size())
    return false;
  for (int i = 0; i < a.node_size(); ++i)
    if (a.node(i).SerializeAsString() != b.node(i).SerializeAsString()) return false;
  for (int i = 0; i < a.initializer_size(); ++i)
    if (a.initializer(i).SerializeAsString() != b.initializer(i).SerializeAsString()) return false;
  for (int i = 0; i < a.input_size(); ++i)
    if (a.input(i).SerializeAsString() != b.input(i).SerializeAsString()) return false;
  for (int i = 0; i < a.output_size(); ++i)
    if (a.output(i).SerializeAsString() != b.output(i).SerializeAsString()) return false;
  imported.record = std::move(candidate);
  imported.quill_description = true;
  return true;
}

}  // namespace

const std::vector<std::string>& onnx_importable_ops() {
  static const std::vector<std::string> ops = {
      "Conv",     "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Relu",     "LeakyRelu",
      "Tanh",     "Sigmoid", "Gemm",        "MatMul",            "BatchNormalization", "Flatten", "Reshape",
      "Add",      "Dropout", "Identity",    "Constant",          "Softmax",           "LogSoftmax"};
  return ops;
}

OnnxImport import_onnx(const std::vector<uint8_t>& bytes, const std::string& path, const OnnxImportOptions& options) {
  QUILL_CHECK(int64_t(bytes.size()) <= kOnnxMaxFileBytes, path, ": ", bytes.size(), " bytes, more than the ",
              kOnnxMaxFileBytes, " an .onnx file may have here");
  onnx::ModelProto model;
  QUILL_CHECK(!bytes.empty() && model.ParseFromArray(bytes.data(), int(bytes.size())), path,
              ": not an ONNX model (the protobuf does not parse: truncated or not ONNX)");
  QUILL_CHECK(model.has_graph(), path, ": the ONNX model has no graph");
  OnnxImport imported = Importer(model, path, options).run();
  if (!imported.record.description.empty()) {
    apply_quill_metadata(model, path, imported);
    use_quill_description(model, path, imported);
  }
  return imported;
}

ModelRecord load_onnx_file(const std::string& path) {
  return import_onnx(read_file_bytes(path, "ONNX model"), path).record;
}

}  // namespace quill
