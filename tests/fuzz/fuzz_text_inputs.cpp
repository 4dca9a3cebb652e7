// The small text formats: the offline MNIST JSON digit files and base64 request bodies of `quill serve`
// (whose decoding must agree with encoding: decode(encode(x)) == x for what decoded).
#include <vector>

#include "apps/serve/serve_request.h"
#include "data/mnist_json.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = quill::fuzz::text_of(data, size);
  quill::fuzz::refusing_errors([&] {
    std::vector<uint8_t> pixels;
    const int64_t count = quill::parse_mnist_json_digits(text, "fuzz.json", pixels);
    if (pixels.size() != size_t(count) * 784) __builtin_trap();
  });
  quill::fuzz::refusing_errors([&] {
    const std::string bytes = quill::base64_decode(text);
    if (quill::base64_decode(quill::base64_encode(bytes)) != bytes) __builtin_trap();
  });
  return 0;
}
