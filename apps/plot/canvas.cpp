#include "apps/plot/canvas.h"

#include <cairo-svg.h>
#include <cairo.h>

#include <cmath>

#include "engine/atomic_file.h"
#include "runtime/error.h"

namespace quill::plot {
namespace {

constexpr const char* kFontFamily = "DejaVu Sans";  // fontconfig substitutes a sans-serif where it is missing

// Unhinted metrics and outlines, so that text measures the same on the image, SVG and measuring surfaces.
void set_font_options(cairo_t* cr) {
  cairo_font_options_t* options = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
  cairo_set_font_options(cr, options);
  cairo_font_options_destroy(options);
}

void set_font(cairo_t* cr, const Font& font) {
  cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         font.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, font.size);
}

void set_color(cairo_t* cr, Color c) { cairo_set_source_rgba(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0, c.alpha); }

// A coordinate across a horizontal or vertical line: on a pixel centre for odd widths, on a pixel edge
// for even ones.
double crisp(double v, double line_width) {
  return int(std::lround(line_width)) % 2 ? std::floor(v) + 0.5 : std::round(v);
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  auto* bytes = static_cast<std::vector<uint8_t>*>(closure);
  bytes->insert(bytes->end(), data, data + length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const char* what) {
  if (status != CAIRO_STATUS_SUCCESS) fail("cannot draw the ", what, ": ", cairo_status_to_string(status));
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

}  // namespace

Canvas::Canvas(int width, int height, Color background) : width_(width), height_(height), background_(background) {
  QUILL_CHECK(width > 0 && height > 0 && width <= 32767 && height <= 32767, "report image of ", width, "x", height,
              " pixels");
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
  measure_ = cairo_create(surface);
  cairo_surface_destroy(surface);  // the context holds it
  set_font_options(measure_);
}

Canvas::~Canvas() { cairo_destroy(measure_); }

void Canvas::fill_rect(double x, double y, double w, double h, Color fill) {
  if (w <= 0 || h <= 0) return;
  ops_.push_back([=](cairo_t* cr) {
    cairo_rectangle(cr, x, y, w, h);
    set_color(cr, fill);
    cairo_fill(cr);
  });
}

void Canvas::stroke_rect(double x, double y, double w, double h, Color stroke, double line_width) {
  ops_.push_back([=](cairo_t* cr) {
    cairo_rectangle(cr, x + line_width / 2, y + line_width / 2, w - line_width, h - line_width);
    set_color(cr, stroke);
    cairo_set_line_width(cr, line_width);
    cairo_stroke(cr);
  });
}

void Canvas::line(double x0, double y0, double x1, double y1, Color color, double line_width) {
  if (y0 == y1) y0 = y1 = crisp(y0, line_width);
  if (x0 == x1) x0 = x1 = crisp(x0, line_width);
  ops_.push_back([=](cairo_t* cr) {
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    set_color(cr, color);
    cairo_set_line_width(cr, line_width);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_stroke(cr);
  });
}

void Canvas::polyline(const std::vector<Point>& points, Color color, double line_width) {
  if (points.size() < 2) return;
  ops_.push_back([=](cairo_t* cr) {
    cairo_move_to(cr, points[0].x, points[0].y);
    for (size_t i = 1; i < points.size(); ++i) cairo_line_to(cr, points[i].x, points[i].y);
    set_color(cr, color);
    cairo_set_line_width(cr, line_width);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_stroke(cr);
  });
}

void Canvas::circle(double x, double y, double radius, Color fill, Color edge, double edge_width) {
  ops_.push_back([=](cairo_t* cr) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, radius, 0, 2 * M_PI);
    set_color(cr, fill);
    if (edge_width > 0 && edge.alpha > 0) {
      cairo_fill_preserve(cr);
      set_color(cr, edge);
      cairo_set_line_width(cr, edge_width);
      cairo_stroke(cr);
    } else {
      cairo_fill(cr);
    }
  });
}

void Canvas::vertical_gradient(double x, double y, double w, double h, const std::vector<GradientStop>& stops) {
  ops_.push_back([=](cairo_t* cr) {
    cairo_pattern_t* gradient = cairo_pattern_create_linear(0, y + h, 0, y);
    for (const GradientStop& s : stops)
      cairo_pattern_add_color_stop_rgba(gradient, s.offset, s.color.r / 255.0, s.color.g / 255.0, s.color.b / 255.0,
                                        s.color.alpha);
    cairo_rectangle(cr, x, y, w, h);
    cairo_set_source(cr, gradient);
    cairo_fill(cr);
    cairo_pattern_destroy(gradient);
  });
}

void Canvas::text(double x, double y, const std::string& text, const TextStyle& style) {
  if (text.empty()) return;
  ops_.push_back([=](cairo_t* cr) {
    cairo_save(cr);
    set_font(cr, style.font);
    cairo_text_extents_t te;
    cairo_text_extents(cr, text.c_str(), &te);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    cairo_translate(cr, x, y);
    if (style.upward) cairo_rotate(cr, -M_PI / 2);
    const double dx = style.h == HAlign::kLeft ? 0 : style.h == HAlign::kCenter ? -te.x_advance / 2 : -te.x_advance;
    const double dy = style.v == VAlign::kTop      ? fe.ascent
                      : style.v == VAlign::kMiddle ? (fe.ascent - fe.descent) / 2
                      : style.v == VAlign::kBottom ? -fe.descent
                                                   : 0;
    cairo_move_to(cr, dx, dy);
    set_color(cr, style.color);
    cairo_show_text(cr, text.c_str());
    cairo_restore(cr);
  });
}

double Canvas::text_width(const std::string& text, const Font& font) const {
  set_font(measure_, font);
  cairo_text_extents_t te;
  cairo_text_extents(measure_, text.c_str(), &te);
  return te.x_advance;
}

double Canvas::ascent(const Font& font) const {
  set_font(measure_, font);
  cairo_font_extents_t fe;
  cairo_font_extents(measure_, &fe);
  return fe.ascent;
}

double Canvas::descent(const Font& font) const {
  set_font(measure_, font);
  cairo_font_extents_t fe;
  cairo_font_extents(measure_, &fe);
  return fe.descent;
}

void Canvas::gray_image(int x, int y, const uint8_t* pixels, int rows, int cols, int scale, bool ink) {
  // Upscaled here, so both files hold the blocks themselves and no viewer smooths them.
  const int w = cols * scale, h = rows * scale;
  const int stride = cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, w);
  auto data = std::make_shared<std::vector<unsigned char>>(size_t(stride) * size_t(h));
  for (int yy = 0; yy < h; ++yy) {
    auto* row = reinterpret_cast<uint32_t*>(data->data() + size_t(yy) * size_t(stride));
    for (int xx = 0; xx < w; ++xx) {
      const uint32_t v = ink ? 255u - pixels[(yy / scale) * cols + xx / scale] : pixels[(yy / scale) * cols + xx / scale];
      row[xx] = (v << 16) | (v << 8) | v;
    }
  }
  ops_.push_back([=](cairo_t* cr) {
    cairo_surface_t* image = cairo_image_surface_create_for_data(data->data(), CAIRO_FORMAT_RGB24, w, h, stride);
    cairo_set_source_surface(cr, image, x, y);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
    cairo_surface_destroy(image);
  });
}

void Canvas::render(cairo_t* cr) const {
  set_font_options(cr);
  set_color(cr, background_);
  cairo_paint(cr);
  for (const auto& op : ops_) op(cr);
}

std::vector<uint8_t> Canvas::png() const {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width_, height_);
  cairo_t* cr = cairo_create(surface);
  render(cr);
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  std::vector<uint8_t> bytes;
  const cairo_status_t written =
      drawn == CAIRO_STATUS_SUCCESS ? cairo_surface_write_to_png_stream(surface, append_bytes, &bytes) : drawn;
  cairo_surface_destroy(surface);
  check(written, "PNG image");
  return bytes;
}

std::vector<uint8_t> Canvas::svg() const {
  std::vector<uint8_t> bytes;
  cairo_surface_t* surface = cairo_svg_surface_create_for_stream(append_bytes, &bytes, width_, height_);
  cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX);
  cairo_t* cr = cairo_create(surface);
  render(cr);
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_finish(surface);  // writes the document's end
  const cairo_status_t finished = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  check(drawn != CAIRO_STATUS_SUCCESS ? drawn : finished, "SVG image");
  if (!title_.empty()) {  // <title> first inside <svg ...>
    const std::string text(bytes.begin(), bytes.end());
    const size_t open = text.find("<svg");
    const size_t end = open == std::string::npos ? std::string::npos : text.find('>', open);
    if (end != std::string::npos) {
      const std::string title = "\n<title>" + xml_escape(title_) + "</title>";
      bytes.insert(bytes.begin() + std::ptrdiff_t(end + 1), title.begin(), title.end());
    }
  }
  return bytes;
}

void Canvas::write(const std::string& png_path) const {
  const std::vector<uint8_t> png_bytes = png(), svg_bytes = svg();
  write_file_atomically(png_path, png_bytes);
  write_file_atomically(svg_path_for(png_path), svg_bytes);
}

std::string svg_path_for(const std::string& png_path) {
  const std::string ext = ".png";
  const size_t n = png_path.size();
  if (n > ext.size() && png_path.compare(n - ext.size(), ext.size(), ext) == 0)
    return png_path.substr(0, n - ext.size()) + ".svg";
  return png_path + ".svg";
}

}  // namespace quill::plot
