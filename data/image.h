#pragma once
// A grayscale image in memory: row-major floats in [0, 1], where the value is luminance as a file
// shows it (0 black, 1 white). Dataset samples use the opposite, MNIST convention (ink bright, 255 = ink):
// see Dataset in data/dataset.h and the conversions in data/preprocess.h.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace quill {

struct Image {
  int width = 0, height = 0;
  std::vector<float> pixels;  // width * height values, row by row

  Image() = default;
  Image(int w, int h, float fill = 0.0f) : width(w), height(h), pixels(size_t(w) * h, fill) {}
  float& at(int x, int y) { return pixels[size_t(y) * width + x]; }
  float at(int x, int y) const { return pixels[size_t(y) * width + x]; }
  bool empty() const { return width == 0 || height == 0; }
};

}  // namespace quill
