#pragma once
// Reading a page: its text lines (data/page_layout.h), each line's characters (data/segment.h), all
// classified in one batch, then per line the two-part readings chosen (engine/line_reading.h), the
// charset applied (engine/charset.h), the line's context (engine/line_context.h) and, per word, the
// lexicon (engine/lexicon.h). A photo of one line is a page of one line. Shared by `quill read` and
// `quill serve`.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/page_layout.h"
#include "data/preprocess.h"
#include "data/segment.h"
#include "engine/lexicon.h"
#include "engine/line_context.h"

namespace quill {

struct PageReadOptions {
  PreprocessOptions ink;        // how to find the ink of the page and its lines (the model's framing)
  PreprocessOptions character;  // how to preprocess each character for the network
  std::string charset;          // empty: every class (see charset_mask)
  LineContextOptions context;   // both on by default; both off: each character as it reads alone
  const Lexicon* lexicon = nullptr;
  // Per character, in log probability (see match_word). On the 30 development pages: words right 64% at
  // 0.6, 74% at 1.0, 77% at 1.5, 78% at 2.5 (where more words that are not in the lexicon would be forced).
  double lexicon_tolerance = 1.5;
};

struct PageCharacter {
  Box box;                             // its ink, in page pixels
  std::vector<uint8_t> sample;         // the 28x28 image the network saw
  std::vector<double> probabilities;   // per class, after charset and context
  std::string text;                    // the most probable class (or the lexicon word's letter)
  double confidence = 0;               // its probability
};

enum class LexiconUse { None, Matched, Raw };  // no lexicon; a lexicon word; nothing close, read as written

struct PageWord {
  Box box;
  std::string text;
  std::string raw;             // the reading without the lexicon (equals text unless matched)
  double confidence = 0;       // product of its characters' confidences
  LexiconUse lexicon = LexiconUse::None;
  size_t first = 0, count = 0;  // its characters, in the line's list
};

struct PageLine {
  Box box;
  std::string text;
  double confidence = 0;  // geometric mean of its characters' confidences
  std::vector<PageWord> words;
  std::vector<PageCharacter> characters;
};

struct PageReading {
  std::vector<PageLine> lines;
  double skew_degrees = 0;
  std::string text() const;  // lines joined by "\n", words by " "
};

// Class probabilities of 28x28 samples, in one batch (a Classifier's, or serve's batcher's).
using ClassifyFn = std::function<std::vector<std::vector<double>>(const std::vector<std::vector<uint8_t>>&)>;

// Throws quill::Error when the photo holds no text (see find_text_lines) or no line yields a character.
PageReading read_page(const Image& photo, const ClassifyFn& classify, const std::vector<std::string>& classes,
                      const PageReadOptions& options);

}  // namespace quill
