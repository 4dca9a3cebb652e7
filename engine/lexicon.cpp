#include "engine/lexicon.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>

#include "runtime/error.h"

namespace quill {
namespace {

constexpr double kNever = -1e30;  // log probability of a character no class stands for
// Segmentation alternatives tried per word, and how many of a word's segments may be read as two.
constexpr size_t kMaxVariants = 8;
constexpr int kMaxSplits = 2;
// Candidates kept from the case-blind pass for the exact (case-aware) one.
constexpr size_t kShortlist = 8;

// A lexicon word may differ from the reading by kLexiconMaxEdits characters read in excess or missed (a
// character cut in two, two read as one, a speck read as a letter), each costing this log probability.
constexpr size_t kMaxEdits = kLexiconMaxEdits;
constexpr double kEditCost = -4.0;
// Log prior of a Capitalised word away from a line's start, and of a word in CAPITALS.
constexpr double kRareForm = -1.5;

double log_of(double p) { return std::log(std::max(p, 1e-12)); }

// The best alignment of `length` characters read with word w: each character read either spells the next
// letter (log_p(i, letter)) or is in excess; each letter is spelt or missed (both kEditCost), with at most
// kMaxEdits such edits in all. Edit distance in log probabilities.
template <class LogP>
double align(size_t length, const std::string& w, const LogP& log_p) {
  const size_t n = w.size(), edits = kMaxEdits + 1;
  if (n + kMaxEdits < length || length + kMaxEdits < n) return kNever;
  // score[(i, j, e)]: the first i characters read against the first j letters, with e edits.
  thread_local std::vector<double> score;  // called for every word of the lexicon: no allocation each time
  score.assign((length + 1) * (n + 1) * edits, kNever);
  auto at = [&](size_t i, size_t j, size_t e) -> double& { return score[(i * (n + 1) + j) * edits + e]; };
  at(0, 0, 0) = 0;
  for (size_t i = 0; i <= length; ++i)
    for (size_t j = 0; j <= n; ++j)
      for (size_t e = 0; e < edits; ++e) {
        if (i == 0 && j == 0) continue;
        double best = kNever;
        if (i > 0 && j > 0 && at(i - 1, j - 1, e) > kNever / 2) best = at(i - 1, j - 1, e) + log_p(i - 1, w[j - 1]);
        if (e > 0 && i > 0 && at(i - 1, j, e - 1) > kNever / 2) best = std::max(best, at(i - 1, j, e - 1) + kEditCost);
        if (e > 0 && j > 0 && at(i, j - 1, e - 1) > kNever / 2) best = std::max(best, at(i, j - 1, e - 1) + kEditCost);
        at(i, j, e) = best < kNever / 2 ? kNever : best;
      }
  double best = kNever;
  for (size_t e = 0; e < edits; ++e) best = std::max(best, at(length, n, e));
  return best;
}

// Segmentation variants of a word: each a list of per-character probabilities, the first all wholes.
std::vector<std::pair<std::vector<const std::vector<double>*>, size_t>> variants_of(
    const std::vector<SegmentChoices>& word) {
  std::vector<std::pair<std::vector<const std::vector<double>*>, size_t>> out;
  std::vector<int> choice(word.size(), -1);  // -1: whole, else the split's index
  auto emit = [&] {
    std::vector<const std::vector<double>*> chars;
    size_t splits = 0;
    for (size_t s = 0; s < word.size(); ++s) {
      if (choice[s] < 0) {
        chars.push_back(&word[s].whole);
      } else {
        for (const std::vector<double>& part : word[s].splits[size_t(choice[s])]) chars.push_back(&part);
        ++splits;
      }
    }
    out.emplace_back(std::move(chars), splits);
  };
  emit();
  for (size_t a = 0; a < word.size() && out.size() < kMaxVariants; ++a)
    for (size_t i = 0; i < word[a].splits.size() && out.size() < kMaxVariants; ++i) {
      choice[a] = int(i);
      emit();
      if (kMaxSplits >= 2)
        for (size_t b = a + 1; b < word.size() && out.size() < kMaxVariants; ++b)
          for (size_t j = 0; j < word[b].splits.size() && out.size() < kMaxVariants; ++j) {
            choice[b] = int(j);
            emit();
            choice[b] = -1;
          }
      choice[a] = -1;
    }
  return out;
}

}  // namespace

Lexicon Lexicon::parse(const std::string& text, const std::string& name) {
  QUILL_CHECK(text.size() <= kMaxLexiconBytes, name, ": lexicon larger than ", kMaxLexiconBytes, " bytes");
  Lexicon lexicon;
  std::set<std::string> seen;
  size_t line_number = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    QUILL_CHECK(line.find('\0') == std::string::npos, name, ":", line_number, ": a NUL byte: not a text file");
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!line.empty() && blank(line.back())) line.pop_back();
    size_t first = 0;
    while (first < line.size() && blank(line[first])) ++first;
    line.erase(0, first);
    if (line.empty() || line[0] == '#') continue;
    QUILL_CHECK(std::none_of(line.begin(), line.end(), blank), name, ":", line_number,
                ": a space inside a word (one word a line)");
    QUILL_CHECK(line.size() <= kMaxLexiconWord, name, ":", line_number, ": a word of ", line.size(),
                " bytes, longer than ", kMaxLexiconWord);
    std::string folded = line;
    for (char& c : folded) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (!seen.insert(folded).second) continue;
    if (lexicon.by_length_.size() <= folded.size()) lexicon.by_length_.resize(folded.size() + 1);
    lexicon.by_length_[folded.size()].push_back(folded);
    ++lexicon.size_;
  }
  QUILL_CHECK(lexicon.size_ > 0, name, ": no words in the lexicon (one word a line)");
  return lexicon;
}

Lexicon Lexicon::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  QUILL_CHECK(in, "cannot open lexicon '", path, "'");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  QUILL_CHECK(size >= 0, "cannot read lexicon '", path, "'");
  QUILL_CHECK(size_t(size) <= kMaxLexiconBytes, path, ": lexicon larger than ", kMaxLexiconBytes, " bytes");
  in.seekg(0);
  std::string text(static_cast<size_t>(size), '\0');
  in.read(text.data(), size);
  QUILL_CHECK(in.gcount() == size, "cannot read lexicon '", path, "'");
  return parse(text, path);
}

const std::vector<std::string>& Lexicon::words_of_length(size_t length) const {
  static const std::vector<std::string> none;
  return length < by_length_.size() ? by_length_[length] : none;
}

LexiconMatch match_word(const Lexicon& lexicon, const std::vector<SegmentChoices>& word,
                        const std::vector<std::string>& classes, double tolerance_per_char, bool line_start) {
  LexiconMatch best;
  if (word.empty()) return best;
  std::array<int, 256> class_of;
  class_of.fill(-1);
  for (size_t c = 0; c < classes.size(); ++c)
    if (classes[c].size() == 1) class_of[static_cast<unsigned char>(classes[c][0])] = int(c);
  auto log_p = [&](const std::vector<double>& p, char ch) {
    const int c = class_of[static_cast<unsigned char>(ch)];
    return c < 0 ? kNever : log_of(p[size_t(c)]);
  };
  for (const SegmentChoices& s : word) {
    best.raw_log_probability += log_of(*std::max_element(s.whole.begin(), s.whole.end()));
  }
  best.log_probability = kNever;
  const size_t raw_length = word.size();

  for (const auto& variant : variants_of(word)) {
    const std::vector<const std::vector<double>*>& chars = variant.first;  // named: lambdas below capture it
    const size_t splits = variant.second;
    const size_t length = chars.size();
    // Case-blind scores first (each position's better of the lower- and upper-case class), over the words
    // within kMaxEdits of the reading's length; the best few are then scored in each case form.
    std::vector<std::array<double, 256>> folded(length);
    for (size_t i = 0; i < length; ++i) {
      folded[i].fill(kNever);
      for (int ch = 0; ch < 256; ++ch) {
        if (class_of[size_t(ch)] < 0) continue;
        const char lower = char(std::tolower(ch));
        folded[i][static_cast<unsigned char>(lower)] =
            std::max(folded[i][static_cast<unsigned char>(lower)], log_p(*chars[i], char(ch)));
      }
    }
    auto folded_score = [&](const std::string& w) {
      return align(length, w, [&](size_t i, char c) { return folded[i][static_cast<unsigned char>(c)]; });
    };
    // An upper bound of a word's score, cheap enough for every word: each letter at its best within the
    // band of positions an alignment can put it at (edits only cost). Most words fall below the shortlist.
    std::vector<std::array<double, 256>> band(length + kMaxEdits);
    for (size_t j = 0; j < band.size(); ++j) {
      band[j].fill(kNever);
      for (size_t i = j > kMaxEdits ? j - kMaxEdits : 0; i < std::min(length, j + kMaxEdits + 1); ++i)
        for (size_t c = 0; c < 256; ++c) band[j][c] = std::max(band[j][c], folded[i][c]);
    }
    std::vector<std::pair<double, const std::string*>> shortlist;
    const size_t shortest = length > kMaxEdits ? length - kMaxEdits : 1;
    for (size_t n = shortest; n <= length + kMaxEdits; ++n)
      for (const std::string& w : lexicon.words_of_length(n)) {
        if (shortlist.size() == kShortlist) {
          double bound = 0;
          for (size_t j = 0; j < n && bound > shortlist.front().first; ++j) bound += band[j][static_cast<unsigned char>(w[j])];
          if (bound <= shortlist.front().first) continue;
        }
        const double score = folded_score(w);
        if (score <= kNever / 2) continue;
        if (shortlist.size() < kShortlist) {
          shortlist.emplace_back(score, &w);
          std::push_heap(shortlist.begin(), shortlist.end(), std::greater<>());
        } else if (score > shortlist.front().first) {
          std::pop_heap(shortlist.begin(), shortlist.end(), std::greater<>());
          shortlist.back() = {score, &w};
          std::push_heap(shortlist.begin(), shortlist.end(), std::greater<>());
        }
      }
    // Then the forms a word is written in: lower case, Capitalised (at the start of a line; elsewhere less
    // likely), CAPITALS (less likely).
    for (const auto& [bound, w] : shortlist) {
      if (bound <= best.log_probability) continue;
      std::string capitalised = *w, capitals = *w;
      capitalised[0] = char(std::toupper(static_cast<unsigned char>(capitalised[0])));
      for (char& c : capitals) c = char(std::toupper(static_cast<unsigned char>(c)));
      const std::array<std::pair<const std::string*, double>, 3> forms = {
          {{w, 0.0}, {&capitalised, line_start ? 0.0 : kRareForm}, {&capitals, kRareForm}}};
      for (const auto& [form, prior] : forms) {
        const double score = prior + align(length, *form, [&](size_t i, char c) { return log_p(*chars[i], c); });
        if (score > best.log_probability) best.log_probability = score, best.text = *form, best.segments_split = splits;
      }
    }
  }
  best.matched = !best.text.empty() &&
                 best.raw_log_probability - best.log_probability <= tolerance_per_char * double(raw_length);
  if (!best.matched) best.text.clear();
  return best;
}

}  // namespace quill
