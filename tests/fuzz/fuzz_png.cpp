// PNG bytes, as `quill predict`, `quill read` and `quill serve` receive them: decoded, then (when small
// enough to keep each run fast) preprocessed as one character under both framings and segmented as a line.
#include <vector>

#include "engine/line_reading.h"
#include "data/png_io.h"
#include "data/preprocess.h"
#include "data/segment.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> png = quill::fuzz::with_chunk_crcs(data, size);
  return quill::fuzz::refusing_errors([&] {
    const quill::Image image = quill::decode_png(png.data(), png.size(), "fuzz.png");
    for (float v : image.pixels)
      if (!(v >= 0.0f && v <= 1.0f)) __builtin_trap();  // decode_png promises luminance in 0..1
    if (int64_t(image.width) * image.height > 256 * 256) return;
    for (quill::FramingConvention framing : {quill::FramingConvention::Mnist, quill::FramingConvention::Emnist}) {
      quill::PreprocessOptions options;
      options.framing = framing;
      quill::fuzz::refusing_errors([&] {
        if (quill::preprocess_character(image, options).size() != 28 * 28) __builtin_trap();
      });
    }
    quill::SegmentOptions segment;
    segment.ink.framing = quill::FramingConvention::Emnist;
    quill::PreprocessOptions character = segment.ink;
    quill::LineSamples line = quill::line_samples(quill::segment_line(image, segment), character);
    for (const auto& sample : line.samples)
      if (sample.size() != 28 * 28) __builtin_trap();
  });
}
