// Model description text (models/*.txt, `quill train --model FILE`): parsed, built for one input shape
// (chosen by the first byte: MNIST-sized, a small odd image, or a flat vector) and run on one sample.
#include "fuzz_common.h"
#include "layers/graph.h"
#include "layers/model_description.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quill::fuzz::bound_cpu_tensors();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const quill::Shape shapes[] = {quill::Shape{1, 28, 28}, quill::Shape{3, 7, 5}, quill::Shape{17}};
  const quill::Shape& shape = shapes[data[0] % 3];
  return quill::fuzz::refusing_errors([&] {
    quill::Graph graph;
    quill::add_to_graph(quill::parse_model_description(quill::fuzz::text_of(data + 1, size - 1)), 10, graph);
    graph.build(shape, quill::DType::F32, quill::Device::cpu(), 1);
    quill::Tensor input = quill::Tensor::zeros(shape.with_batch(2), quill::DType::F32);
    quill::Context context;
    graph.forward(context, input);
  });
}
