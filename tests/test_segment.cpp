// Line segmentation: lines of real MNIST test digits, photographed dark on light with noise and uneven
// light, including a touching pair, a digit with a broken stroke and a word space, must come back as the
// right characters in the right order.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "data/segment.h"
#include "data/idx.h"
#include "runtime/error.h"
#include "runtime/rng.h"

using namespace quill;

namespace {

// The first `count` MNIST test images, one vector each.
std::vector<std::vector<uint8_t>> read_mnist_test_images(int count) {
  const IdxImages all = read_idx_images(std::string(std::getenv("QUILL_DATA")) + "/mnist/t10k-images-idx3-ubyte.gz");
  std::vector<std::vector<uint8_t>> images;
  for (int64_t i = 0; i < std::min<int64_t>(count, all.count); ++i)
    images.emplace_back(all.pixels.begin() + i * 784, all.pixels.begin() + (i + 1) * 784);
  return images;
}

constexpr int kScale = 3;  // 28x28 digits become 84x84 in the photo (ink about 60 pixels tall)

// A digit enlarged (bilinear) into an ink-bright plane of the photo, with its ink's extent.
struct PlacedDigit {
  int index = 0;                   // into the digit set
  int frame_x = 0, frame_y = 0;    // where its enlarged 28x28 frame lies in the photo
  std::vector<float> ink;          // 28*kScale squared, ink-bright
  int ink_x0 = 0, ink_x1 = 0;      // columns of the frame that hold ink (>= 0.5), inclusive
  int ink_width() const { return ink_x1 - ink_x0 + 1; }
};

PlacedDigit enlarge(const std::vector<uint8_t>& s, int index) {
  PlacedDigit d;
  d.index = index;
  const int side = 28 * kScale;
  d.ink.assign(size_t(side) * side, 0.0f);
  d.ink_x0 = side, d.ink_x1 = -1;
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      double sx = std::min(27.0, std::max(0.0, (x + 0.5) / kScale - 0.5));
      double sy = std::min(27.0, std::max(0.0, (y + 0.5) / kScale - 0.5));
      int x0 = int(sx), y0 = int(sy), x1 = std::min(27, x0 + 1), y1 = std::min(27, y0 + 1);
      double fx = sx - x0, fy = sy - y0;
      float v = float(((1 - fx) * (1 - fy) * s[y0 * 28 + x0] + fx * (1 - fy) * s[y0 * 28 + x1] +
                       (1 - fx) * fy * s[y1 * 28 + x0] + fx * fy * s[y1 * 28 + x1]) / 255.0);
      d.ink[size_t(y) * side + x] = v;
      if (v >= 0.5f) d.ink_x0 = std::min(d.ink_x0, x), d.ink_x1 = std::max(d.ink_x1, x);
    }
  return d;
}

// Ink (>= 0.5) of the given digits, composited at their places, as a mask of a w x h photo.
std::vector<uint8_t> ink_mask(const std::vector<const PlacedDigit*>& digits, int w, int h) {
  std::vector<uint8_t> mask(size_t(w) * h, 0);
  const int side = 28 * kScale;
  for (const PlacedDigit* d : digits)
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        int px = d->frame_x + x, py = d->frame_y + y;
        if (px >= 0 && px < w && py >= 0 && py < h && d->ink[size_t(y) * side + x] >= 0.5f) mask[size_t(py) * w + px] = 1;
      }
  return mask;
}

// Whether some connected piece of ink belongs to both digits.
bool touching(const PlacedDigit& a, const PlacedDigit& b, int w, int h) {
  ComponentLabels both = label_components(ink_mask({&a, &b}, w, h), w, h);
  std::vector<uint8_t> in_a(both.components.size(), 0);
  std::vector<uint8_t> mask_a = ink_mask({&a}, w, h), mask_b = ink_mask({&b}, w, h);
  for (size_t i = 0; i < mask_a.size(); ++i)
    if (mask_a[i]) in_a[both.label[i]] = 1;
  for (size_t i = 0; i < mask_b.size(); ++i)
    if (mask_b[i] && in_a[both.label[i]]) return true;
  return false;
}

struct Line {
  Image photo;
  std::vector<PlacedDigit> digits;  // left to right
  int touching_pair = -1;           // digits[touching_pair] and the next one touch
  int broken = -1;                  // this digit has a stroke cut by a gap
  int space_before = -1;            // a word gap precedes this digit
};

// A line of 4-8 digits with varied gaps, one touching pair, one broken stroke, one word space and a few
// specks, photographed dark on light with noise and a light gradient.
Line make_line(const std::vector<std::vector<uint8_t>>& digits, uint64_t seed) {
  Rng rng(seed);
  Line line;
  const int n = 4 + int(rng.below(5)), side = 28 * kScale, w = 40 + n * 90 + 120, h = side + 30;
  line.touching_pair = int(rng.below(n - 1));
  do line.broken = int(rng.below(n)); while (line.broken == line.touching_pair || line.broken == line.touching_pair + 1);
  do line.space_before = 1 + int(rng.below(n - 1)); while (line.space_before == line.touching_pair + 1);

  auto pick = [&](int min_width) {  // a random digit at least this wide (photo pixels)
    for (;;) {
      int i = int(rng.below(uint32_t(digits.size())));
      PlacedDigit d = enlarge(digits[i], i);
      if (d.ink_width() >= min_width) return d;
    }
  };
  // The touching pair must be clearly wider than one character (about 1.6 heights), or no segmenter
  // could tell it from one wide character.
  for (int k = 0; k < n; ++k) {
    bool in_pair = k == line.touching_pair || k == line.touching_pair + 1;
    line.digits.push_back(pick(in_pair ? 16 * kScale : 1));
  }
  // Broken stroke: a 3-pixel band of paper across the middle of the ink, which must split it.
  for (;;) {
    PlacedDigit& d = line.digits[line.broken];
    std::vector<float> cut = d.ink;
    for (int y = side / 2 - 1; y <= side / 2 + 1; ++y)
      for (int x = 0; x < side; ++x) cut[size_t(y) * side + x] = 0.0f;
    PlacedDigit probe = d;
    probe.ink = cut;
    if (label_components(ink_mask({&probe}, side, side), side, side).components.size() >= 2) {
      d.ink = cut;
      break;
    }
    d = pick(1);
  }

  int cursor = 40;
  for (int k = 0; k < n; ++k) {
    PlacedDigit& d = line.digits[k];
    d.frame_x = cursor - d.ink_x0;
    d.frame_y = 15 + int(rng.below(9)) - 4;
    if (k == line.touching_pair + 1) {
      // Slide it left onto its neighbour until their ink touches (a couple of pixels of overlap).
      while (!touching(line.digits[k - 1], d, w, h)) --d.frame_x;
    }
    int gap = k + 1 == line.space_before ? 80 + int(rng.below(20)) : 6 + int(rng.below(19));  // 0.1-0.4 heights
    cursor = d.frame_x + d.ink_x1 + 1 + gap;
  }

  std::vector<float> ink(size_t(w) * h, 0.0f);
  for (const PlacedDigit& d : line.digits)
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        int px = d.frame_x + x, py = d.frame_y + y;
        if (px >= 0 && px < w && py >= 0 && py < h)
          ink[size_t(py) * w + px] = std::max(ink[size_t(py) * w + px], d.ink[size_t(y) * side + x]);
      }
  for (int speck = 0; speck < 6; ++speck) {  // ink specks of radius 1.5..3 pixels anywhere
    double cx = rng.uniform(0, w), cy = rng.uniform(0, h), r = rng.uniform(1.5, 3.0);
    for (int y = std::max(0, int(cy - r)); y <= std::min(h - 1, int(cy + r)); ++y)
      for (int x = std::max(0, int(cx - r)); x <= std::min(w - 1, int(cx + r)); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) ink[size_t(y) * w + x] = 1.0f;
  }
  double paper = rng.uniform(0.75, 0.95), dark = rng.uniform(0.05, 0.25);
  line.photo = Image(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double light = 1.0 - 0.3 * x / w;  // uneven light along the line
      double lum = (paper - (paper - dark) * ink[size_t(y) * w + x]) * light + 0.05 * rng.normal();
      line.photo.at(x, y) = float(lum);
    }
  return line;
}

double ncc(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= a.size(), mb /= b.size();
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += (a[i] - ma) * (b[i] - mb), aa += (a[i] - ma) * (a[i] - ma), bb += (b[i] - mb) * (b[i] - mb);
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0;
}

}  // namespace

TEST_CASE("segment: lines of real digits come back in order, touching pair split, broken stroke merged") {
  if (!std::getenv("QUILL_DATA")) {
    MESSAGE("skipped: set QUILL_DATA to the real data folder");
    return;
  }
  auto digits = read_mnist_test_images(2000);
  double ncc_sum = 0;
  int ncc_count = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    CAPTURE(seed);
    Line line = make_line(digits, seed);
    LineSegmentation seg = segment_line(line.photo);
    CHECK(seg.polarity == InkPolarity::DarkOnLight);
    REQUIRE(seg.characters.size() == line.digits.size());
    for (size_t k = 0; k < line.digits.size(); ++k) {
      CAPTURE(k);
      const PlacedDigit& d = line.digits[k];
      const CharacterSegment& c = seg.characters[k];
      float centre = c.box.x_centre();
      CHECK(centre >= d.frame_x + d.ink_x0);
      CHECK(centre <= d.frame_x + d.ink_x1 + 1);
      CHECK(c.space_before == (int(k) == line.space_before));
      CHECK(!c.crop.empty());
      PreprocessOptions options;
      options.polarity = seg.polarity;
      ncc_sum += ncc(preprocess_character(c.crop, options), digits[d.index]);
      ++ncc_count;
    }
  }
  // Light ink on dark paper: the same line inverted.
  Line line = make_line(digits, 1);
  for (float& v : line.photo.pixels) v = 1.0f - v;
  LineSegmentation inverted = segment_line(line.photo);
  CHECK(inverted.polarity == InkPolarity::LightOnDark);
  CHECK(inverted.characters.size() == line.digits.size());

  // Not a bound on segmentation itself: how close each crop comes to its digit after preprocessing
  // (the broken digit and the touching pair lose some ink to the cut).
  MESSAGE("mean NCC of preprocessed crops vs their digits: ", ncc_sum / ncc_count);
  CHECK(ncc_sum / ncc_count > 0.8);
}

TEST_CASE("segment: a photo without ink throws the no-ink error") {
  CHECK_THROWS_WITH_AS(segment_line(Image(300, 80, 0.9f)), doctest::Contains("no ink found in image"), quill::Error);
}

TEST_CASE("segment: the dot of an i joins its stem; specks between characters are dropped") {
  // An "L", an "i" (stem and a dot well above it) and an "o", strokes 12 pixels wide; a speck between.
  Image photo(400, 160, 0.9f);
  auto fill = [&](int x0, int y0, int x1, int y1) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) photo.at(x, y) = 0.1f;
  };
  fill(50, 50, 62, 130), fill(50, 118, 100, 130);  // L
  fill(170, 60, 182, 130);                          // stem of the i
  fill(168, 30, 184, 44);                           // its dot
  fill(290, 60, 340, 72), fill(290, 118, 340, 130), fill(290, 60, 302, 130), fill(328, 60, 340, 130);  // o
  fill(236, 96, 243, 103);                          // speck
  LineSegmentation seg = segment_line(photo);
  REQUIRE(seg.characters.size() == 3);
  CHECK(seg.characters[1].box.y == 30);
  CHECK(seg.characters[1].box.height == 100);
  for (const CharacterSegment& c : seg.characters) CHECK_FALSE(c.space_before);
}
