// Line segmentation: lines of real MNIST test digits, photographed dark on light with noise and uneven
// light, including a touching pair, a digit with a broken stroke and a word space, must come back as the
// right characters in the right order.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "data/segment.h"
#include "data/dataset.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "tests/real_data.h"

using namespace quill;

namespace {

// The first `count` real MNIST test images, one vector each: the official test set's, or the offline digits'
// test part where QUILL_DATA holds only those (tests/real_data.h). None after skipping the case.
std::vector<std::vector<uint8_t>> read_mnist_test_images(int count) {
  const Dataset digits = test::real_digits_or_skip(test::DigitsPart::Test, count);
  std::vector<std::vector<uint8_t>> images;
  for (int64_t i = 0; i < digits.size(); ++i) images.emplace_back(digits.image(i), digits.image(i) + 784);
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

  // A random digit at least this wide (photo pixels) whose ink is one piece: the line's one broken stroke
  // is made below, and a digit already in pieces beside a touching neighbour is a different puzzle (which
  // piece goes with which digit) from the one each line poses.
  auto pick = [&](int min_width) {
    for (;;) {
      int i = int(rng.below(uint32_t(digits.size())));
      PlacedDigit d = enlarge(digits[i], i);
      if (d.ink_width() >= min_width && label_components(ink_mask({&d}, side, side), side, side).components.size() == 1)
        return d;
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
  auto digits = read_mnist_test_images(2000);
  if (digits.empty()) return;
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

namespace {

// Gaps of a written line, in parts of a digit's ink height (about 60 photo pixels here).
struct Spacing {
  double within_lo, within_hi;  // between the characters of a word
  double space_lo, space_hi;    // between words
};

// The real MNIST digits the lines below are written with, and their labels; empty after skipping the case
// when QUILL_DATA has no MNIST digits (tests/real_data.h).
struct WordDigits {
  std::vector<std::vector<uint8_t>> images;
  std::vector<int> labels;
};
const WordDigits& word_digits() {
  static const WordDigits digits = [] {
    const Dataset set = test::real_digits_or_skip(test::DigitsPart::Test, 2000);
    WordDigits d;
    for (int64_t i = 0; i < set.size(); ++i) {
      d.images.emplace_back(set.image(i), set.image(i) + 784);
      d.labels.push_back(int(set.labels[size_t(i)]));
    }
    return d;
  }();
  return digits;
}

// `text` (digits and spaces) written with real MNIST test digits of those labels, photographed dark on
// light with noise; each digit's place in the photo comes back in `placed`, left to right.
Image write_text(const std::string& text, const Spacing& spacing, uint64_t seed, std::vector<PlacedDigit>& placed) {
  const std::vector<std::vector<uint8_t>>& digits = word_digits().images;
  const std::vector<int>& labels = word_digits().labels;
  Rng rng(seed);
  const int side = 28 * kScale, ink_height = 20 * kScale;
  int cursor = 30;
  bool space = false;
  placed.clear();
  for (char c : text) {
    if (c == ' ') {
      space = true;
      continue;
    }
    int i;
    do i = int(rng.below(uint32_t(digits.size()))); while (labels[size_t(i)] != c - '0');
    PlacedDigit d = enlarge(digits[size_t(i)], i);
    if (!placed.empty()) {
      const Spacing& s = spacing;
      cursor += int(ink_height * (space ? rng.uniform(s.space_lo, s.space_hi) : rng.uniform(s.within_lo, s.within_hi)));
    }
    d.frame_x = cursor - d.ink_x0;
    d.frame_y = 15 + int(rng.below(9)) - 4;
    cursor = d.frame_x + d.ink_x1 + 1;
    placed.push_back(std::move(d));
    space = false;
  }
  const int w = cursor + 30, h = side + 30;
  std::vector<float> ink(size_t(w) * h, 0.0f);
  for (const PlacedDigit& d : placed)
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const int px = d.frame_x + x, py = d.frame_y + y;
        if (px >= 0 && px < w && py >= 0 && py < h)
          ink[size_t(py) * w + px] = std::max(ink[size_t(py) * w + px], d.ink[size_t(y) * side + x]);
      }
  Image photo(w, h);
  const double paper = rng.uniform(0.75, 0.95), dark = rng.uniform(0.05, 0.25);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) photo.at(x, y) = float(paper - (paper - dark) * ink[size_t(y) * w + x] + 0.03 * rng.normal());
  return photo;
}

// The line as segmentation cut it: each character is named by the label of the digit under its centre
// (so that no classifier is involved), with a space where it marked a word gap.
std::string text_as_segmented(const LineSegmentation& line, const std::vector<PlacedDigit>& placed) {
  const std::vector<int>& labels = word_digits().labels;
  std::string text;
  for (const CharacterSegment& c : line.characters) {
    char name = '?';
    for (const PlacedDigit& d : placed)
      if (c.box.x_centre() >= d.frame_x + d.ink_x0 && c.box.x_centre() <= d.frame_x + d.ink_x1 + 1)
        name = char('0' + labels[size_t(d.index)]);
    text += (c.space_before ? " " : "") + std::string(1, name);
  }
  return text;
}

}  // namespace

TEST_CASE("segment: word spaces in short lines and short words come back exactly (QUILL_DATA)") {
  if (word_digits().images.empty()) return;
  // An ordinary hand: gaps within words of 0.1-0.45 digit heights, spaces of 1-1.5 (a digit's width or
  // more). A spacious one: 0.5-0.8 within words, spaces of 1.6-2. A tight one: 0.12-0.2 within words (any
  // closer and a thin 1 is joined to its neighbour as a broken stroke), spaces of only 0.55-0.7, which
  // tell only against the gaps within words, so its lines have words of two or more.
  struct Hand {
    const char* name;
    Spacing spacing;
    bool one_character_words;  // lines of one-character words only: spaces wide enough to tell alone
  };
  const Hand hands[] = {{"ordinary", {0.1, 0.45, 1.0, 1.5}, true},
                        {"spacious", {0.5, 0.8, 1.6, 2.0}, true},
                        {"tight", {0.12, 0.2, 0.55, 0.7}, false}};
  const std::vector<std::string> texts = {"12 34", "4 56 78", "2468 1357", "90 5", "33 4 1096", "1234", "56", "908172"};
  const std::vector<std::string> one_character_words = {"1 2", "7 1", "3 8 6", "5 0 2 9"};
  int lines = 0, right = 0;
  for (const Hand& hand : hands)
    for (const std::vector<std::string>* set : {&texts, &one_character_words}) {
      if (set == &one_character_words && !hand.one_character_words) continue;
      for (const std::string& text : *set)
        for (uint64_t seed = 1; seed <= 3; ++seed) {
          CAPTURE(hand.name);
          CAPTURE(text);
          CAPTURE(seed);
          std::vector<PlacedDigit> placed;
          const Image photo = write_text(text, hand.spacing, seed, placed);
          const std::string read = text_as_segmented(segment_line(photo), placed);
          CHECK(read == text);
          ++lines, right += read == text;
        }
    }
  MESSAGE(right << " of " << lines << " lines segmented exactly, spaces included");
}

TEST_CASE("segment: a photo without ink throws the no-ink error") {
  CHECK_THROWS_WITH_AS(segment_line(Image(300, 80, 0.9f)), doctest::Contains("no ink found in image"), quill::Error);
}

TEST_CASE("segment: the dot of an i joins its stem, and specks between characters are dropped") {
  // An "L", an "i" (stem and a dot well above it) and an "o", strokes 12 pixels wide, 68 and 66 pixels
  // apart (0.85 heights: one word); a speck between.
  Image photo(400, 160, 0.9f);
  auto fill = [&](int x0, int y0, int x1, int y1) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) photo.at(x, y) = 0.1f;
  };
  fill(50, 50, 62, 130), fill(50, 118, 100, 130);  // L
  fill(170, 60, 182, 130);                          // stem of the i
  fill(168, 30, 184, 44);                           // its dot
  fill(250, 60, 300, 72), fill(250, 118, 300, 130), fill(250, 60, 262, 130), fill(288, 60, 300, 130);  // o
  fill(236, 96, 243, 103);                          // speck
  LineSegmentation seg = segment_line(photo);
  REQUIRE(seg.characters.size() == 3);
  CHECK(seg.characters[1].box.y == 30);
  CHECK(seg.characters[1].box.height == 100);
  for (const CharacterSegment& c : seg.characters) CHECK_FALSE(c.space_before);
}

namespace {

// Dark strokes drawn with a round pen on light paper, for synthetic lines.
struct Drawing {
  Image photo;
  Drawing(int width, int height) : photo(width, height, 0.9f) {}

  // A straight stroke from (x0, y0) to (x1, y1), pen radius r.
  void line(double x0, double y0, double x1, double y1, double r) {
    const double dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy;
    for (int y = 0; y < photo.height; ++y)
      for (int x = 0; x < photo.width; ++x) {
        double t = length2 > 0 ? std::clamp(((x - x0) * dx + (y - y0) * dy) / length2, 0.0, 1.0) : 0.0;
        double ex = x - (x0 + t * dx), ey = y - (y0 + t * dy);
        if (ex * ex + ey * ey <= r * r) photo.at(x, y) = 0.1f;
      }
  }
  // An elliptic ring (an "o") centred at (cx, cy) with outer half-axes rx, ry and the given stroke width.
  void ring(double cx, double cy, double rx, double ry, double stroke) {
    for (int y = 0; y < photo.height; ++y)
      for (int x = 0; x < photo.width; ++x) {
        double ox = (x - cx) / rx, oy = (y - cy) / ry;
        double ix = (x - cx) / (rx - stroke), iy = (y - cy) / (ry - stroke);
        if (ox * ox + oy * oy <= 1 && ix * ix + iy * iy > 1) photo.at(x, y) = 0.1f;
      }
  }
};

}  // namespace

TEST_CASE("segment: a wide M or W without a neck stays one character") {
  // An l, an M 1.4 heights wide, an o and a W as wide: all 100 pixels tall, strokes 14 wide. Wider than
  // neck_width but not split_width, and their thin diagonals hold about as much ink as their vertices, so
  // they have no neck: one piece each (cutting by width made M read as RN and W as VV).
  Drawing d(800, 200);
  const double r = 7, top = 50 + r, bottom = 150 - r;
  d.line(40, top, 40, bottom, r);  // l
  const double m = 100;            // M: stems and two diagonals meeting low in the middle
  d.line(m + r, top, m + r, bottom, r), d.line(m + 140 - r, top, m + 140 - r, bottom, r);
  d.line(m + r, top, m + 70, 130, r), d.line(m + 70, 130, m + 140 - r, top, r);
  d.ring(340, 100, 35, 50, 14);  // o
  const double w = 420;          // W: four diagonals
  d.line(w + r, top, w + 38, bottom, r), d.line(w + 38, bottom, w + 70, 80, r);
  d.line(w + 70, 80, w + 102, bottom, r), d.line(w + 102, bottom, w + 140 - r, top, r);

  LineSegmentation seg = segment_line(d.photo);
  REQUIRE(seg.characters.size() == 4);
  const Box &box_m = seg.characters[1].box, &box_w = seg.characters[3].box;
  CHECK(box_m.x == doctest::Approx(m).epsilon(0.02));
  CHECK(box_m.width == doctest::Approx(140).epsilon(0.03));
  CHECK(box_w.x == doctest::Approx(w).epsilon(0.02));
  CHECK(box_w.width == doctest::Approx(140).epsilon(0.03));
  SegmentOptions options;  // both are in the range where only a neck splits
  CHECK(box_m.width > options.neck_width * box_m.height);
  CHECK(box_m.width <= options.split_width * box_m.height);
}

TEST_CASE("segment: touching characters are split at a neck, and by width when too wide for one") {
  // Two o's joined by a short thin stroke (1.45 heights together: split at the neck), a lone o, then two
  // wider o's touching (1.6 heights: no one character is that wide, split by width).
  Drawing d(700, 200);
  d.ring(85, 100, 35, 50, 14), d.ring(159, 100, 35, 50, 14);
  d.line(118, 100, 126, 100, 3);  // the join: 4 pixels of paper between the rings, bridged
  d.ring(270, 100, 35, 50, 14);
  d.ring(400, 100, 40, 50, 14), d.ring(479, 100, 40, 50, 14);  // outer edges meet at x = 439.5

  LineSegmentation seg = segment_line(d.photo);
  REQUIRE(seg.characters.size() == 5);
  const double centres[] = {85, 159, 270, 400, 479};
  for (int k = 0; k < 5; ++k) {
    CAPTURE(k);
    const Box& b = seg.characters[k].box;
    CHECK(b.x_centre() == doctest::Approx(centres[k]).epsilon(0.03));
    CHECK(b.width >= 68);  // each part holds its whole o (70 or 80 wide), plus at most the bridge
    CHECK(b.width <= 86);
  }
}

TEST_CASE("segment: a wide character left whole also comes with two-part readings, and a narrow one without") {
  // Two o's touching, their outer edges overlapping by 4 pixels: 1.36 heights together, under
  // split_width, and their meeting tips are solid ink, heavier than a fifth of the rings' sides: no neck.
  // So they stay one segment, as a wide M would. Its two-part readings must include the cut where the
  // rings meet; the lone o beside (0.7 heights) is surely one character and gets none.
  Drawing d(600, 200);
  d.ring(100, 100, 35, 50, 14), d.ring(166, 100, 35, 50, 14);  // outer edges 65..135 and 131..201
  d.ring(330, 100, 35, 50, 14);

  LineSegmentation seg = segment_line(d.photo);
  REQUIRE(seg.characters.size() == 2);
  const CharacterSegment& pair = seg.characters[0];
  CHECK(pair.box.width == doctest::Approx(136).epsilon(0.03));
  CHECK(seg.characters[1].two_part_readings.empty());
  REQUIRE_FALSE(pair.two_part_readings.empty());
  bool cut_where_they_meet = false;
  for (const std::vector<CharacterSegment>& reading : pair.two_part_readings) {
    REQUIRE(reading.size() == 2);
    CHECK(reading[0].box.x_end() <= reading[1].box.x);  // left to right, not overlapping
    CHECK(reading[0].box.x == pair.box.x);              // together they hold the whole segment
    CHECK(reading[1].box.x_end() == pair.box.x_end());
    for (const CharacterSegment& part : reading) CHECK(part.crop.width > part.box.width);  // with margins
    cut_where_they_meet = cut_where_they_meet || (reading[0].box.x_end() >= 128 && reading[0].box.x_end() <= 138);
  }
  CHECK(cut_where_they_meet);
}

TEST_CASE("segment: a thin 1 beside bold characters is kept, a speck of as little ink is not") {
  // Bold o's (about 3,500 pixels of ink each) and a 1 drawn 3 pixels wide (about 290): less than
  // speck_fraction of a typical character's ink, but as tall as one, so it is writing. The speck, with
  // a fifth of the 1's ink and only 9 pixels tall, is still dropped.
  Drawing d(500, 200);
  d.ring(80, 100, 35, 50, 16);
  d.line(170, 55, 170, 145, 1.5);  // 1
  d.ring(260, 100, 35, 50, 16);
  d.line(320, 140, 320, 140, 4.5);  // speck
  d.ring(400, 100, 35, 50, 16);

  LineSegmentation seg = segment_line(d.photo);
  REQUIRE(seg.characters.size() == 4);
  const Box& one = seg.characters[1].box;
  CHECK(one.x_centre() == doctest::Approx(170).epsilon(0.02));
  CHECK(one.height >= 85);
}
