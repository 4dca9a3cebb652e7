// Reading a page (issue #35): the page's text lines (data/page_layout.h), the line's context
// (engine/line_context.h), the charset (engine/charset.h), the lexicon (engine/lexicon.h) and read_page
// (engine/page_reading.h) putting them together. Layout is checked on pages written with real MNIST test
// digits (QUILL_DATA), skewed by a known angle; the rest with given boxes and probabilities, so that no
// trained model is involved and every branch is reached on purpose.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/page_layout.h"
#include "data/segment.h"
#include "engine/charset.h"
#include "engine/lexicon.h"
#include "engine/line_context.h"
#include "engine/page_reading.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "tests/real_data.h"
#include "tests/skip.h"
#include "tests/temp_files.h"

using namespace quill;

namespace {

// ---------------------------------------------------------------------------------------------------------
// Pages written with real MNIST test digits.

constexpr int kScale = 2;                 // 28x28 digits become 56x56 in the page (ink about 40 pixels tall)
constexpr int kSide = 28 * kScale;
constexpr int kInkHeight = 20 * kScale;   // an MNIST digit's ink is about 20 of its 28 rows

struct DigitSet {
  std::vector<std::vector<float>> ink;  // each digit enlarged (bilinear), ink-bright, kSide x kSide
  std::vector<int> x0, x1;              // its ink's columns (>= 0.5), inclusive
};

// Up to `count` real test digits whose ink is one piece (a digit in pieces is segmentation's puzzle, not
// the layout's); empty after skipping the case when QUILL_DATA has none.
const DigitSet& digit_set() {
  static const DigitSet set = [] {
    DigitSet s;
    const Dataset digits = test::real_digits_or_skip(test::DigitsPart::Test, 300);
    for (int64_t i = 0; i < digits.size(); ++i) {
      const uint8_t* p = digits.image(i);
      std::vector<float> ink(size_t(kSide) * kSide);
      int x0 = kSide, x1 = -1;
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x) {
          const double sx = std::clamp((x + 0.5) / kScale - 0.5, 0.0, 27.0), sy = std::clamp((y + 0.5) / kScale - 0.5, 0.0, 27.0);
          const int a = int(sx), b = int(sy), a1 = std::min(27, a + 1), b1 = std::min(27, b + 1);
          const double fx = sx - a, fy = sy - b;
          const float v = float(((1 - fx) * (1 - fy) * p[b * 28 + a] + fx * (1 - fy) * p[b * 28 + a1] +
                                 (1 - fx) * fy * p[b1 * 28 + a] + fx * fy * p[b1 * 28 + a1]) / 255.0);
          ink[size_t(y) * kSide + x] = v;
          if (v >= 0.5f) x0 = std::min(x0, x), x1 = std::max(x1, x);
        }
      std::vector<uint8_t> mask(ink.size());
      for (size_t k = 0; k < ink.size(); ++k) mask[k] = ink[k] >= 0.5f;
      if (x1 - x0 < 6 || label_components(mask, kSide, kSide).components.size() != 1) continue;
      s.ink.push_back(std::move(ink));
      s.x0.push_back(x0), s.x1.push_back(x1);
    }
    return s;
  }();
  return set;
}

// Whether the digits are here; else the running case is skipped (the first by real_digits_or_skip itself,
// later ones here, since the set is read once).
bool digits_or_skip() {
  static bool first = true;
  const bool have = !digit_set().ink.empty();
  if (!have && !first) test::skip_test_case("QUILL_DATA has no MNIST digits (tests/real_data.h)");
  first = false;
  return have;
}

struct WrittenDigit {
  int line = 0, word = 0;
  std::vector<uint8_t> mask;  // its ink (>= 0.5) in the page
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;  // the mask's extent
};

struct WrittenPage {
  Image photo;
  std::vector<WrittenDigit> digits;  // line by line, left to right
  std::vector<int> words_per_line;
  int dot_x = -1, dot_y = -1, dot_line = -1;  // a dot's centre, and the line it belongs to
};

// Lines of words (`lines[l]` holds each word's length), written with real digits, the whole writing
// sheared by `skew_degrees` (positive: y grows with x), dark on light with noise. With `dot`, a small round
// dot a little above the first digit of the second line (an i's dot). Lines are `pitch` rows apart.
WrittenPage write_page(const std::vector<std::vector<int>>& lines, double skew_degrees, uint64_t seed, bool dot = false,
                       int pitch = 62) {  // 62: about 22 rows of paper between lines, and skewed lines' boxes overlap
  const DigitSet& set = digit_set();
  Rng rng(seed);
  const double slope = std::tan(skew_degrees * M_PI / 180.0);
  const int margin = 40;
  // Unskewed places: each digit's frame.
  struct Place {
    int index, fx, fy, line, word;
  };
  std::vector<Place> places;
  int width = 0;
  for (int l = 0; l < int(lines.size()); ++l) {
    int cursor = margin;
    for (int w = 0; w < int(lines[size_t(l)].size()); ++w) {
      if (w) cursor += int(kInkHeight * rng.uniform(1.3, 1.6));
      for (int k = 0; k < lines[size_t(l)][size_t(w)]; ++k) {
        if (k) cursor += int(kInkHeight * rng.uniform(0.2, 0.4));
        const int i = int(rng.below(uint32_t(set.ink.size())));
        const int fx = cursor - set.x0[size_t(i)], fy = margin + l * pitch + int(rng.below(7)) - 3;
        places.push_back({i, fx, fy, l, w});
        cursor = fx + set.x1[size_t(i)] + 1;
      }
    }
    width = std::max(width, cursor + margin);
  }
  const int reach = int(std::ceil(std::abs(slope) * width));
  const int height = 2 * margin + int(lines.size() - 1) * pitch + kSide + reach;
  const int shift = slope < 0 ? reach : 0;  // keeps sheared ink inside the page
  WrittenPage page;
  std::vector<float> ink(size_t(width) * height, 0.0f);
  for (const Place& p : places) {
    WrittenDigit d;
    d.line = p.line, d.word = p.word;
    d.mask.assign(ink.size(), 0);
    const std::vector<float>& src = set.ink[size_t(p.index)];
    for (int y = 0; y < height; ++y)
      for (int x = std::max(0, p.fx); x < std::min(width, p.fx + kSide); ++x) {
        // The sheared page at (x, y) shows the unskewed writing at (x, y - slope * x - shift).
        const double v = y - slope * x - shift - p.fy;
        if (v < 0 || v > kSide - 1) continue;
        const int v0 = int(v), v1 = std::min(kSide - 1, v0 + 1);
        const double f = v - v0;
        const float value = float((1 - f) * src[size_t(v0) * kSide + (x - p.fx)] + f * src[size_t(v1) * kSide + (x - p.fx)]);
        float& at = ink[size_t(y) * width + x];
        at = std::max(at, value);
        if (value >= 0.5f) {
          d.mask[size_t(y) * width + x] = 1;
          d.x0 = std::min(d.x0, x), d.x1 = std::max(d.x1, x), d.y0 = std::min(d.y0, y), d.y1 = std::max(d.y1, y);
        }
      }
    page.digits.push_back(std::move(d));
  }
  for (const auto& line : lines) page.words_per_line.push_back(int(line.size()));
  if (dot) {
    const WrittenDigit* first = nullptr;
    for (const WrittenDigit& d : page.digits)
      if (d.line == 1) {
        first = &d;
        break;
      }
    REQUIRE(first);
    page.dot_line = 1;
    page.dot_x = (first->x0 + first->x1) / 2;
    page.dot_y = first->y0 - 12;
    for (int y = page.dot_y - 4; y <= page.dot_y + 4; ++y)
      for (int x = page.dot_x - 4; x <= page.dot_x + 4; ++x)
        if ((x - page.dot_x) * (x - page.dot_x) + (y - page.dot_y) * (y - page.dot_y) <= 12) ink[size_t(y) * width + x] = 1.0f;
  }
  page.photo = Image(width, height);
  const double paper = rng.uniform(0.8, 0.92), dark = rng.uniform(0.08, 0.2);
  for (size_t k = 0; k < ink.size(); ++k) page.photo.pixels[k] = float(paper - (paper - dark) * ink[k] + 0.03 * rng.normal());
  return page;
}

bool inside(const Box& b, int x, int y) { return x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height; }

// A classifier that must not be reached.
std::vector<std::vector<double>> never_classify(const std::vector<std::vector<uint8_t>>&) {
  FAIL("classify was called on a page without text");
  return {};
}

// ---------------------------------------------------------------------------------------------------------
// Classes and probabilities for the context, charset and lexicon cases.

// EMNIST ByClass's classes: 0-9, A-Z, a-z.
std::vector<std::string> byclass() {
  std::vector<std::string> c;
  for (char ch = '0'; ch <= '9'; ++ch) c.push_back(std::string(1, ch));
  for (char ch = 'A'; ch <= 'Z'; ++ch) c.push_back(std::string(1, ch));
  for (char ch = 'a'; ch <= 'z'; ++ch) c.push_back(std::string(1, ch));
  return c;
}

size_t class_index(const std::vector<std::string>& classes, char ch) {
  const auto it = std::find(classes.begin(), classes.end(), std::string(1, ch));
  REQUIRE(it != classes.end());
  return size_t(it - classes.begin());
}

// `weights` on the named characters, the rest of the mass (`rest` in all) shared by every class.
std::vector<double> probabilities_of(const std::vector<std::string>& classes,
                                     const std::vector<std::pair<char, double>>& weights, double rest = 0.02) {
  std::vector<double> p(classes.size(), rest / double(classes.size()));
  double named = 0;
  for (const auto& [ch, w] : weights) named += w;
  for (const auto& [ch, w] : weights) p[class_index(classes, ch)] += (1 - rest) * w / named;
  return p;
}

char most_probable(const std::vector<std::string>& classes, const std::vector<double>& p) {
  return classes[size_t(std::max_element(p.begin(), p.end()) - p.begin())][0];
}

// A line of characters drawn to a known geometry: each character's box from its kind of height.
struct DrawnLine {
  double baseline0 = 200, slope = 0, cap = 40, x_height = 24, descender = 14;
  std::vector<Box> boxes;
  std::vector<bool> word_start;
  std::vector<std::vector<double>> probabilities;
  int next_x = 20;

  double baseline(double x) const { return baseline0 + slope * x; }
  // A box reaching `top` above the baseline and `bottom` below it (both in pixels).
  void add(const std::vector<double>& p, double top, double bottom, bool starts_word = false) {
    const int w = 20;
    const double base = baseline(next_x + 0.5 * w);
    const int y0 = int(std::lround(base - top)), y1 = int(std::lround(base + bottom));
    boxes.push_back({next_x, y0, w, y1 - y0});
    word_start.push_back(boxes.size() == 1 || starts_word);
    probabilities.push_back(p);
    next_x += starts_word ? 60 : 28;
  }
  // A surely read character, drawn at its kind's height.
  void letter(const std::vector<std::string>& classes, char ch, bool starts_word = false) {
    const std::vector<double> p = probabilities_of(classes, {{ch, 1.0}}, 0.05);
    switch (glyph_height(std::string(1, ch))) {
      case GlyphHeight::Small: add(p, x_height, 0, starts_word); break;
      case GlyphHeight::Descender: add(p, x_height, descender, starts_word); break;
      case GlyphHeight::Dotted: add(p, 0.5 * (cap + x_height), 0, starts_word); break;
      case GlyphHeight::DottedDescender: add(p, 0.5 * (cap + x_height), descender, starts_word); break;
      default: add(p, cap, 0, starts_word);
    }
  }
  // `text` as a word of its own, or (new_word false) continuing the last one.
  void word(const std::vector<std::string>& classes, const std::string& text, bool new_word = true) {
    for (size_t i = 0; i < text.size(); ++i) letter(classes, text[i], new_word && i == 0 && !boxes.empty());
  }
};

// One segment's choices for match_word: the whole read as `ch` with probability `p`, the rest spread.
SegmentChoices segment(const std::vector<std::string>& classes, const std::vector<std::pair<char, double>>& weights) {
  SegmentChoices s;
  s.whole = probabilities_of(classes, weights, 0.05);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------


TEST_CASE("page layout: skewed lines of real digits come back top to bottom, each box holding exactly its ink (QUILL_DATA)") {
  if (!digits_or_skip()) return;
  const std::vector<std::vector<int>> lines = {{3, 2}, {2}, {4, 3}, {1, 2, 1}};  // words' lengths, line by line
  int foreign_total = 0;  // other lines' ink inside a line's box (to be painted over)
  for (const double skew : {3.0, -2.0}) {
    CAPTURE(skew);
    const WrittenPage page = write_page(lines, skew, skew > 0 ? 11 : 12);
    const PageLayout layout = find_text_lines(page.photo);
    CHECK(std::abs(layout.skew_degrees - skew) <= 1.0);
    CHECK(layout.polarity == InkPolarity::DarkOnLight);
    REQUIRE(layout.lines.size() == lines.size());
    for (size_t l = 0; l < lines.size(); ++l) {
      CAPTURE(l);
      const TextLine& t = layout.lines[l];
      REQUIRE(t.photo.width == t.box.width);
      REQUIRE(t.photo.height == t.box.height);
      REQUIRE(t.box.x >= 0);
      REQUIRE(t.box.y >= 0);
      REQUIRE(t.box.x + t.box.width <= page.photo.width);
      REQUIRE(t.box.y + t.box.height <= page.photo.height);
      int outside = 0, changed = 0, foreign_shown = 0, foreign_inside = 0;
      int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;  // the line's own ink
      for (const WrittenDigit& d : page.digits) {
        for (int y = d.y0; y <= d.y1; ++y)
          for (int x = d.x0; x <= d.x1; ++x) {
            if (!d.mask[size_t(y) * page.photo.width + x]) continue;
            if (size_t(d.line) == l) {
              x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
              if (!inside(t.box, x, y)) ++outside;
              else if (t.photo.at(x - t.box.x, y - t.box.y) != page.photo.at(x, y)) ++changed;
            } else if (inside(t.box, x, y)) {
              ++foreign_inside;
              if (t.photo.at(x - t.box.x, y - t.box.y) < 0.5f) ++foreign_shown;  // painted over: paper, ~0.85
            }
          }
      }
      CHECK(outside == 0);        // all of its digits' ink ...
      CHECK(changed == 0);        // ... as the page shows it
      CHECK(foreign_shown == 0);  // and none of the other lines' ink
      foreign_total += foreign_inside;
      // The box hugs the line: at most half an ink height beyond its ink on every side.
      CHECK(t.box.x >= x0 - kInkHeight / 2);
      CHECK(t.box.y >= y0 - kInkHeight / 2);
      CHECK(t.box.x + t.box.width - 1 <= x1 + kInkHeight / 2);
      CHECK(t.box.y + t.box.height - 1 <= y1 + kInkHeight / 2);
      if (l > 0) CHECK(t.box.y > layout.lines[l - 1].box.y);  // top to bottom
    }
  }
  CHECK(foreign_total > 0);  // the pages are skewed enough that lines' boxes overlap
}

TEST_CASE("page layout: a photo of one line is that line, pixel for pixel, a dot joins the line under it (QUILL_DATA)") {
  if (!digits_or_skip()) return;
  for (const double skew : {0.0, 2.5}) {
    CAPTURE(skew);
    const WrittenPage one = write_page({{3, 2}}, skew, 21);
    const PageLayout layout = find_text_lines(one.photo);
    REQUIRE(layout.lines.size() == 1);
    CHECK(layout.lines[0].photo.width == one.photo.width);
    CHECK(layout.lines[0].photo.height == one.photo.height);
    CHECK(layout.lines[0].photo.pixels == one.photo.pixels);
    CHECK(layout.lines[0].box.x == 0);
    CHECK(layout.lines[0].box.y == 0);
    CHECK(layout.lines[0].box.width == one.photo.width);
    CHECK(layout.lines[0].box.height == one.photo.height);
  }
  // An i's dot above the second line's first digit, nearer to it than to the line above.
  const WrittenPage page = write_page({{2, 2}, {3}, {2}}, 1.5, 22, /*dot=*/true, /*pitch=*/95);
  const PageLayout layout = find_text_lines(page.photo);
  REQUIRE(layout.lines.size() == 3);
  for (size_t l = 0; l < layout.lines.size(); ++l) {
    CAPTURE(l);
    const TextLine& t = layout.lines[l];
    if (int(l) == page.dot_line) {
      REQUIRE(inside(t.box, page.dot_x, page.dot_y - 3));  // the dot's top, with it
      CHECK(t.photo.at(page.dot_x - t.box.x, page.dot_y - t.box.y) < 0.5f);
    } else if (inside(t.box, page.dot_x, page.dot_y)) {
      CHECK(t.photo.at(page.dot_x - t.box.x, page.dot_y - t.box.y) > 0.5f);  // painted over in other lines
    }
  }
}

TEST_CASE("page reading: lines top to bottom, words and characters left to right, each with its own sample's classes (QUILL_DATA)") {
  if (!digits_or_skip()) return;
  const std::vector<std::vector<int>> lines = {{3, 2}, {1, 3}, {4}};
  const WrittenPage page = write_page(lines, 2.0, 31);
  const std::vector<std::string> classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  // The class of a sample: a hash of its pixels, read with probability 0.9.
  auto class_of = [](const std::vector<uint8_t>& s) {
    uint32_t h = 2166136261u;
    for (uint8_t v : s) h = (h ^ v) * 16777619u;
    return size_t(h % 10);
  };
  int calls = 0;
  size_t samples = 0;
  const ClassifyFn classify = [&](const std::vector<std::vector<uint8_t>>& batch) {
    ++calls;
    samples += batch.size();
    std::vector<std::vector<double>> out;
    for (const std::vector<uint8_t>& s : batch) {
      REQUIRE(s.size() == 784);
      std::vector<double> p(10, 0.1 / 9);
      p[class_of(s)] = 0.9;
      out.push_back(p);
    }
    return out;
  };
  const PageReading reading = read_page(page.photo, classify, classes, PageReadOptions{});
  CHECK(calls == 1);  // the whole page in one batch
  CHECK(std::abs(reading.skew_degrees - 2.0) <= 1.0);
  REQUIRE(reading.lines.size() == lines.size());
  size_t digit = 0, characters = 0;
  std::string expected_text;
  for (size_t l = 0; l < lines.size(); ++l) {
    CAPTURE(l);
    const PageLine& line = reading.lines[l];
    REQUIRE(line.words.size() == lines[l].size());
    std::string line_text;
    for (size_t w = 0; w < line.words.size(); ++w) {
      CAPTURE(w);
      const PageWord& word = line.words[w];
      REQUIRE(word.count == size_t(lines[l][w]));
      CHECK(word.lexicon == LexiconUse::None);
      std::string text;
      for (size_t k = word.first; k < word.first + word.count; ++k, ++digit) {
        REQUIRE(k < line.characters.size());
        const PageCharacter& c = line.characters[k];
        const WrittenDigit& d = page.digits[digit];
        CAPTURE(k);
        // Its box, in page pixels, lies on its digit.
        const double cx = c.box.x + 0.5 * c.box.width, cy = c.box.y + 0.5 * c.box.height;
        CHECK(cx >= d.x0);
        CHECK(cx <= d.x1);
        CHECK(cy >= d.y0);
        CHECK(cy <= d.y1);
        // Its class is its own sample's.
        CHECK(c.text == classes[class_of(c.sample)]);
        CHECK(c.confidence == doctest::Approx(0.9));
        text += c.text;
      }
      CHECK(word.text == text);
      CHECK(word.raw == text);
      line_text += (w ? " " : "") + text;
    }
    CHECK(line.characters.size() == line_text.size() - size_t(std::count(line_text.begin(), line_text.end(), ' ')));
    CHECK(line.text == line_text);
    CHECK(line.confidence == doctest::Approx(0.9));
    characters += line.characters.size();
    expected_text += (l ? "\n" : "") + line_text;
  }
  CHECK(digit == page.digits.size());
  CHECK(samples >= characters);  // two-part readings add samples, never take any away
  CHECK(reading.text() == expected_text);
}

TEST_CASE("page layout: pages without text are refused with a reason, quickly, never a crash") {
  auto refusal = [](const Image& page) -> std::string {
    try {
      find_text_lines(page);
    } catch (const Error& e) {
      // read_page refuses it too, without classifying anything.
      CHECK_THROWS_AS(read_page(page, never_classify, {"0", "1"}, PageReadOptions{}), Error);
      return e.what();
    }
    return "";
  };
  const auto t0 = std::chrono::steady_clock::now();
  Rng rng(41);
  SUBCASE("blank") {
    Image blank(320, 240, 0.9f);
    for (float& v : blank.pixels) v += float(0.01 * rng.normal());
    const std::string why = refusal(blank);
    CAPTURE(why);
    CHECK((why.find("no ink") != std::string::npos || why.find("no text") != std::string::npos));
  }
  SUBCASE("uniform noise") {
    Image noise(400, 300);
    for (float& v : noise.pixels) v = float(rng.uniform());
    const std::string why = refusal(noise);
    CAPTURE(why);
    CHECK((why.find("no ink") != std::string::npos || why.find("no text") != std::string::npos));
  }
  SUBCASE("only specks") {
    Image specks(320, 240, 0.9f);
    for (int k = 0; k < 40; ++k) specks.at(5 + int(rng.below(310)), 5 + int(rng.below(230))) = 0.1f;
    const std::string why = refusal(specks);
    CAPTURE(why);
    CHECK((why.find("no ink") != std::string::npos || why.find("no text") != std::string::npos));
  }
  SUBCASE("larger than kMaxPageSide") {
    for (const Image& big : {Image(kMaxPageSide + 1, 3, 0.9f), Image(3, kMaxPageSide + 1, 0.9f)}) {
      const std::string why = refusal(big);
      CAPTURE(why);
      CHECK(why.find(std::to_string(kMaxPageSide)) != std::string::npos);
    }
    // The limit itself is a page like any other.
    CHECK_THROWS_WITH_AS(find_text_lines(Image(kMaxPageSide, 3, 0.9f)), doctest::Contains("no ink"), Error);
  }
  MESSAGE("refused in ", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), " s");
}

// ---------------------------------------------------------------------------------------------------------

TEST_CASE("line context: measure_line recovers a sloped baseline, cap height, x-height and descender") {
  const std::vector<std::string> classes = byclass();
  for (const double slope : {0.0, 0.06, -0.04}) {
    CAPTURE(slope);
    DrawnLine line;
    line.slope = slope, line.baseline0 = 150, line.cap = 44, line.x_height = 26, line.descender = 15;
    line.word(classes, "Theng");
    line.word(classes, "42");
    line.word(classes, "payoff");
    line.word(classes, "Mix");
    const LineGeometry g = measure_line(line.boxes, line.probabilities, classes);
    REQUIRE(g.measured);
    CHECK(std::abs(g.slope - slope) <= 0.005);
    CHECK(std::abs(g.baseline0 - line.baseline0) <= 1.5);
    CHECK(std::abs(g.cap_height - line.cap) <= 1.5);
    CHECK(std::abs(g.x_height - line.x_height) <= 1.5);
    CHECK(std::abs(g.descender - line.descender) <= 1.5);
  }
  // One character: nothing to measure.
  DrawnLine one;
  one.letter(classes, 'A');
  CHECK_FALSE(measure_line(one.boxes, one.probabilities, classes).measured);
}

TEST_CASE("line context: o, O and 0 by size and neighbours, p and P by the descender") {
  const std::vector<std::string> classes = byclass();
  LineContextOptions size_only;
  size_only.neighbours = false;
  // Torn between o, O and 0, leaning (slightly) away from the answer the line gives.
  const std::vector<double> round_lean_0 = probabilities_of(classes, {{'o', 0.30}, {'O', 0.32}, {'0', 0.38}});

  SUBCASE("x-height tall among small letters: o") {
    for (const LineContextOptions& options : {size_only, LineContextOptions{}}) {
      CAPTURE(options.neighbours);
      DrawnLine line;
      line.word(classes, "Then");
      line.word(classes, "we");
      line.letter(classes, 'm', true);
      line.add(round_lean_0, line.x_height, 0);
      line.word(classes, "ve");
      CHECK(most_probable(classes, line.probabilities[7]) == '0');
      apply_line_context(line.boxes, line.word_start, line.probabilities, classes, options);
      CHECK(most_probable(classes, line.probabilities[7]) == 'o');
      double sum = 0;
      for (double v : line.probabilities[7]) sum += v;
      CHECK(sum == doctest::Approx(1.0));
    }
  }
  SUBCASE("cap height: O or 0 by size, O among capitals, 0 among digits") {
    // Small letters elsewhere on the line, so that both heights are measured.
    const std::vector<double> lean_o = probabilities_of(classes, {{'o', 0.40}, {'O', 0.30}, {'0', 0.30}});
    for (const std::vector<double>* p : {&round_lean_0, &lean_o}) {
      DrawnLine line;
      line.word(classes, "near");
      line.letter(classes, 'H', true);
      line.add(*p, line.cap, 0);
      line.word(classes, "ME", false);
      apply_line_context(line.boxes, line.word_start, line.probabilities, classes, size_only);
      const char c = most_probable(classes, line.probabilities[5]);
      CHECK((c == 'O' || c == '0'));
    }
    DrawnLine capitals;
    capitals.word(classes, "near");
    capitals.letter(classes, 'H', true);
    capitals.add(round_lean_0, capitals.cap, 0);
    capitals.word(classes, "ME", false);
    apply_line_context(capitals.boxes, capitals.word_start, capitals.probabilities, classes);
    CHECK(most_probable(classes, capitals.probabilities[5]) == 'O');

    const std::vector<double> lean_O = probabilities_of(classes, {{'o', 0.30}, {'O', 0.38}, {'0', 0.32}});
    DrawnLine digits;
    digits.word(classes, "near");
    digits.letter(classes, '1', true);
    digits.add(lean_O, digits.cap, 0);
    digits.letter(classes, '4');
    digits.letter(classes, '7');
    apply_line_context(digits.boxes, digits.word_start, digits.probabilities, classes);
    CHECK(most_probable(classes, digits.probabilities[5]) == '0');
  }
  SUBCASE("case within a word follows the word's other letters (neighbours alone)") {
    LineContextOptions neighbours_only;
    neighbours_only.size = false;
    const std::vector<double> lean_o = probabilities_of(classes, {{'o', 0.52}, {'O', 0.48}});
    const std::vector<double> lean_O = probabilities_of(classes, {{'o', 0.48}, {'O', 0.52}});
    DrawnLine line;
    line.word(classes, "H");
    line.add(lean_o, line.cap, 0);  // 1: in "H?ME"
    line.word(classes, "ME", false);
    line.word(classes, "h");
    line.add(lean_O, line.cap, 0);  // 5: in "h?me"
    line.letter(classes, 'm');
    line.letter(classes, 'e');
    apply_line_context(line.boxes, line.word_start, line.probabilities, classes, neighbours_only);
    CHECK(most_probable(classes, line.probabilities[1]) == 'O');
    CHECK(most_probable(classes, line.probabilities[5]) == 'o');
  }
  SUBCASE("p hangs below the baseline, P sits on it") {
    const std::vector<double> lean_P = probabilities_of(classes, {{'p', 0.45}, {'P', 0.55}});
    const std::vector<double> lean_p = probabilities_of(classes, {{'p', 0.55}, {'P', 0.45}});
    DrawnLine line;
    line.word(classes, "Then");
    line.word(classes, "gay");
    line.add(lean_P, line.x_height, line.descender, true);  // 7: a descender's place
    line.add(lean_p, line.cap, 0, true);                    // 8: a capital's
    apply_line_context(line.boxes, line.word_start, line.probabilities, classes, size_only);
    CHECK(most_probable(classes, line.probabilities[7]) == 'p');
    CHECK(most_probable(classes, line.probabilities[8]) == 'P');
  }
  SUBCASE("with both options off, nothing changes") {
    DrawnLine line;
    line.word(classes, "Then");
    line.add(round_lean_0, line.x_height, 0, true);
    line.add(probabilities_of(classes, {{'p', 0.45}, {'P', 0.55}}), line.x_height, line.descender);
    const std::vector<std::vector<double>> before = line.probabilities;
    LineContextOptions off;
    off.size = off.neighbours = false;
    apply_line_context(line.boxes, line.word_start, line.probabilities, classes, off);
    CHECK(line.probabilities == before);
    // ... and with them on, something does (the same line is not a no-op for the options).
    apply_line_context(line.boxes, line.word_start, line.probabilities, classes);
    CHECK(line.probabilities != before);
  }
}

// ---------------------------------------------------------------------------------------------------------

TEST_CASE("charset: named sets and explicit lists, unknown characters and empty sets are errors") {
  const std::vector<std::string> classes = byclass();
  auto allowed = [&](const std::vector<bool>& mask, const std::vector<std::string>& names = byclass()) {
    std::string s;
    for (size_t c = 0; c < names.size(); ++c)
      if (mask[c]) s += names[c];
    return s;
  };
  auto all_in = [&](char lo, char hi) {
    std::string s;
    for (const std::string& c : classes)
      if (c[0] >= lo && c[0] <= hi) s += c;
    return s;
  };
  CHECK(allowed(charset_mask("digits", classes)) == all_in('0', '9'));
  CHECK(allowed(charset_mask("letters", classes)) == all_in('A', 'Z') + all_in('a', 'z'));
  CHECK(allowed(charset_mask("upper", classes)) == all_in('A', 'Z'));
  CHECK(allowed(charset_mask("lower", classes)) == all_in('a', 'z'));
  CHECK(allowed(charset_mask("alnum", classes)).size() == classes.size());
  CHECK(allowed(charset_mask("0123456789ABCDEF", classes)) == "0123456789ABCDEF");
  CHECK(allowed(charset_mask("xAx3", classes)) == "3Ax");  // in the classes' order, each once
  CHECK(charset_mask("digits", classes).size() == classes.size());
  // A class named by more than one character is in no named set.
  const std::vector<std::string> odd = {"0", "10", "a"};
  CHECK(allowed(charset_mask("alnum", odd), odd) == "0a");

  const std::vector<std::string> digits = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  CHECK_THROWS_WITH_AS(charset_mask("12Q", digits), doctest::Contains("'Q'"), Error);
  CHECK_THROWS_AS(charset_mask("1 2", digits), Error);
  CHECK_THROWS_WITH_AS(charset_mask("letters", digits), doctest::Contains("none"), Error);
  CHECK_THROWS_WITH_AS(charset_mask("upper", {"a", "b"}), doctest::Contains("none"), Error);
  CHECK_THROWS_AS(charset_mask("", digits), Error);
}

TEST_CASE("charset: restrict_to_charset zeroes the classes outside and renormalises the rest") {
  const std::vector<std::string> classes = byclass();
  Rng rng(51);
  std::vector<double> p(classes.size());
  double sum = 0;
  for (double& v : p) sum += v = rng.uniform(0.01, 1.0);
  for (double& v : p) v /= sum;
  const std::vector<bool> mask = charset_mask("2468ace", classes);
  std::vector<double> q = p;
  restrict_to_charset(q, mask);
  double inside = 0, total = 0;
  for (size_t c = 0; c < p.size(); ++c) inside += mask[c] ? p[c] : 0;
  for (size_t c = 0; c < p.size(); ++c) {
    CAPTURE(classes[c]);
    CHECK(q[c] == doctest::Approx(mask[c] ? p[c] / inside : 0.0));
    total += q[c];
  }
  CHECK(total == doctest::Approx(1.0));
  // No mass inside the set at all: an even share for each allowed class.
  std::vector<double> none(classes.size(), 0.0);
  none[class_index(classes, 'Z')] = 1.0;
  restrict_to_charset(none, mask);
  for (size_t c = 0; c < classes.size(); ++c) CHECK(none[c] == doctest::Approx(mask[c] ? 1.0 / 7 : 0.0));
  // No charset: unchanged.
  std::vector<double> same = p;
  restrict_to_charset(same, {});
  CHECK(same == p);
}

// ---------------------------------------------------------------------------------------------------------

TEST_CASE("lexicon: parse skips comments and blank lines, trims, takes CRLF, folds case and duplicates") {
  const Lexicon lex = Lexicon::parse("# a comment\n\nhello\r\n  World \t\n\r\nHELLO\nworld\n#not a word\nfoo\nbar", "words.txt");
  CHECK(lex.size() == 4);
  CHECK(lex.words_of_length(5) == std::vector<std::string>{"hello", "world"});
  CHECK(lex.words_of_length(3) == std::vector<std::string>{"foo", "bar"});
  CHECK(lex.words_of_length(4).empty());
  CHECK(lex.words_of_length(1000).empty());
  const std::string longest(kMaxLexiconWord, 'a');
  CHECK(Lexicon::parse(longest, "x").words_of_length(kMaxLexiconWord).size() == 1);

  test_files::TempDir dir("lexicon");
  const std::string path = dir.file("words.txt");
  test_files::write_bytes(path, {'c', 'a', 't', '\r', '\n', 'D', 'o', 'g', '\n'});
  const Lexicon loaded = Lexicon::load(path);
  CHECK(loaded.size() == 2);
  CHECK(loaded.words_of_length(3) == std::vector<std::string>{"cat", "dog"});
  CHECK_THROWS_WITH_AS(Lexicon::load(dir.file("missing.txt")), doctest::Contains("missing.txt"), Error);
}

TEST_CASE("lexicon: parse refuses NUL bytes, spaces inside words, long words, no words, and too much, naming the line") {
  CHECK_THROWS_WITH_AS(Lexicon::parse(std::string("one\ntw\0o\n", 9), "w.txt"), doctest::Contains("w.txt:2"), Error);
  CHECK_THROWS_WITH_AS(Lexicon::parse(std::string("one\ntw\0o\n", 9), "w.txt"), doctest::Contains("NUL"), Error);
  CHECK_THROWS_WITH_AS(Lexicon::parse("one\n\nnew york\n", "w.txt"), doctest::Contains("w.txt:3"), Error);
  CHECK_THROWS_WITH_AS(Lexicon::parse("one\n\nnew york\n", "w.txt"), doctest::Contains("space"), Error);
  CHECK_THROWS_AS(Lexicon::parse("one\tword\n", "w.txt"), Error);
  CHECK_THROWS_WITH_AS(Lexicon::parse("ok\n" + std::string(kMaxLexiconWord + 1, 'a') + "\n", "w.txt"),
                       doctest::Contains("w.txt:2"), Error);
  for (const std::string& empty : {std::string(""), std::string("\n\n"), std::string("# only\n  \r\n")})
    CHECK_THROWS_WITH_AS(Lexicon::parse(empty, "w.txt"), doctest::Contains("no words"), Error);
  std::string big(kMaxLexiconBytes + 1, 'a');
  for (size_t i = 10; i < big.size(); i += 11) big[i] = '\n';
  const std::string limit = std::to_string(kMaxLexiconBytes);
  CHECK_THROWS_WITH_AS(Lexicon::parse(big, "w.txt"), doctest::Contains(limit.c_str()), Error);
}

TEST_CASE("lexicon: match_word picks the word and its case from the characters' probabilities") {
  const std::vector<std::string> classes = byclass();
  const Lexicon lex = Lexicon::parse("hello\nworld\nhelp\njelly\nquill\nquilt\n", "w");
  // "hello" read with a 1 for the first l, and the second l unsure.
  auto hello = [&](char h, char rest_case) {
    auto cased = [&](char c) { return rest_case == 'u' ? char(std::toupper(c)) : c; };
    std::vector<SegmentChoices> w;
    w.push_back(segment(classes, {{h, 0.8}, {'b', 0.2}}));
    w.push_back(segment(classes, {{cased('e'), 0.7}, {'c', 0.3}}));
    w.push_back(segment(classes, {{'1', 0.55}, {cased('l'), 0.45}}));
    w.push_back(segment(classes, {{cased('l'), 0.5}, {'t', 0.5}}));
    w.push_back(segment(classes, {{cased('o'), 0.6}, {'0', 0.4}}));
    return w;
  };
  struct Case {
    char h, rest;
    std::string expected;
  };
  for (const Case& c : {Case{'h', 'l', "hello"}, Case{'H', 'l', "Hello"}, Case{'H', 'u', "HELLO"}}) {
    CAPTURE(c.expected);
    const LexiconMatch m = match_word(lex, hello(c.h, c.rest), classes, 0.6);
    CHECK(m.matched);
    CHECK(m.text == c.expected);
    CHECK(m.segments_split == 0);
    CHECK(m.log_probability <= m.raw_log_probability);
  }
  // No tolerance at all: the raw reading (with its 1) wins.
  CHECK_FALSE(match_word(lex, hello('h', 'l'), classes, 0.0).matched);
}

TEST_CASE("lexicon: match_word reads a segment as two characters when that spells a word") {
  const std::vector<std::string> classes = byclass();
  const Lexicon lex = Lexicon::parse("quill\nquid\nhello\n", "w");
  // q u [U, or i + l] l: read whole "quUl", a four-letter word near none; split, "quill".
  std::vector<SegmentChoices> w = {segment(classes, {{'q', 0.9}, {'g', 0.1}}), segment(classes, {{'u', 0.9}, {'v', 0.1}})};
  SegmentChoices wide = segment(classes, {{'U', 0.6}, {'W', 0.4}});
  wide.splits.push_back({probabilities_of(classes, {{'c', 1.0}}, 0.05), probabilities_of(classes, {{'c', 1.0}}, 0.05)});
  wide.splits.push_back({probabilities_of(classes, {{'i', 0.8}, {'j', 0.2}}, 0.05), probabilities_of(classes, {{'l', 0.7}, {'1', 0.3}}, 0.05)});
  w.push_back(wide);
  w.push_back(segment(classes, {{'l', 0.8}, {'1', 0.2}}));
  const LexiconMatch m = match_word(lex, w, classes, 0.6);
  CHECK(m.matched);
  CHECK(m.text == "quill");
  CHECK(m.segments_split == 1);
  // Without the alternatives, nothing fits: "quid" would need d for U and l.
  w[2].splits.clear();
  const LexiconMatch whole = match_word(lex, w, classes, 0.6);
  CHECK_FALSE(whole.matched);
  CHECK(whole.text.empty());
}

TEST_CASE("lexicon: match_word finds nothing close for letters far from every word") {
  const std::vector<std::string> classes = byclass();
  const Lexicon lex = Lexicon::parse("hello\nworld\nquill\nhelp\njelly\n", "w");
  const std::string far = "xzkvbm";  // letters in none of the words
  Rng rng(61);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<SegmentChoices> w;
    const size_t length = 4 + rng.below(2);
    for (size_t i = 0; i < length; ++i) w.push_back(segment(classes, {{far[rng.below(uint32_t(far.size()))], 0.95}}));
    const LexiconMatch m = match_word(lex, w, classes, 0.6);
    CHECK_FALSE(m.matched);
    CHECK(m.text.empty());
  }
  CHECK_FALSE(match_word(lex, {}, classes, 0.6).matched);
  // A class list without single letters matches nothing.
  const std::vector<std::string> names = {"ab", "cd"};
  SegmentChoices s;
  s.whole = {0.5, 0.5};
  CHECK_FALSE(match_word(lex, {s, s, s, s}, names, 100.0).matched);
}
