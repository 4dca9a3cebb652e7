#include "engine/charset.h"

#include <algorithm>
#include <cctype>

#include "runtime/error.h"

namespace quill {
namespace {

bool named_set_allows(const std::string& spec, char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (spec == "digits") return std::isdigit(u);
  if (spec == "letters") return std::isalpha(u);
  if (spec == "upper") return std::isupper(u);
  if (spec == "lower") return std::islower(u);
  return std::isalnum(u);  // alnum
}

}  // namespace

std::vector<bool> charset_mask(const std::string& spec, const std::vector<std::string>& classes) {
  QUILL_CHECK(!spec.empty(), "--charset: empty (digits, letters, upper, lower, alnum or the characters allowed)");
  std::vector<bool> mask(classes.size(), false);
  const bool named = spec == "digits" || spec == "letters" || spec == "upper" || spec == "lower" || spec == "alnum";
  if (named) {
    for (size_t c = 0; c < classes.size(); ++c) mask[c] = classes[c].size() == 1 && named_set_allows(spec, classes[c][0]);
  } else {
    for (char ch : spec) {
      auto it = std::find(classes.begin(), classes.end(), std::string(1, ch));
      QUILL_CHECK(it != classes.end(), "--charset: '", std::string(1, ch), "' is not one of the model's classes (",
                  classes.size(), " classes; or name a set: digits, letters, upper, lower, alnum)");
      mask[size_t(it - classes.begin())] = true;
    }
  }
  QUILL_CHECK(std::find(mask.begin(), mask.end(), true) != mask.end(), "--charset ", spec,
              ": none of the model's classes is in it");
  return mask;
}

void restrict_to_charset(std::vector<double>& p, const std::vector<bool>& mask) {
  if (mask.empty()) return;
  double sum = 0;
  const double allowed = double(std::count(mask.begin(), mask.end(), true));
  for (size_t c = 0; c < p.size(); ++c) sum += mask[c] ? p[c] : 0.0;
  for (size_t c = 0; c < p.size(); ++c) p[c] = !mask[c] ? 0.0 : sum > 0 ? p[c] / sum : 1.0 / allowed;
}

}  // namespace quill
