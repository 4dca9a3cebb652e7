#pragma once
// A drawing for the report images, recorded once and rendered by Cairo twice: to a PNG (anti-aliased, one
// unit = one pixel) and to an SVG of the same size, so both files show the same picture. Text uses a real
// font (DejaVu Sans through fontconfig, or the system's sans-serif) and is measured with the metrics it is
// drawn with, unhinted so the PNG and the SVG lay out alike. Coordinates are pixels from the top-left corner.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

typedef struct _cairo cairo_t;  // as cairo.h declares it; only canvas.cpp includes Cairo

namespace quill::plot {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
  double alpha = 1;
};

namespace colors {
constexpr Color kWhite{255, 255, 255}, kBlack{0, 0, 0}, kText{34, 34, 34}, kGrey{110, 110, 110};
constexpr Color kGrid{222, 222, 222}, kMinorGrid{240, 240, 240}, kAxis{68, 68, 68};
// matplotlib's "tab10" colours, in its order.
constexpr Color kBlue{31, 119, 180}, kOrange{255, 127, 14}, kGreen{44, 160, 44}, kRed{214, 39, 40},
    kPurple{148, 103, 189};
}  // namespace colors

enum class HAlign { kLeft, kCenter, kRight };
// kMiddle centres digits and capitals on y; kBaseline puts the baseline on it.
enum class VAlign { kTop, kMiddle, kBaseline, kBottom };

struct Font {
  double size = 13;  // pixels
  bool bold = false;
};

struct TextStyle {
  Font font;
  Color color = colors::kText;
  HAlign h = HAlign::kLeft;
  VAlign v = VAlign::kBaseline;
  bool upward = false;  // turned 90 degrees counter-clockwise, read bottom to top (a y-axis title)
};

struct Point {
  double x = 0, y = 0;
};

struct GradientStop {
  double offset;  // 0 at the bottom of the bar, 1 at the top
  Color color;
};

class Canvas {
 public:
  Canvas(int width, int height, Color background = colors::kWhite);
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  int width() const { return width_; }
  int height() const { return height_; }
  // The SVG's <title> (its drawn text is glyph outlines, so this is what reads as text).
  void set_title(const std::string& title) { title_ = title; }

  void fill_rect(double x, double y, double w, double h, Color fill);
  // The outline lies on the rectangle's edge pixels (crisp at whole-pixel coordinates).
  void stroke_rect(double x, double y, double w, double h, Color stroke, double line_width = 1);
  // Horizontal and vertical lines of odd width are moved onto pixel centres, so they stay sharp.
  void line(double x0, double y0, double x1, double y1, Color color, double line_width = 1);
  // A connected line with round joins.
  void polyline(const std::vector<Point>& points, Color color, double line_width);
  void circle(double x, double y, double radius, Color fill, Color edge = Color{0, 0, 0, 0}, double edge_width = 0);
  // A bar filled with a vertical gradient (bottom to top).
  void vertical_gradient(double x, double y, double w, double h, const std::vector<GradientStop>& stops);
  void text(double x, double y, const std::string& text, const TextStyle& style);
  double text_width(const std::string& text, const Font& font) const;
  // The font's ascent (above the baseline) and descent (below it), in pixels.
  double ascent(const Font& font) const;
  double descent(const Font& font) const;
  // A rows x cols grayscale image (0..255) with its top-left corner at (x, y), each pixel drawn as a
  // scale x scale block (nearest neighbour, in both files). ink: 255 is ink, drawn dark on white.
  void gray_image(int x, int y, const uint8_t* pixels, int rows, int cols, int scale, bool ink);

  std::vector<uint8_t> png() const;
  std::vector<uint8_t> svg() const;
  // Writes the PNG to `png_path` and the SVG beside it (svg_path_for), each atomically; both are encoded
  // before either is written.
  void write(const std::string& png_path) const;

 private:
  void render(cairo_t* cr) const;

  int width_, height_;
  Color background_;
  std::string title_;
  std::vector<std::function<void(cairo_t*)>> ops_;
  cairo_t* measure_;  // a context on a 1x1 surface, for text metrics
};

// "out/m.curves.png" -> "out/m.curves.svg"; a path not ending in .png gets ".svg" appended.
std::string svg_path_for(const std::string& png_path);

}  // namespace quill::plot
