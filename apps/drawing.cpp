#include "apps/drawing.h"

#include <algorithm>
#include <cmath>

#include "apps/font5x7.h"

namespace quill {

void fill_rect(RgbImage& image, int x, int y, int width, int height, Color color) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min(x + width, image.width), y1 = std::min(y + height, image.height);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) image.set(xx, yy, color.r, color.g, color.b);
}

void draw_line(RgbImage& image, double x0, double y0, double x1, double y1, Color color, int thickness) {
  // Step one pixel at a time along the longer axis and stamp a square of the line's thickness.
  const double steps = std::max({std::abs(x1 - x0), std::abs(y1 - y0), 1.0});
  const int half = thickness / 2;
  for (int i = 0; i <= int(std::ceil(steps)); ++i) {
    const double t = std::min(1.0, i / steps);
    const int x = int(std::lround(x0 + (x1 - x0) * t)), y = int(std::lround(y0 + (y1 - y0) * t));
    fill_rect(image, x - half, y - half, thickness, thickness, color);
  }
}

void draw_text(RgbImage& image, int x, int y, const std::string& text, Color color, int scale) {
  for (char c : text) {
    const Glyph g = glyph(c);
    for (int r = 0; r < kGlyphHeight; ++r)
      for (int col = 0; col < kGlyphWidth; ++col)
        if (g[r] & (1u << (kGlyphWidth - 1 - col))) fill_rect(image, x + col * scale, y + r * scale, scale, scale, color);
    x += (kGlyphWidth + 1) * scale;
  }
}

int text_width(const std::string& text, int scale) {
  return text.empty() ? 0 : int(text.size()) * (kGlyphWidth + 1) * scale - scale;
}

int text_height(int scale) { return kGlyphHeight * scale; }

void draw_sample(RgbImage& image, int x, int y, const uint8_t* sample, int rows, int cols, int scale) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const uint8_t v = uint8_t(255 - sample[r * cols + c]);
      fill_rect(image, x + c * scale, y + r * scale, scale, scale, Color{v, v, v});
    }
}

Color heat_color(double t) {
  t = std::clamp(t, 0.0, 1.0);
  // From white through light blue to a dark blue, so small counts stay visible next to large ones.
  const Color lo{255, 255, 255}, mid{107, 174, 214}, hi{8, 48, 107};
  auto mix = [](Color a, Color b, double u) {
    return Color{uint8_t(std::lround(a.r + (b.r - a.r) * u)), uint8_t(std::lround(a.g + (b.g - a.g) * u)),
                 uint8_t(std::lround(a.b + (b.b - a.b) * u))};
  };
  return t < 0.5 ? mix(lo, mid, t * 2) : mix(mid, hi, (t - 0.5) * 2);
}

}  // namespace quill
