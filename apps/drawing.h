#pragma once
// Minimal raster drawing into an RgbImage for the report images: rectangles, lines, 5x7 text and
// upscaled grayscale samples. Everything clips at the image border.
#include <cstdint>
#include <string>

#include "data/png_io.h"

namespace quill {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
};

namespace colors {
constexpr Color kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrey{150, 150, 150}, kLightGrey{225, 225, 225};
constexpr Color kBlue{31, 119, 180}, kOrange{255, 127, 14}, kGreen{44, 160, 44}, kRed{214, 39, 40};
}  // namespace colors

void fill_rect(RgbImage& image, int x, int y, int width, int height, Color color);
// A straight line `thickness` pixels wide.
void draw_line(RgbImage& image, double x0, double y0, double x1, double y1, Color color, int thickness = 1);

// Text in the 5x7 font, each font pixel drawn as scale x scale; (x, y) is the top-left corner.
void draw_text(RgbImage& image, int x, int y, const std::string& text, Color color, int scale = 1);
int text_width(const std::string& text, int scale = 1);
int text_height(int scale = 1);

// A rows x cols MNIST-convention sample (255 = ink) drawn as dark ink on white, each pixel scale x scale.
void draw_sample(RgbImage& image, int x, int y, const uint8_t* sample, int rows, int cols, int scale);

// A white-to-blue colour ramp for heat maps, t in [0, 1].
Color heat_color(double t);

}  // namespace quill
