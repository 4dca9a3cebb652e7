#include "data/page_layout.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/error.h"

namespace quill {
namespace {

// Pieces of ink smaller than this many squared stroke widths are specks: less than a pen's dot.
constexpr float kDotArea = 0.5f;
// Pieces at least this many stroke widths tall are strokes; their median height is the character height.
constexpr float kStrokeHeight = 2.0f;
// Pieces at least this part of the character height place lines; smaller ones (dots, bits) join the nearest.
constexpr float kMajorHeight = 0.4f;
// The skew search samples at most this many ink pixels.
constexpr size_t kSkewSamples = 60000;
// A line's photo reaches beyond its ink by this part of the character height ...
constexpr float kLineMargin = 0.3f;
// ... and other lines' ink is painted over together with a fringe of this part of it (their anti-aliased edge).
constexpr float kForeignFringe = 0.05f;

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// The skew (as a slope, dy/dx) at which the sampled ink rows are sharpest: the sum of squared counts of
// the histogram of y - slope * x is largest when lines of text fall into the fewest rows.
double find_skew_slope(const std::vector<std::pair<int, int>>& points, int width, int height,
                       const PageLayoutOptions& options) {
  double best_slope = 0, best_score = -1;
  const int steps = int(std::floor(options.max_skew_degrees / options.skew_step_degrees));
  const int reach = int(std::ceil(width * std::tan(options.max_skew_degrees * M_PI / 180.0))) + 1;
  std::vector<int64_t> histogram(size_t(height + 2 * reach + 2));
  for (int s = -steps; s <= steps; ++s) {
    const double slope = std::tan(s * options.skew_step_degrees * M_PI / 180.0);
    std::fill(histogram.begin(), histogram.end(), 0);
    for (const auto& [x, y] : points) ++histogram[size_t(std::lround(y - slope * x) + reach)];
    double score = 0;
    for (int64_t n : histogram) score += double(n) * double(n);
    // Ties (a page of one short word) keep the smaller angle.
    if (score > best_score * (1 + 1e-9) || (score >= best_score * (1 - 1e-9) && std::abs(slope) < std::abs(best_slope)))
      best_score = score, best_slope = slope;
  }
  return best_slope;
}

struct LineGroup {
  std::vector<int> components;
  double top = 1e300, bottom = -1e300;  // deskewed extent of its major pieces
  double centre_sum = 0;
  int centres = 0;
};

// The part of the page around a line's ink, with the ink of other lines' pieces (and a fringe) painted
// over with the paper's level.
Image line_photo(const Image& page, const InkMap& ink, const ComponentLabels& cl, const std::vector<int>& line_of,
                 int line, const Box& box, int fringe) {
  Image photo(box.width, box.height);
  std::vector<uint8_t> foreign(photo.pixels.size(), 0);
  for (int y = 0; y < box.height; ++y)
    for (int x = 0; x < box.width; ++x) {
      const int label = cl.label[size_t(box.y + y) * page.width + box.x + x];
      foreign[size_t(y) * box.width + x] = label >= 0 && line_of[size_t(label)] >= 0 && line_of[size_t(label)] != line;
    }
  // Dilate the foreign mask by the fringe: rows, then columns (a square of side 2 * fringe + 1).
  auto dilate = [&](bool rows) {
    std::vector<uint8_t> out(foreign.size(), 0);
    const int n = rows ? box.width : box.height, lines = rows ? box.height : box.width;
    for (int l = 0; l < lines; ++l)
      for (int i = 0; i < n; ++i) {
        auto at = [&](int j) { return rows ? size_t(l) * box.width + j : size_t(j) * box.width + l; };
        if (!foreign[at(i)]) continue;
        for (int j = std::max(0, i - fringe); j <= std::min(n - 1, i + fringe); ++j) out[at(j)] = 1;
      }
    foreign.swap(out);
  };
  dilate(true);
  dilate(false);
  for (int y = 0; y < box.height; ++y)
    for (int x = 0; x < box.width; ++x) {
      const size_t i = size_t(box.y + y) * page.width + box.x + x;
      photo.at(x, y) = foreign[size_t(y) * box.width + x] ? ink.paper[i] : page.pixels[i];
    }
  return photo;
}

}  // namespace

PageLayout find_text_lines(const Image& page, const PageLayoutOptions& options) {
  if (page.width > kMaxPageSide || page.height > kMaxPageSide)
    fail("page of ", page.width, "x", page.height, " pixels is larger than the ", kMaxPageSide, "x", kMaxPageSide,
         " limit: scale the photo down");
  const InkMap ink = find_ink(page, options.ink);
  const int w = ink.width, h = ink.height;
  const size_t ink_pixels = size_t(std::count(ink.mask.begin(), ink.mask.end(), uint8_t(1)));
  if (ink_pixels > options.max_ink_fraction * double(ink.mask.size()))
    fail("no text found: ink covers ", std::lround(100.0 * double(ink_pixels) / double(ink.mask.size())),
         "% of the image, far more than handwriting does (noise or a picture?)");
  const ComponentLabels cl = label_components(ink.mask, w, h);
  const float stroke = ink_stroke_width(ink.mask, w, h);
  const double min_area = std::max(4.0, double(kDotArea) * stroke * stroke);
  std::vector<int> kept;
  for (int i = 0; i < int(cl.components.size()); ++i)
    if (double(cl.components[size_t(i)].area) >= min_area) kept.push_back(i);
  if (kept.empty()) fail("no text found: only specks of ink");
  if (int(kept.size()) > options.max_pieces)
    fail("no text found: ", kept.size(), " separate pieces of ink, more than ", options.max_pieces,
         " (noise, not writing)");
  std::vector<double> heights;
  for (int i : kept)
    if (cl.components[size_t(i)].height() >= kStrokeHeight * stroke) heights.push_back(cl.components[size_t(i)].height());
  if (heights.empty()) fail("no text found: no piece of ink is taller than a dot");
  const double char_height = median(heights);
  std::vector<int> major, minor;
  for (int i : kept) (cl.components[size_t(i)].height() >= kMajorHeight * char_height ? major : minor).push_back(i);

  // Skew, from a sample of the major pieces' ink.
  std::vector<std::pair<int, int>> points;
  int64_t major_area = 0;
  for (int i : major) major_area += cl.components[size_t(i)].area;
  const int64_t stride = std::max<int64_t>(1, major_area / int64_t(kSkewSamples));
  int64_t seen = 0;
  for (int i : major) {
    const Component& c = cl.components[size_t(i)];
    for (int y = c.y0; y <= c.y1; ++y)
      for (int x = c.x0; x <= c.x1; ++x)
        if (cl.label[size_t(y) * w + x] == i && seen++ % stride == 0) points.emplace_back(x, y);
  }
  const double slope = find_skew_slope(points, w, h, options);
  auto deskewed = [&](double x, double y) { return y - slope * x; };

  // Lines: runs of major pieces' centres, top to bottom.
  std::sort(major.begin(), major.end(), [&](int a, int b) {
    const Component &p = cl.components[size_t(a)], &q = cl.components[size_t(b)];
    return deskewed(0.5 * (p.x0 + p.x1), 0.5 * (p.y0 + p.y1)) < deskewed(0.5 * (q.x0 + q.x1), 0.5 * (q.y0 + q.y1));
  });
  std::vector<LineGroup> groups;
  double previous = 0;
  for (int i : major) {
    const Component& c = cl.components[size_t(i)];
    const double xc = 0.5 * (c.x0 + c.x1), centre = deskewed(xc, 0.5 * (c.y0 + c.y1));
    if (groups.empty() || centre - previous > options.line_gap * char_height) groups.emplace_back();
    LineGroup& g = groups.back();
    g.components.push_back(i);
    g.top = std::min(g.top, deskewed(xc, c.y0));
    g.bottom = std::max(g.bottom, deskewed(xc, c.y1));
    g.centre_sum += centre;
    ++g.centres;
    previous = centre;
  }
  std::vector<int> line_of(cl.components.size(), -1);
  for (int l = 0; l < int(groups.size()); ++l)
    for (int i : groups[size_t(l)].components) line_of[size_t(i)] = l;
  // Dots, accents and bits of broken strokes join the line nearest to them, if one is near.
  for (int i : minor) {
    const Component& c = cl.components[size_t(i)];
    const double centre = deskewed(0.5 * (c.x0 + c.x1), 0.5 * (c.y0 + c.y1));
    int best = -1;
    double best_distance = options.attach_distance * char_height;
    for (int l = 0; l < int(groups.size()); ++l) {
      const LineGroup& g = groups[size_t(l)];
      const double distance = std::max({0.0, g.top - centre, centre - g.bottom});
      if (distance <= best_distance) best = l, best_distance = distance;
    }
    if (best >= 0) line_of[size_t(i)] = best, groups[size_t(best)].components.push_back(i);
  }

  PageLayout layout;
  layout.polarity = ink.dark_on_light ? InkPolarity::DarkOnLight : InkPolarity::LightOnDark;
  layout.skew_degrees = std::atan(slope) * 180.0 / M_PI;
  if (groups.size() == 1) {  // a photo of one line is read as it is
    layout.lines.push_back({page, {0, 0, page.width, page.height}});
    return layout;
  }
  const int margin = std::max(2, int(std::lround(kLineMargin * char_height)));
  const int fringe = std::max(1, int(std::lround(kForeignFringe * char_height)));
  for (int l = 0; l < int(groups.size()); ++l) {
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int i : groups[size_t(l)].components) {
      const Component& c = cl.components[size_t(i)];
      x0 = std::min(x0, c.x0), y0 = std::min(y0, c.y0), x1 = std::max(x1, c.x1), y1 = std::max(y1, c.y1);
    }
    x0 = std::max(0, x0 - margin), y0 = std::max(0, y0 - margin);
    x1 = std::min(w - 1, x1 + margin), y1 = std::min(h - 1, y1 + margin);
    const Box box{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
    layout.lines.push_back({line_photo(page, ink, cl, line_of, l, box, fringe), box});
  }
  return layout;
}

}  // namespace quill
