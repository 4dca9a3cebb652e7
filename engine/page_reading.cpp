#include "engine/page_reading.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "engine/charset.h"
#include "engine/line_reading.h"
#include "runtime/error.h"

namespace quill {
namespace {

// Lines and characters are found with faint ink joined to full ink down to this strength (hysteresis, see
// PreprocessOptions::weak_ink_level): on generated pages of MNIST digits a faint, thin pen beside a bold
// one otherwise broke into pieces (docs/RESULTS.md, "Pages").
constexpr float kWeakInk = 0.25f;
// Segmentation is scaled by the height of the line's taller characters (see SegmentOptions::height_quantile):
// on 30 development pages (make-photos.py --pages 30 --seed 99, not the measured ones) exact CER 18.1% at
// the median, 16.3% at 0.7, 16.8% at 0.8, 17.5% at 0.9.
constexpr float kHeightQuantile = 0.7f;

// A word whose characters are on average more digit than anything else is a number: the lexicon's
// words are not tried on it.
bool reads_as_number(const std::vector<PageCharacter>& chars, size_t first, size_t count,
                     const std::vector<std::string>& classes) {
  double digits = 0;
  for (size_t i = first; i < first + count; ++i)
    for (size_t c = 0; c < classes.size(); ++c)
      if (classes[c].size() == 1 && std::isdigit(static_cast<unsigned char>(classes[c][0])))
        digits += chars[i].probabilities[c];
  return digits > 0.5 * double(count);
}

size_t most_probable(const std::vector<double>& p) { return size_t(std::max_element(p.begin(), p.end()) - p.begin()); }

Box union_of(const Box& a, const Box& b) {
  const int x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
  const int x1 = std::max(a.x_end(), b.x_end()), y1 = std::max(a.y + a.height, b.y + b.height);
  return {x0, y0, x1 - x0, y1 - y0};
}

// One line's characters after classification: charset, choice of readings, context, words, lexicon.
PageLine read_line(LineSamples samples, std::vector<std::vector<double>> probabilities, const Box& line_box,
                   const std::vector<std::string>& classes, const std::vector<bool>& charset,
                   const PageReadOptions& options) {
  for (std::vector<double>& p : probabilities) restrict_to_charset(p, charset);
  std::vector<ReadCharacter> read = read_characters(std::move(samples), probabilities, classes);
  PageLine line;
  std::vector<Box> boxes;
  std::vector<bool> word_start;
  std::vector<std::vector<double>> probs;
  for (ReadCharacter& r : read) {
    Box box = r.segment.box;
    box.x += line_box.x, box.y += line_box.y;
    boxes.push_back(box);
    word_start.push_back(boxes.size() == 1 || r.segment.space_before);
    probs.push_back(std::move(r.probabilities));
  }
  apply_line_context(boxes, word_start, probs, classes, options.context);
  for (size_t i = 0; i < read.size(); ++i) {
    PageCharacter c;
    c.box = boxes[i];
    c.sample = std::move(read[i].sample);
    c.probabilities = std::move(probs[i]);
    const size_t best = most_probable(c.probabilities);
    c.text = classes[best];
    c.confidence = c.probabilities[best];
    line.characters.push_back(std::move(c));
  }
  double log_confidence = 0;
  for (size_t i = 0; i < line.characters.size();) {
    PageWord word;
    word.first = i;
    word.box = line.characters[i].box;
    word.confidence = 1;
    do {
      word.box = union_of(word.box, line.characters[i].box);
      word.text += line.characters[i].text;
      word.confidence *= line.characters[i].confidence;
      log_confidence += std::log(std::max(line.characters[i].confidence, 1e-300));
      ++i;
    } while (i < line.characters.size() && !word_start[i]);
    word.count = i - word.first;
    word.raw = word.text;
    if (options.lexicon) {
      word.lexicon = LexiconUse::Raw;
      if (!reads_as_number(line.characters, word.first, word.count, classes)) {
        std::vector<SegmentChoices> choices;
        for (size_t k = word.first; k < i; ++k) {
          SegmentChoices s;
          s.whole = line.characters[k].probabilities;
          for (std::vector<std::vector<double>>& parts : read[k].other_readings) {
            for (std::vector<double>& p : parts) restrict_to_charset(p, charset);
            s.splits.push_back(parts);
          }
          choices.push_back(std::move(s));
        }
        const LexiconMatch m = match_word(*options.lexicon, choices, classes, options.lexicon_tolerance, line.words.empty());
        if (m.matched) {
          word.lexicon = LexiconUse::Matched;
          word.text = m.text;
          word.confidence = std::exp(m.log_probability);
        }
      }
    }
    line.text += (line.words.empty() ? "" : " ") + word.text;
    line.box = line.words.empty() ? word.box : union_of(line.box, word.box);
    line.words.push_back(std::move(word));
  }
  line.confidence = line.characters.empty() ? 0 : std::exp(log_confidence / double(line.characters.size()));
  return line;
}

}  // namespace

std::string PageReading::text() const {
  std::string out;
  for (size_t l = 0; l < lines.size(); ++l) out += (l ? "\n" : "") + lines[l].text;
  return out;
}

PageReading read_page(const Image& photo, const ClassifyFn& classify, const std::vector<std::string>& classes,
                      const PageReadOptions& options) {
  const std::vector<bool> charset = options.charset.empty() ? std::vector<bool>{} : charset_mask(options.charset, classes);
  PageLayoutOptions layout_options;
  layout_options.ink = options.ink;
  layout_options.ink.weak_ink_level = kWeakInk;
  const PageLayout layout = find_text_lines(photo, layout_options);
  SegmentOptions segment;
  segment.height_quantile = kHeightQuantile;
  segment.ink = layout_options.ink;
  segment.ink.polarity = layout.polarity;
  PreprocessOptions character = options.character;
  character.polarity = layout.polarity;  // as found on the whole page: a lone crop may be ambiguous

  std::vector<LineSamples> lines;
  std::vector<Box> line_boxes;
  std::vector<std::vector<uint8_t>> batch;
  for (const TextLine& text_line : layout.lines) {
    LineSegmentation segmented;
    try {
      segmented = segment_line(text_line.photo, segment);
    } catch (const Error&) {
      continue;  // a line of specks: nothing to read there
    }
    if (segmented.characters.empty()) continue;
    lines.push_back(line_samples(std::move(segmented), character));
    line_boxes.push_back(text_line.box);
    batch.insert(batch.end(), lines.back().samples.begin(), lines.back().samples.end());
  }
  if (batch.empty()) fail("no text found: no line holds a character");
  const std::vector<std::vector<double>> probabilities = classify(batch);
  QUILL_CHECK(probabilities.size() == batch.size(), "classifier gave ", probabilities.size(), " results for ",
              batch.size(), " samples");
  PageReading page;
  page.skew_degrees = layout.skew_degrees;
  size_t next = 0;
  for (size_t l = 0; l < lines.size(); ++l) {
    const size_t n = lines[l].samples.size();
    std::vector<std::vector<double>> line_probabilities(probabilities.begin() + long(next),
                                                        probabilities.begin() + long(next + n));
    next += n;
    page.lines.push_back(read_line(std::move(lines[l]), std::move(line_probabilities), line_boxes[l], classes,
                                   charset, options));
  }
  return page;
}

}  // namespace quill
