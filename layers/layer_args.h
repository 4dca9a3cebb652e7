#pragma once
// Reads the words of one description line: `conv 32 k3 p1 s2 nobias`.
// Positional values come first; options are a letter prefix and a number (k3) or a bare flag (nobias).
#include <string>
#include <vector>

namespace quill {

class LayerArgs {
 public:
  explicit LayerArgs(const std::vector<std::string>& words, int classes);
  const std::string& kind() const { return kind_; }

  // The i-th positional number (required, or a default when given).
  double number(size_t i, const char* what) const;
  double number(size_t i, const char* what, double fallback) const;
  int integer(size_t i, const char* what) const;
  int integer(size_t i, const char* what, int fallback) const;
  // An option like k3: `option("k", 1)`.
  int option(const std::string& prefix, int fallback);
  bool flag(const std::string& word);
  // Throws on any word no accessor asked for, or on too many positionals.
  void finish(size_t max_positional);

 private:
  std::string kind_;
  std::vector<std::string> words_;  // after the kind
  std::vector<bool> used_;
  int classes_;
};

}  // namespace quill
