#pragma once
// A trained Quill model as an ONNX graph (opset 13), for ONNX Runtime and other frameworks: built with
// ONNX's own protobuf classes (Debian's libonnx-dev) and checked by ONNX's C++ checker before it is
// written. Compiled into its own library, quill_onnx (engine/CMakeLists.txt), so that only the programs
// that export link protobuf and libonnx; quill_engine does not.
//
// The graph: input "image", float32 [N, 1, 28, 28] (N dynamic), pixels as Quill feeds its network:
// byte / 255, ink bright (255 = ink, the MNIST convention), already framed as the model's framing
// convention says (metadata "quill.framing"); outputs "probabilities" (Softmax of the logits, [N, classes])
// and "logits". Layers: conv -> Conv, maxpool -> MaxPool, avgpool -> AveragePool (count_include_pad 0:
// Quill divides by the window's in-image pixels), relu/leaky/tanh/sigmoid -> Relu/LeakyRelu/Tanh/Sigmoid,
// dense -> Flatten + Gemm (transB 1), bn -> BatchNormalization (inference: running mean and variance,
// Quill's eps), flatten -> Flatten, add -> Add; dropout, the identity in inference, is left out.
// Weights are written as float32 (a float64 model's are rounded).
// Metadata (metadata_props): quill.version, quill.classes (JSON array), quill.framing and
// quill.framing_summary, quill.input (the pixel convention), quill.description (the model description text).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/model_file.h"

namespace quill {

constexpr int64_t kOnnxOpset = 13;

// The serialized ModelProto of `record` (checked with onnx::checker::check_model). `path` names the
// record in errors. Throws quill::Error for a layer ONNX cannot express as Quill computes it.
std::vector<uint8_t> export_onnx(const ModelRecord& record, const std::string& path);

// Exports the model file at `model_path` to `onnx_path`, written atomically (engine/atomic_file.h).
void export_onnx_file(const std::string& model_path, const std::string& onnx_path);

}  // namespace quill
