#include "layers/layer_args.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <tuple>

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

// "3x5": two unsigned integers of at most 4 digits; "3" is (3, 3).
bool parse_pair(const std::string& s, int* h, int* w) {
  const size_t x = s.find('x');
  auto digits = [](const std::string& d) {
    return !d.empty() && d.size() <= 4 && std::all_of(d.begin(), d.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (x == std::string::npos) {
    if (!digits(s)) return false;
    *h = *w = std::atoi(s.c_str());
    return true;
  }
  const std::string a = s.substr(0, x), b = s.substr(x + 1);
  if (!digits(a) || !digits(b)) return false;
  *h = std::atoi(a.c_str());
  *w = std::atoi(b.c_str());
  return true;
}

bool is_pair(const std::string& w) {
  int a, b;
  return w.find('x') != std::string::npos && parse_pair(w, &a, &b);
}

bool is_positional(const std::string& w) {
  double v;
  return w == "classes" || parse_number(w, &v) || is_pair(w);
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
    QUILL_CHECK(!is_pair(words_[j]), kind_, ": ", what, " is one number, not '", words_[j], "'");
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

std::pair<int, int> LayerArgs::integer_pair(size_t i, const char* what) {
  size_t seen = 0;
  for (size_t j = 0; j < words_.size(); ++j) {
    if (!is_positional(words_[j])) continue;
    if (seen++ != i) continue;
    if (!is_pair(words_[j])) {  // one number, read as integer() reads it
      const int v = integer(i, what);
      return {v, v};
    }
    int h = 0, w = 0;
    QUILL_CHECK(parse_pair(words_[j], &h, &w) && h >= 1 && w >= 1, kind_, ": ", what,
                " must be a positive integer or HxW, got '", words_[j], "'");
    used_[j] = true;
    return {h, w};
  }
  fail(kind_, ": missing ", what);
}

std::pair<int, int> LayerArgs::option_pair(const std::string& prefix, std::pair<int, int> fallback) {
  for (size_t j = 0; j < words_.size(); ++j) {
    const std::string& w = words_[j];
    if (w.size() <= prefix.size() || w.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = w.substr(prefix.size());
    if (!std::isdigit(static_cast<unsigned char>(rest[0]))) continue;  // another option: pt1 is not p
    int h = 0, v = 0;
    QUILL_CHECK(parse_pair(rest, &h, &v), kind_, ": option '", w, "' is not ", prefix, "N or ", prefix,
                "HxW (at most 4 digits each)");
    used_[j] = true;
    return {h, v};
  }
  return fallback;
}

void WindowArgs::read_stride_and_padding(LayerArgs& args) {
  std::tie(sh, sw) = args.option_pair("s", {sh, sw});
  std::tie(pt, pl) = args.option_pair("p", {0, 0});
  pb = pt, pr = pl;
  pt = args.option("pt", pt);
  pb = args.option("pb", pb);
  pl = args.option("pl", pl);
  pr = args.option("pr", pr);
}

std::string pair_text(int h, int w) { return h == w ? std::to_string(h) : std::to_string(h) + "x" + std::to_string(w); }

std::string WindowArgs::describe_stride_and_padding(int default_sh, int default_sw) const {
  std::string out;
  if (sh != default_sh || sw != default_sw) out += " s" + pair_text(sh, sw);
  if (symmetric()) {
    if (pt != 0 || pl != 0) out += " p" + pair_text(pt, pl);
  } else {
    out += " pt" + std::to_string(pt) + " pb" + std::to_string(pb) + " pl" + std::to_string(pl) + " pr" +
           std::to_string(pr);
  }
  return out;
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
