#pragma once
// ONNX graphs made of the ops Quill has, as Quill models: a model description (one line per node) with the
// graph's weights, which then runs on every backend like any model Quill trained. Read with ONNX's own
// protobuf classes (Debian's libonnx-dev), as engine/onnx_export.h writes them.
//
// What is read: one runtime input, float32 or float64 [N, ...] (N the batch; the other dims fixed, at most 3);
// weights as initializers, Constant nodes, or values the caller binds (the conformance tests give weights as
// graph inputs); one output, or the two Quill exports (probabilities and logits).
// Ops: Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Relu, LeakyRelu, Tanh, Sigmoid, Gemm,
// MatMul (with a constant right operand), BatchNormalization (inference), Flatten and Reshape (to [N, -1]),
// Add, Dropout and Identity (the identity in inference), and Softmax as the graph's last node (the classifier's
// probabilities come from the logits before it). Conv and pooling windows are read per axis (kernel_shape,
// strides), their padding per side (pads, or auto_pad: SAME_UPPER puts an odd pixel after, SAME_LOWER before),
// pooling's ceil_mode and AveragePool's count_include_pad as the layers' `ceil` and `countpad`. Anything else --
// an op, an attribute value Quill does not compute (dilations, groups, padding not smaller than the window on
// some side, 1-D and 3-D windows, MaxPool's indices or column-major storage_order, ...) -- is refused with an
// OnnxUnsupported error that names the node, the op and the attribute.
//
// A file Quill exported carries its model description in its metadata (quill.description): when the graph is
// exactly what exporting that description gives, the description is used as is (comments, node names and the
// dropout layers the export leaves out), so export -> import returns the same model, bit for bit.
//
// Hostile files (truncated, huge dims, cycles, external data, unknown ops) get a quill::Error, one line.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/model_file.h"

namespace quill {

// A graph that is valid ONNX but uses something Quill does not compute: the message says what.
class OnnxUnsupported : public Error {
 public:
  using Error::Error;
};

// What comes after the network's last layer in the file's graph.
enum class OnnxOutputFunction { None, Softmax };

struct OnnxImportOptions {
  // Values for graph inputs other than the runtime input (the conformance tests give weights as inputs), as
  // serialized TensorProto bytes, by input name.
  std::map<std::string, std::string> bound_inputs;
  // Accept a graph with no layer at all (an Identity, or only a Softmax): the record's description is then
  // empty, which no model file holds; for the conformance tests, which apply output_function themselves.
  bool allow_no_layers = false;
};

struct OnnxImport {
  ModelRecord record;  // description, per-sample input shape, dtype, classes, framing, weights and buffers
  OnnxOutputFunction output_function = OnnxOutputFunction::None;
  bool quill_description = false;  // the file's own quill.description was used
  std::vector<std::string> notes;  // what was changed on the way, e.g. a batch norm's epsilon folded in
};

// The op types the importer knows (some of their attribute values may still be refused).
const std::vector<std::string>& onnx_importable_ops();

// `path` names the bytes in errors.
OnnxImport import_onnx(const std::vector<uint8_t>& bytes, const std::string& path,
                       const OnnxImportOptions& options = {});
// The model in an .onnx file, as load_model_file returns a .quill file's.
ModelRecord load_onnx_file(const std::string& path);

// The files and sizes the importer accepts (limits, so that a hostile file fails quickly and in bounded memory).
constexpr int64_t kOnnxMaxFileBytes = int64_t(1) << 30;
constexpr int64_t kOnnxMaxTensorValues = int64_t(1) << 28;
constexpr int kOnnxMaxNodes = 100000;

}  // namespace quill
