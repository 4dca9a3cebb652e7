#pragma once
// Reads the words of one description line: `conv 32 k3 p1 s2 nobias`.
// Positional values come first; options are a letter prefix and a number (k3) or a bare flag (nobias).
// Sizes of 2-D windows may give height and width apart, HxW (`k3x5`, `maxpool 3x2`).
#include <string>
#include <utility>
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
  // The i-th positional or an option as a (height, width) pair: "3" is (3, 3), "3x5" is (3, 5).
  std::pair<int, int> integer_pair(size_t i, const char* what);
  std::pair<int, int> option_pair(const std::string& prefix, std::pair<int, int> fallback);
  bool flag(const std::string& word);
  // Throws on any word no accessor asked for, or on too many positionals.
  void finish(size_t max_positional);

 private:
  std::string kind_;
  std::vector<std::string> words_;  // after the kind
  std::vector<bool> used_;
  int classes_;
};

// The kernel (or window), stride and padding of a 2-D window layer, per axis, with padding before and after
// each axis: `k3x5 s1x2 p1x0` (HxW; one number for both axes) and, for padding that differs between the two
// sides of an axis, pt pb pl pr (top, bottom, left, right), each replacing what p gave that side.
struct WindowArgs {
  int kh = 1, kw = 1, sh = 1, sw = 1;
  int pt = 0, pb = 0, pl = 0, pr = 0;
  // Reads s, p and pt pb pl pr; the caller has set the kernel and the default stride.
  void read_stride_and_padding(LayerArgs& args);
  // " s1x2 p1 pt0 ..." as read_stride_and_padding reads it, leaving out the stride when it is default_stride
  // on both axes and zero padding.
  std::string describe_stride_and_padding(int default_sh, int default_sw) const;
  bool square() const { return kh == kw; }
  bool symmetric() const { return pt == pb && pl == pr; }
};
// "3" or "3x5".
std::string pair_text(int h, int w);

}  // namespace quill
