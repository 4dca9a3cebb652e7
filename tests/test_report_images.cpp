// The report images (apps/report.h), drawn with Cairo: the pixels of the PNG are where the data says,
// the SVG beside it is a real SVG drawing, and a write that cannot happen leaves nothing behind.
#include <doctest/doctest.h>
#include <png.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/plot/canvas.h"
#include "apps/report.h"
#include "runtime/error.h"
#include "tests/temp_files.h"

namespace fs = std::filesystem;
using quill::plot::Color;

namespace {

// A PNG as 8-bit RGB, read with libpng's simplified API (independent of Cairo, which wrote it).
struct RgbPng {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Color at(int x, int y) const {
    const uint8_t* p = rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3;
    return Color{p[0], p[1], p[2]};
  }
};

RgbPng read_rgb(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  RgbPng out;
  if (!png_image_begin_read_from_file(&image, path.c_str())) return out;
  image.format = PNG_FORMAT_RGB;
  out.rgb.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr)) return out;
  out.width = int(image.width), out.height = int(image.height);
  return out;
}

bool near(Color a, Color b, int tolerance = 40) {
  return std::abs(a.r - b.r) <= tolerance && std::abs(a.g - b.g) <= tolerance && std::abs(a.b - b.b) <= tolerance;
}

bool same(Color a, Color b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

double luminance(Color c) { return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b; }

// Whether a pixel within `radius` of (x, y) has the colour.
bool colour_near_point(const RgbPng& png, double x, double y, Color c, int radius = 1) {
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx)
      if (near(png.at(int(x) + dx, int(y) + dy), c)) return true;
  return false;
}

std::string slurp(const std::string& path) {
  const std::vector<uint8_t> bytes = test_files::read_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// The SVG Cairo writes: an XML document of paths (text is drawn as glyph outlines), with our <title>.
void check_svg(const std::string& path, const std::string& title) {
  INFO("svg: ", path);
  REQUIRE(fs::exists(path));
  const std::string svg = slurp(path);
  CHECK(svg.rfind("<?xml", 0) == 0);
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("<path") != std::string::npos);
  CHECK(svg.find("<title>" + title) != std::string::npos);
  CHECK(svg.find("glyph") != std::string::npos);  // the text's outlines
}

std::vector<quill::EpochRecord> history() {
  // Loss falls 1.0 -> 0.4 (training) and 0.9 -> 0.3 (validation): the axis runs 0..1 in steps of 0.2.
  // Accuracy rises 90 -> 96% and 89 -> 95%: the axis runs 85..100 in steps of 5.
  std::vector<quill::EpochRecord> h;
  for (int e = 0; e < 4; ++e) {
    quill::EpochRecord r;
    r.epoch = e + 1;
    r.train_loss = 1.0 - 0.2 * e;
    r.val_loss = 0.9 - 0.2 * e;
    r.train_accuracy = 0.90 + 0.02 * e;
    r.val_accuracy = 0.89 + 0.02 * e;
    h.push_back(r);
  }
  return h;
}

}  // namespace

TEST_CASE("report: the SVG goes beside the PNG") {
  CHECK(quill::plot::svg_path_for("out/m.curves.png") == "out/m.curves.svg");
  CHECK(quill::plot::svg_path_for("c.png") == "c.svg");
  CHECK(quill::plot::svg_path_for("chart") == "chart.svg");
  CHECK(quill::report_path("out/m.quill", "curves.png") == "out/m.curves.png");
}

TEST_CASE("report: learning curves are drawn through the values, in the series colours") {
  test_files::TempDir dir("report_curves");
  const std::string path = dir.file("m.curves.png");
  quill::write_learning_curves(path, history());
  const RgbPng png = read_rgb(path);
  REQUIRE(png.width == 1100);
  REQUIRE(png.height == 460);
  check_svg(dir.file("m.curves.svg"), "learning curves");

  // Each panel is 550 pixels wide; its plot area spans x from 80 to 528 and y from 44 (the axis top) to
  // 400 (its bottom), with the four epochs 18 pixels in from the sides.
  auto px = [](int panel, double epoch_index) { return panel * 550 + 98 + (528 - 80 - 36) * epoch_index / 3; };
  auto loss_y = [](double v) { return 400 - 356 * v; };
  auto acc_y = [](double v) { return 400 - 356 * (v - 85) / 15; };
  const Color blue = quill::plot::colors::kBlue, orange = quill::plot::colors::kOrange;
  for (int e = 0; e < 3; ++e) {
    CAPTURE(e);
    // The middle of each segment, and each marker.
    CHECK(colour_near_point(png, px(0, e + 0.5), loss_y(0.9 - 0.2 * e), blue));
    CHECK(colour_near_point(png, px(0, e + 0.5), loss_y(0.8 - 0.2 * e), orange));
    CHECK(colour_near_point(png, px(1, e + 0.5), acc_y(91 + 2 * e), blue));
    CHECK(colour_near_point(png, px(1, e + 0.5), acc_y(90 + 2 * e), orange));
    CHECK(colour_near_point(png, px(0, e), loss_y(1.0 - 0.2 * e), blue));
    // Well away from the lines: the plot area's white.
    CHECK(same(png.at(int(px(0, e + 0.5)), int(loss_y(0.1))), quill::plot::colors::kWhite));
    CHECK(same(png.at(int(px(1, e + 0.5)), int(acc_y(99.5))), quill::plot::colors::kWhite));
  }
  // A series with no values (no validation set) is neither drawn nor in the legend.
  std::vector<quill::EpochRecord> no_validation = history();
  for (quill::EpochRecord& r : no_validation) r.val_loss = r.val_accuracy = NAN;
  quill::write_learning_curves(path, no_validation);
  const RgbPng train_only = read_rgb(path);
  int orange_pixels = 0;
  for (int y = 0; y < train_only.height; ++y)
    for (int x = 0; x < train_only.width; ++x) orange_pixels += near(train_only.at(x, y), orange, 20);
  CHECK(orange_pixels == 0);
  CHECK(colour_near_point(train_only, px(0, 1.5), loss_y(0.7), blue));
}

TEST_CASE("report: the confusion matrix shades rows true, columns predicted") {
  test_files::TempDir dir("report_confusion");
  const std::string path = dir.file("c.png");
  // Class "b" is taken for "c" a fifth of the time; the rest is right.
  const quill::ConfusionMatrix matrix = {{50, 0, 0}, {0, 40, 10}, {0, 0, 30}};
  quill::write_confusion_matrix(path, matrix, {"a", "b", "c"});
  const RgbPng png = read_rgb(path);
  REQUIRE(png.width > 0);
  check_svg(dir.file("c.svg"), "confusion matrix");

  // The first pixel of the darkest shade (a whole row's share) in reading order is cell (a, a)'s corner;
  // its run to the right gives the cell's size.
  const Color darkest{8, 48, 107};
  int left = -1, top = -1;
  for (int y = 0; y < png.height && top < 0; ++y)
    for (int x = 0; x < png.width; ++x)
      if (same(png.at(x, y), darkest)) {
        left = x, top = y;
        break;
      }
  REQUIRE(left >= 0);
  int cell = 0;
  while (same(png.at(left + cell, top), darkest)) ++cell;
  ++cell;  // and the gap between cells
  REQUIRE(cell >= 20);
  // A cell's shade, sampled in its corner (the count is written in its middle).
  auto shade = [&](int row, int col) { return png.at(left + col * cell + cell / 6, top + row * cell + cell / 6); };
  CHECK(same(shade(2, 2), darkest));
  CHECK(luminance(shade(1, 1)) < luminance(shade(1, 2)));  // 80% of row b, then 20%
  CHECK(luminance(shade(1, 2)) < 250);                     // a rare confusion stays visible
  for (auto [t, p] : {std::pair{0, 1}, {0, 2}, {1, 0}, {2, 0}, {2, 1}}) {
    CAPTURE(t);
    CAPTURE(p);
    CHECK(same(shade(t, p), quill::plot::colors::kWhite));
    CHECK(luminance(shade(t, t)) < luminance(shade(t, p)) - 100);
  }
  // The counts are written in the cells: white on the dark diagonal.
  int white_in_diagonal = 0;
  for (int y = top; y < top + cell - 1; ++y)
    for (int x = left; x < left + cell - 1; ++x) white_in_diagonal += luminance(png.at(x, y)) > 200;
  CHECK(white_in_diagonal > 10);

  CHECK_THROWS_AS(quill::write_confusion_matrix(dir.file("bad.png"), matrix, {"a", "b"}), quill::Error);
  CHECK_FALSE(fs::exists(dir.file("bad.png")));
}

TEST_CASE("report: the misclassified grid shows the wrong samples' ink and their labels") {
  test_files::TempDir dir("report_errors");
  quill::Dataset data;
  data.classes = {"0", "1", "2"};
  // Sample 1 (a 12x12 square of ink) is misclassified; samples 0 and 2 (all ink) are right.
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> image(28 * 28, i == 1 ? 0 : 255);
    if (i == 1)
      for (int y = 8; y < 20; ++y)
        for (int x = 6; x < 18; ++x) image[size_t(y * 28 + x)] = 255;
    data.pixels.insert(data.pixels.end(), image.begin(), image.end());
    data.labels.push_back(i);
  }
  const std::string path = dir.file("errors.png");
  CHECK(quill::write_misclassified_grid(path, data, {0, 2, 2}) == 1);
  const RgbPng png = read_rgb(path);
  REQUIRE(png.width > 0);
  check_svg(dir.file("errors.svg"), "misclassified");

  // Black is the samples' ink alone (text is dark grey or coloured): one 24x24 square, the ink at 2x.
  int count = 0, x0 = png.width, y0 = png.height, x1 = -1, y1 = -1;
  for (int y = 0; y < png.height; ++y)
    for (int x = 0; x < png.width; ++x)
      if (same(png.at(x, y), quill::plot::colors::kBlack)) {
        ++count;
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
      }
  CHECK(count == 24 * 24);
  CHECK(x1 - x0 + 1 == 24);
  CHECK(y1 - y0 + 1 == 24);
  // Around it the sample's paper is white, and below it the label "1>2": green, then red.
  CHECK(same(png.at(x0 - 4, y0 - 4), quill::plot::colors::kWhite));
  int green = 0, red = 0;
  for (int y = y1 + 1; y < y1 + 40 && y < png.height; ++y)
    for (int x = x0 - 20; x < x1 + 20; ++x) {
      green += near(png.at(x, y), quill::plot::colors::kGreen, 30);
      red += near(png.at(x, y), quill::plot::colors::kRed, 30);
    }
  CHECK(green > 5);
  CHECK(red > 5);
}

TEST_CASE("report: writing into a missing folder fails with a one-line error and leaves no file") {
  test_files::TempDir dir("report_missing");
  const std::string path = dir.file("no-such-folder/m.curves.png");
  std::string message;
  try {
    quill::write_learning_curves(path, history());
  } catch (const quill::Error& e) {
    message = e.what();
  }
  REQUIRE_FALSE(message.empty());
  CHECK(message.find('\n') == std::string::npos);
  CHECK(message.find(path) != std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("no-such-folder")));
  CHECK(fs::is_empty(dir.path()));
}
