// Word lists for `read --lexicon` (engine/lexicon.h): any bytes through Lexicon::parse, then match_word
// on probabilities derived from the input: peaked on one of the lexicon's own words (which must then be
// matched, exactly), and hashed ones with segmentation alternatives (whose match, if any, must be a
// lexicon word within two characters of the length read). quill::Error is the expected refusal.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "engine/lexicon.h"
#include "fuzz_common.h"

namespace {

const std::vector<std::string>& classes() { return quill::fuzz::byclass_classes(); }

size_t index_of(char ch) {
  return size_t(std::find(classes().begin(), classes().end(), std::string(1, ch)) - classes().begin());
}

// Probabilities peaked (0.9) on `ch`, the rest spread evenly.
std::vector<double> peaked(char ch) {
  std::vector<double> p(classes().size(), 0.1 / double(classes().size() - 1));
  p[index_of(ch)] = 0.9;
  return p;
}

bool in_lexicon(const quill::Lexicon& lexicon, std::string word) {
  for (char& c : word) c = char(std::tolower(static_cast<unsigned char>(c)));
  const std::vector<std::string>& words = lexicon.words_of_length(word.size());
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = quill::fuzz::text_of(data, size);
  quill::fuzz::refusing_errors([&] {
    const quill::Lexicon lexicon = quill::Lexicon::parse(text, "fuzz.txt");
    if (lexicon.size() == 0) __builtin_trap();
    size_t total = 0;
    for (size_t n = 0; n <= quill::kMaxLexiconWord; ++n) {
      for (const std::string& w : lexicon.words_of_length(n)) {
        if (w.size() != n || w.empty()) __builtin_trap();
        for (char c : w)
          if (c != char(std::tolower(static_cast<unsigned char>(c)))) __builtin_trap();
      }
      total += lexicon.words_of_length(n).size();
    }
    if (total != lexicon.size()) __builtin_trap();

    // A word of the lexicon written plainly, when every character is a class: matched, as itself.
    for (size_t n = 1; n <= quill::kMaxLexiconWord; ++n) {
      if (lexicon.words_of_length(n).empty()) continue;
      const std::string& word = lexicon.words_of_length(n)[size % lexicon.words_of_length(n).size()];
      if (!std::all_of(word.begin(), word.end(), [](char c) { return index_of(c) < classes().size(); })) continue;
      std::vector<quill::SegmentChoices> segments(word.size());
      for (size_t i = 0; i < word.size(); ++i) segments[i].whole = peaked(word[i]);
      const quill::LexiconMatch m = quill::match_word(lexicon, segments, classes(), 0.5);
      if (!m.matched || m.text != word || m.segments_split != 0) __builtin_trap();
      break;
    }

    // Hashed probabilities, a segment in three read also as two characters.
    uint64_t h = 1469598103934665603ull;
    for (uint8_t v : text) h = (h ^ v) * 1099511628211ull;
    auto next = [&] { return (h = h * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
    auto hashed = [&] {
      std::vector<double> p(classes().size());
      double sum = 0;
      for (double& v : p) sum += v = double(next() % 100) + (next() % 8 == 0 ? 500.0 : 0.0);
      for (double& v : p) v = sum > 0 ? v / sum : 1.0 / double(p.size());
      return p;
    };
    std::vector<quill::SegmentChoices> segments(1 + next() % 8);
    for (size_t i = 0; i < segments.size(); ++i) {
      segments[i].whole = hashed();
      if (next() % 3 == 0) segments[i].splits.push_back({hashed(), hashed()});
    }
    const double tolerance = double(next() % 40) / 10.0;
    const quill::LexiconMatch m = quill::match_word(lexicon, segments, classes(), tolerance);
    if (m.matched != !m.text.empty()) __builtin_trap();
    // A match is a lexicon word within kLexiconMaxEdits characters of the segments as read (splits counted).
    const size_t read_length = segments.size() + m.segments_split;
    const size_t difference = m.text.size() > read_length ? m.text.size() - read_length : read_length - m.text.size();
    if (m.matched && (!in_lexicon(lexicon, m.text) || difference > quill::kLexiconMaxEdits ||
                      m.raw_log_probability - m.log_probability > tolerance * double(segments.size()) + 1e-9))
      __builtin_trap();
  });
  return 0;
}
