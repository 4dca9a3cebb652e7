// A request to `quill serve`'s /api/predict, as its handler sees it: the input is the Content-Type header
// line, the ?top_k= query line ("-" for none), then the body. Read with the server's limit on image sides,
// then preprocessed as the server does. PNG chunk CRCs of a raw body are repaired (as in fuzz_png);
// HttpError, a quill::Error, is the expected refusal.
#include <string>
#include <vector>

#include "apps/serve/serve_request.h"
#include "data/preprocess.h"
#include "fuzz_common.h"

namespace {

// The text up to the next newline, consumed from `rest`.
std::string take_line(std::string& rest) {
  const size_t end = rest.find('\n');
  std::string line = rest.substr(0, end);
  rest.erase(0, end == std::string::npos ? rest.size() : end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string rest = quill::fuzz::text_of(data, size);
  const std::string type = take_line(rest), query = take_line(rest);
  if (rest.size() >= 8 && rest.compare(1, 3, "PNG") == 0) {
    const std::vector<uint8_t> png = quill::fuzz::with_chunk_crcs(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
    rest.assign(png.begin(), png.end());
  }
  return quill::fuzz::refusing_errors([&] {
    const quill::DrawingRequest d = quill::parse_drawing_request(type, rest, query == "-" ? nullptr : &query, 512);
    if (d.top_k < 1 || d.top_k > 1000 || d.image.empty()) __builtin_trap();  // what the handler relies on
    quill::PreprocessOptions options;
    options.framing = quill::FramingConvention::Emnist;
    if (quill::preprocess_character(d.image, options).size() != 28 * 28) __builtin_trap();
  });
}
