// Model and checkpoint files (.quill), as `quill predict`, `eval`, `info`, `serve` and `train --resume`
// load them: decoded, a checkpoint's run settings read back, then rebuilt on the CPU and run on one sample.
#include <vector>

#include "engine/model_file.h"
#include "engine/trainer.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quill::fuzz::bound_cpu_tensors();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return quill::fuzz::refusing_errors([&] {
    std::vector<uint8_t> bytes(data, data + size);
    // Repair the content length (u64 at byte 16) and the closing CRC-32 (engine/model_file.h).
    if (bytes.size() >= 28) {
      const uint64_t content = bytes.size() - 28;
      for (int i = 0; i < 8; ++i) bytes[16 + i] = uint8_t(content >> (8 * i));
      const uint32_t crc = quill::fuzz::crc32_of(bytes.data(), bytes.size() - 4);
      for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = uint8_t(crc >> (8 * i));
    }
    const quill::ModelRecord record = quill::decode_model_file(bytes, "fuzz.quill");
    if (record.checkpoint) quill::checkpoint_train_options(record.checkpoint->training, "fuzz.quill");
    std::unique_ptr<quill::Graph> graph = quill::build_model(record, quill::Device::cpu(), "fuzz.quill");
    quill::Tensor input = quill::Tensor::zeros(record.input_shape.with_batch(1), record.dtype);
    quill::Context context;
    graph->forward(context, input);
  });
}
