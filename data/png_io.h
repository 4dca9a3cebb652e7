#pragma once
// PNG files in and out, through libpng. Reading accepts every PNG colour type and bit depth, palette
// transparency and interlacing, and gives grayscale luminance (0 black, 1 white): colour by
// 0.299 R + 0.587 G + 0.114 B, transparency composited over white (a character drawn on a transparent
// canvas reads as ink on paper). Sample values are used as stored (gamma chunks are ignored).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"
#include "runtime/error.h"

namespace quill {

// An 8-bit RGB image, for reports (confusion matrices, sample sheets).
struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes, row by row

  RgbImage() = default;
  RgbImage(int w, int h) : width(w), height(h), rgb(size_t(w) * h * 3, 0) {}
  uint8_t* at(int x, int y) { return rgb.data() + (size_t(y) * width + x) * 3; }
  const uint8_t* at(int x, int y) const { return rgb.data() + (size_t(y) * width + x) * 3; }
  void set(int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    uint8_t* p = at(x, y);
    p[0] = r, p[1] = g, p[2] = b;
  }
};

// Largest width or height read_png accepts.
constexpr int kMaxPngSide = 16384;

// Thrown for an image wider or taller than the limit, checked from the header before libpng allocates
// anything for the pixels.
class PngTooLarge : public Error {
 public:
  using Error::Error;
};

// Reads a PNG file as grayscale luminance.
Image read_png(const std::string& path, int max_side = kMaxPngSide);  // see decode_png for max_side
// Decodes PNG bytes in memory; `name` identifies them in errors. Sides over `max_side` (at most
// kMaxPngSide) throw PngTooLarge.
Image decode_png(const uint8_t* data, size_t size, const std::string& name, int max_side = kMaxPngSide);

// Writes 8-bit grayscale (values clamped to 0..1, rounded to bytes).
void write_png(const std::string& path, const Image& image);
// Writes 8-bit RGB.
void write_png(const std::string& path, const RgbImage& image);

// The same encodings into memory.
std::vector<uint8_t> encode_png(const Image& image);
std::vector<uint8_t> encode_png(const RgbImage& image);

}  // namespace quill
