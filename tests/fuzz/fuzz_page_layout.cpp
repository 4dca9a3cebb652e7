// Reading a page (engine/page_reading.h): any small grey image through find_text_lines and read_page, with
// a cheap stand-in for the network (probabilities hashed from each sample over 62 ByClass-like classes), a
// charset, the line context on or off and a tiny lexicon. Input: [width, height, flags, pixels...]: a grid of
// up to 64x64 pixels (bytes, missing ones paper-white), enlarged 1-4 times, so that pages up to 256x256 come
// from a few kilobytes. quill::Error is the expected refusal; a crash, a sanitizer report, a hang, or a
// reading that breaks its own invariants (a word beyond its line's characters, a box outside the page, a
// character outside the charset) is a bug.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "data/page_layout.h"
#include "engine/charset.h"
#include "engine/lexicon.h"
#include "engine/page_reading.h"
#include "fuzz_common.h"

namespace {

const std::vector<std::string>& classes() { return quill::fuzz::byclass_classes(); }

std::vector<std::vector<double>> hashed_classify(const std::vector<std::vector<uint8_t>>& batch) {
  std::vector<std::vector<double>> out;
  for (const std::vector<uint8_t>& s : batch) {
    if (s.size() != 784) __builtin_trap();
    uint64_t h = 1469598103934665603ull;
    for (uint8_t v : s) h = (h ^ v) * 1099511628211ull;
    std::vector<double> p(classes().size());
    double sum = 0;
    for (size_t c = 0; c < p.size(); ++c) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
      sum += p[c] = double((h >> 33) % 1000) + (c == (h >> 20) % p.size() ? 20000.0 : 1.0);
    }
    for (double& v : p) v /= sum;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  static const quill::Lexicon lexicon = quill::Lexicon::parse("hello\nworld\nquill\nI\nto\nOK\n42\nread\n", "fuzz");
  static const char* const charsets[] = {"", "digits", "letters", "upper", "lower", "alnum", "0123456789ABCDEF", "xyz"};
  const int gw = 1 + data[0] % 64, gh = 1 + data[1] % 64, flags = data[2];
  const int scale = 1 + (flags & 3);
  quill::Image page(gw * scale, gh * scale, 1.0f);
  for (int y = 0; y < page.height; ++y)
    for (int x = 0; x < page.width; ++x) {
      const size_t i = 3 + size_t(y / scale) * gw + size_t(x / scale);
      if (i < size) page.at(x, y) = float(data[i]) / 255.0f;
    }
  quill::fuzz::refusing_errors([&] {
    const quill::PageLayout layout = quill::find_text_lines(page);
    // (Lines come top to bottom along the deskewed vertical: on a skewed page their boxes' tops need not.)
    for (const quill::TextLine& line : layout.lines) {
      const quill::Box& b = line.box;
      if (b.x < 0 || b.y < 0 || b.width <= 0 || b.height <= 0 || b.x + b.width > page.width ||
          b.y + b.height > page.height || line.photo.width != b.width || line.photo.height != b.height)
        __builtin_trap();
    }
  });
  quill::fuzz::refusing_errors([&] {
    quill::PageReadOptions options;
    options.charset = charsets[(flags >> 2) & 7];
    options.context.size = flags & 32;
    options.context.neighbours = flags & 64;
    options.lexicon = flags & 128 ? &lexicon : nullptr;
    const quill::PageReading reading = quill::read_page(page, hashed_classify, classes(), options);
    const std::vector<bool> mask =
        options.charset.empty() ? std::vector<bool>{} : quill::charset_mask(options.charset, classes());
    for (const quill::PageLine& line : reading.lines) {
      size_t next = 0;
      for (const quill::PageWord& w : line.words) {
        if (w.first != next || w.count == 0 || w.first + w.count > line.characters.size()) __builtin_trap();
        next = w.first + w.count;
      }
      if (next != line.characters.size()) __builtin_trap();
      for (const quill::PageCharacter& c : line.characters) {
        if (c.box.x < 0 || c.box.y < 0 || c.box.x + c.box.width > page.width || c.box.y + c.box.height > page.height)
          __builtin_trap();
        if (c.probabilities.size() != classes().size() || !(c.confidence >= 0 && c.confidence <= 1 + 1e-9))
          __builtin_trap();
        const size_t k = size_t(std::find(classes().begin(), classes().end(), c.text) - classes().begin());
        if (k == classes().size() || (!mask.empty() && !mask[k])) __builtin_trap();
      }
    }
  });
  return 0;
}
