#pragma once
// A word list for `read --lexicon FILE`: each word read is replaced by the listed word that best explains
// its characters' class probabilities, when one comes close enough; else the reading stays as written.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace quill {

// Limits on what a lexicon file may hold.
constexpr size_t kMaxLexiconBytes = size_t(64) << 20;
constexpr size_t kMaxLexiconWord = 40;
// A lexicon word may differ from the reading by this many characters read in excess or missed.
constexpr size_t kLexiconMaxEdits = 2;

class Lexicon {
 public:
  // One word a line (Unix or DOS line ends); blank lines and lines starting with # are skipped, and
  // surrounding spaces trimmed. Throws quill::Error (naming `name` and the line) on a NUL byte, a word
  // with a space inside, a word longer than kMaxLexiconWord, more than kMaxLexiconBytes, or no words.
  static Lexicon parse(const std::string& text, const std::string& name);
  static Lexicon load(const std::string& path);

  size_t size() const { return size_; }
  // The words of a length, case-folded to lower case, each once.
  const std::vector<std::string>& words_of_length(size_t length) const;

 private:
  std::vector<std::vector<std::string>> by_length_;  // index: length
  size_t size_ = 0;
};

// One character position of a word read: class probabilities, or two positions read from one segment.
// A word is read as a sequence of segments, each with its chosen probabilities (one character) and
// alternative readings as two characters (segmentation alternatives).
struct SegmentChoices {
  std::vector<double> whole;                             // the segment as one character
  std::vector<std::vector<std::vector<double>>> splits;  // each: the segment as two characters
};

struct LexiconMatch {
  bool matched = false;     // a lexicon word came close enough
  std::string text;         // the lexicon word in the case that fits best (matched), else empty
  double log_probability = 0;  // of text under the characters' probabilities
  double raw_log_probability = 0;  // of the raw reading (each segment's most probable class)
  size_t segments_split = 0;  // segments the match reads as two characters
};

// The lexicon word (as written in lower case, Capitalised or in capitals) whose characters are most
// probable under the word's segments, trying each segmentation alternative and up to two characters read
// in excess or missed (each at a fixed cost); Capitalised away from a line's start (line_start false) and
// CAPITALS carry a small prior cost. Matched when its log probability is at most `tolerance_per_char` per
// character below the raw reading's. classes: the model's class names (single characters are matched).
LexiconMatch match_word(const Lexicon& lexicon, const std::vector<SegmentChoices>& word,
                        const std::vector<std::string>& classes, double tolerance_per_char, bool line_start = true);

}  // namespace quill
