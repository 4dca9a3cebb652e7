#include "layers/layer_args.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "runtime/error.h"

namespace quill {
namespace {

bool parse_number(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool is_positional(const std::string& w) {
  double v;
  return w == "classes" || parse_number(w, &v);
}

}  // namespace

LayerArgs::LayerArgs(const std::vector<std::string>& words, int classes) : classes_(classes) {
  QUILL_CHECK(!words.empty(), "empty layer line");
  kind_ = words[0];
  words_.assign(words.begin() + 1, words.end());
  used_.assign(words_.size(), false);
}

double LayerArgs::number(size_t i, const char* what) const {
  size_t seen = 0;
  for (size_t j = 0; j < words_.size(); ++j) {
    if (!is_positional(words_[j])) continue;
    if (seen++ != i) continue;
    const_cast<std::vector<bool>&>(used_)[j] = true;
    if (words_[j] == "classes") {
      QUILL_CHECK(classes_ > 0, kind_, ": 'classes' is only known when a dataset is given");
      return classes_;
    }
    double v = 0;
    parse_number(words_[j], &v);
    return v;
  }
  fail(kind_, ": missing ", what);
}

double LayerArgs::number(size_t i, const char* what, double fallback) const {
  size_t count = 0;
  for (const auto& w : words_) count += is_positional(w);
  return i < count ? number(i, what) : fallback;
}

int LayerArgs::integer(size_t i, const char* what) const {
  double v = number(i, what);
  QUILL_CHECK(v == std::floor(v) && v >= 1 && v <= 1 << 20, kind_, ": ", what, " must be a positive integer, got ", v);
  return static_cast<int>(v);
}

int LayerArgs::integer(size_t i, const char* what, int fallback) const {
  size_t count = 0;
  for (const auto& w : words_) count += is_positional(w);
  return i < count ? integer(i, what) : fallback;
}

int LayerArgs::option(const std::string& prefix, int fallback) {
  for (size_t j = 0; j < words_.size(); ++j) {
    const std::string& w = words_[j];
    if (w.size() <= prefix.size() || w.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = w.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); })) continue;
    QUILL_CHECK(digits.size() <= 4, kind_, ": option '", w, "' is out of range");
    used_[j] = true;
    return std::atoi(digits.c_str());
  }
  return fallback;
}

bool LayerArgs::flag(const std::string& word) {
  for (size_t j = 0; j < words_.size(); ++j)
    if (words_[j] == word) {
      used_[j] = true;
      return true;
    }
  return false;
}

void LayerArgs::finish(size_t max_positional) {
  size_t positional = 0;
  for (size_t j = 0; j < words_.size(); ++j) {
    if (is_positional(words_[j])) ++positional;
    QUILL_CHECK(used_[j] || (is_positional(words_[j]) && positional <= max_positional), kind_,
                ": unexpected '", words_[j], "'");
  }
  QUILL_CHECK(positional <= max_positional, kind_, ": too many values");
}

}  // namespace quill
