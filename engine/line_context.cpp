#include "engine/line_context.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>

namespace quill {
namespace {

constexpr int kKinds = 5;  // GlyphHeight's kinds with a size expectation (all but Unknown)
// How far a character's top or bottom may stray from its kind's line, in cap heights: handwriting's own
// jitter of size and baseline (several percent each) and the box's pixel rounding.
constexpr double kSizeSigma = 0.1;
// The least a size fit weighs, against 1 for a perfect fit: a cut-off or merged character keeps its shape.
constexpr double kSizeFloor = 0.02;
// x-height / cap height where a line shows only one of them (all capitals and digits, or all small).
constexpr double kTypicalXHeight = 0.62;
// How strongly the other characters of a word pull a character towards letters or digits: the odds
// their letter share gives, to this power (development pages: exact CER 19.3% at 1, 18.1% at 2, 18.1% at 3).
constexpr double kNeighbourStrength = 2.0;
// Capitals' pseudo-count (of 2) for a word's first letter away from the line's start: in running text most
// words there are written in lower case (development pages: exact CER 16.3% without, 15.7% with).
constexpr double kMidLineCapitals = 0.5;
// The x-heights (in cap heights) a line may have: handwriting's range and then some.
constexpr double kMinXHeight = 0.4, kMaxXHeight = 0.85;
// Descender depth / cap height where no descender was measured.
constexpr double kTypicalDescender = 0.35;
// A height is measured from at least this much classifier weight.
constexpr double kMinWeight = 0.8;
// Baseline points further than this part of the median character height from the first fit are refitted without.
constexpr double kBaselineOutlier = 0.15;
// The steepest baseline believed (a line written at more than 10 degrees is not a line of this reader's).
constexpr double kMaxSlope = 0.18;

double weighted_median(std::vector<std::pair<double, double>> values) {  // (value, weight)
  std::sort(values.begin(), values.end());
  double total = 0;
  for (const auto& v : values) total += v.second;
  double seen = 0;
  for (const auto& [value, weight] : values) {
    seen += weight;
    if (seen >= 0.5 * total) return value;
  }
  return values.empty() ? 0.0 : values.back().first;
}

bool is_letter(const std::string& name) { return name.size() == 1 && std::isalpha(static_cast<unsigned char>(name[0])); }
bool is_digit(const std::string& name) { return name.size() == 1 && std::isdigit(static_cast<unsigned char>(name[0])); }
bool is_upper(const std::string& name) { return name.size() == 1 && std::isupper(static_cast<unsigned char>(name[0])); }

// Classes whose look-alike of another height is a common confusion (the case pairs written alike: c/C,
// s/S, ...; o/O/0, p/P, y/Y, g/9): where the classifier says S, the character may well be an s, so such
// classes do not measure the line's heights (they would measure the very sizes they are confused over).
bool measures_height(const std::string& name) {
  if (name.size() != 1) return false;
  const char lower = char(std::tolower(static_cast<unsigned char>(name[0])));
  return !std::strchr("cmopsuvwxyz09", lower);
}

// Per character, how probable each kind of height is, counting only classes that measure heights.
std::vector<std::array<double, kKinds>> kind_weights(const std::vector<std::vector<double>>& probabilities,
                                                     const std::vector<GlyphHeight>& kind_of,
                                                     const std::vector<std::string>& classes) {
  std::vector<std::array<double, kKinds>> out;
  for (const std::vector<double>& p : probabilities) {
    std::array<double, kKinds> w{};
    for (size_t c = 0; c < p.size(); ++c)
      if (kind_of[c] != GlyphHeight::Unknown && measures_height(classes[c])) w[size_t(kind_of[c])] += p[c];
    out.push_back(w);
  }
  return out;
}

std::vector<GlyphHeight> kinds_of(const std::vector<std::string>& classes) {
  std::vector<GlyphHeight> out;
  for (const std::string& name : classes) out.push_back(glyph_height(name));
  return out;
}

// Expected (top above the baseline, bottom below it) of each kind, in cap heights, for an x-height x and a
// descender depth d (both in cap heights): small, tall, descender, dotted (i: its dot half-way between
// the x-height and the cap height), dotted descender (j).
std::array<std::pair<double, double>, kKinds> expected_extents(double x, double d) {
  const double dotted = 0.5 * (1 + x);
  return {{{x, 0.0}, {1.0, 0.0}, {x, d}, {dotted, 0.0}, {dotted, d}}};
}

// How well a character's top and bottom (in cap heights from the baseline) fit each kind.
std::array<double, kKinds> kind_fits(double top, double bottom, double x, double d) {
  const auto expected = expected_extents(x, d);
  std::array<double, kKinds> fit{};
  for (size_t k = 0; k < size_t(kKinds); ++k) {
    const double dt = top - expected[k].first, db = bottom - expected[k].second;
    fit[k] = std::exp(-(dt * dt + db * db) / (2 * kSizeSigma * kSizeSigma)) + kSizeFloor;
  }
  return fit;
}

}  // namespace

GlyphHeight glyph_height(const std::string& name) {
  if (name.size() != 1) return GlyphHeight::Unknown;
  const char c = name[0];
  if (std::isdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return GlyphHeight::Tall;
  if (std::strchr("acemnorsuvwxz", c)) return GlyphHeight::Small;
  if (std::strchr("bdfhklt", c)) return GlyphHeight::Tall;
  if (std::strchr("gpqy", c)) return GlyphHeight::Descender;
  if (c == 'i') return GlyphHeight::Dotted;
  if (c == 'j') return GlyphHeight::DottedDescender;
  return GlyphHeight::Unknown;
}

LineGeometry measure_line(const std::vector<Box>& boxes, const std::vector<std::vector<double>>& probabilities,
                          const std::vector<std::string>& classes) {
  LineGeometry g;
  if (boxes.size() < 2) return g;
  const auto w = kind_weights(probabilities, kinds_of(classes), classes);
  auto weight = [&](size_t i, std::initializer_list<GlyphHeight> kinds) {
    double sum = 0;
    for (GlyphHeight k : kinds) sum += w[i][size_t(k)];
    return sum;
  };
  std::vector<double> heights;
  for (const Box& b : boxes) heights.push_back(b.height);
  std::nth_element(heights.begin(), heights.begin() + heights.size() / 2, heights.end());
  const double median_height = heights[heights.size() / 2];

  // Baseline: a weighted least-squares line through the bottoms of the characters that sit on it, fitted
  // again without the points far from the first fit (a descender read as a small letter, a cut).
  std::vector<double> fit_weight(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i)
    fit_weight[i] = weight(i, {GlyphHeight::Small, GlyphHeight::Tall, GlyphHeight::Dotted});
  for (int pass = 0; pass < 2; ++pass) {
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < boxes.size(); ++i) {
      const double x = boxes[i].x_centre(), y = boxes[i].y + boxes[i].height, v = fit_weight[i];
      sw += v, sx += v * x, sy += v * y, sxx += v * x * x, sxy += v * x * y;
    }
    if (sw < 1e-9) return g;
    const double var = sxx / sw - (sx / sw) * (sx / sw);
    g.slope = var > 1.0 ? std::clamp((sxy / sw - sx / sw * sy / sw) / var, -kMaxSlope, kMaxSlope) : 0.0;
    g.baseline0 = sy / sw - g.slope * sx / sw;
    for (size_t i = 0; i < boxes.size(); ++i) {
      const double residual = boxes[i].y + boxes[i].height - g.baseline(boxes[i].x_centre());
      if (std::abs(residual) > kBaselineOutlier * median_height) fit_weight[i] = 0;
    }
  }
  std::vector<std::pair<double, double>> tall, small, descent;
  double tall_weight = 0, small_weight = 0, descent_weight = 0;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const double base = g.baseline(boxes[i].x_centre());
    const double above = base - boxes[i].y, below = boxes[i].y + boxes[i].height - base;
    const double t = weight(i, {GlyphHeight::Tall}), s = weight(i, {GlyphHeight::Small, GlyphHeight::Descender});
    const double d = weight(i, {GlyphHeight::Descender, GlyphHeight::DottedDescender});
    tall.emplace_back(above, t), small.emplace_back(above, s), descent.emplace_back(below, d);
    tall_weight += t, small_weight += s, descent_weight += d;
  }
  if (tall_weight < kMinWeight && small_weight < kMinWeight) return g;
  g.cap_height = tall_weight >= kMinWeight ? weighted_median(tall) : 0;
  g.x_height = small_weight >= kMinWeight ? weighted_median(small) : 0;
  if (g.cap_height <= 0) g.cap_height = g.x_height / kTypicalXHeight;
  if (g.x_height <= 0) g.x_height = kTypicalXHeight * g.cap_height;
  g.descender = descent_weight >= kMinWeight ? weighted_median(descent) : kTypicalDescender * g.cap_height;
  if (tall_weight >= kMinWeight && small_weight >= kMinWeight) {
    // With both heights present, the x-height is the one under which the characters' sizes are most
    // probable (each a mixture over its kinds): a median is pulled up by one capital read as a small letter.
    double best = -1e300;
    const double d = g.descender / g.cap_height;
    for (double x = kMinXHeight; x <= kMaxXHeight + 1e-9; x += 0.01) {
      double log_likelihood = 0;
      for (size_t i = 0; i < boxes.size(); ++i) {
        const double base = g.baseline(boxes[i].x_centre());
        const auto fit = kind_fits((base - boxes[i].y) / g.cap_height,
                                   (boxes[i].y + boxes[i].height - base) / g.cap_height, x, d);
        double mixture = 0, total = 0;
        for (size_t k = 0; k < size_t(kKinds); ++k) mixture += w[i][k] * fit[k], total += w[i][k];
        if (total > 0) log_likelihood += total * std::log(mixture / total);
      }
      if (log_likelihood > best) best = log_likelihood, g.x_height = x * g.cap_height;
    }
  }
  g.measured = g.cap_height > 1 && g.x_height > 0.5;
  return g;
}

void apply_line_context(const std::vector<Box>& boxes, const std::vector<bool>& word_start,
                        std::vector<std::vector<double>>& probabilities, const std::vector<std::string>& classes,
                        const LineContextOptions& options) {
  const std::vector<GlyphHeight> kind_of = kinds_of(classes);
  auto normalise = [](std::vector<double>& p) {
    double sum = 0;
    for (double v : p) sum += v;
    if (sum > 0)
      for (double& v : p) v /= sum;
  };
  if (options.size) {
    const LineGeometry g = measure_line(boxes, probabilities, classes);
    if (g.measured) {
      const double x = g.x_height / g.cap_height, d = g.descender / g.cap_height;
      for (size_t i = 0; i < boxes.size(); ++i) {
        const double base = g.baseline(boxes[i].x_centre());
        const auto fit = kind_fits((base - boxes[i].y) / g.cap_height,
                                   (boxes[i].y + boxes[i].height - base) / g.cap_height, x, d);
        for (size_t c = 0; c < classes.size(); ++c)
          if (kind_of[c] != GlyphHeight::Unknown) probabilities[i][c] *= fit[size_t(kind_of[c])];
        normalise(probabilities[i]);
      }
    }
  }
  if (!options.neighbours) return;
  // Letter and upper-case mass of every character, before any of this pass's changes.
  std::vector<double> letter(boxes.size(), 0), upper(boxes.size(), 0);
  for (size_t i = 0; i < boxes.size(); ++i)
    for (size_t c = 0; c < classes.size(); ++c) {
      if (is_letter(classes[c])) letter[i] += probabilities[i][c];
      if (is_upper(classes[c])) upper[i] += probabilities[i][c];
    }
  for (size_t start = 0; start < boxes.size();) {
    size_t end = start + 1;
    while (end < boxes.size() && !word_start[end]) ++end;
    for (size_t i = start; i < end; ++i) {
      // One pseudo-count each way; a word's first letter away from the line's start leans to lower case
      // (kMidLineCapitals of a pseudo-count for capitals): the rest of its word decides, where it has a rest.
      const bool free_case = i == 0;  // the line's first letter: Capitalised or not, as often as not
      double letters = 1, count = 2, uppers = i == start ? kMidLineCapitals : 1, letter_count = 2;
      for (size_t j = start; j < end; ++j) {
        if (j == i) continue;
        letters += letter[j], count += 1;
        if (j > start) uppers += upper[j], letter_count += letter[j];
      }
      const double m = std::pow(letters / count, kNeighbourStrength), u = uppers / letter_count;
      for (size_t c = 0; c < classes.size(); ++c) {
        if (is_letter(classes[c])) {
          probabilities[i][c] *= m;
          if (!free_case) probabilities[i][c] *= 2 * (is_upper(classes[c]) ? u : 1 - u);  // 1 each when undecided
        } else if (is_digit(classes[c])) {
          probabilities[i][c] *= std::pow(letters / count < 1 ? 1 - letters / count : 0.0, kNeighbourStrength);
        }
      }
      normalise(probabilities[i]);
    }
    start = end;
  }
}

}  // namespace quill
