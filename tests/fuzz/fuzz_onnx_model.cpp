// ONNX model files (.onnx), as `quill import` and every command that takes a model read them
// (engine/onnx_import.h): parsed, converted to a model description and weights, then rebuilt on the CPU and
// run on one sample.
#include <vector>

#include "engine/model_file.h"
#include "engine/onnx_import.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quill::fuzz::bound_cpu_tensors();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return quill::fuzz::refusing_errors([&] {
    const quill::OnnxImport imported = quill::import_onnx(std::vector<uint8_t>(data, data + size), "fuzz.onnx");
    std::unique_ptr<quill::Graph> graph = quill::build_model(imported.record, quill::Device::cpu(), "fuzz.onnx");
    quill::Tensor input = quill::Tensor::zeros(imported.record.input_shape.with_batch(1), imported.record.dtype);
    quill::Context context;
    graph->forward(context, input);
  });
}
