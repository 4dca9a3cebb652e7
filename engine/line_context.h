#pragma once
// What a line tells about its characters that a lone 28x28 sample cannot. EMNIST scales every character
// to its box, so o/O/0, c/C, s/S, p/P ... differ there mostly in shape details; on the page they differ in
// size and place: a small o sits between the baseline and the x-height line, a capital O or a 0 reaches
// the cap height, a p hangs below the baseline. And a character among letters is more likely a letter.
//
// Size: the line's baseline (a straight line: a photo may be skewed), cap height, x-height and descender
// depth are measured from its characters, each weighted by how probable the classifier finds each kind of
// height for it (a, e, n are surely small; A, 4, k surely tall), so the look-alikes themselves barely move
// the measurement. Then each class's probability is multiplied by how well the character's top and
// bottom fit that class's kind of height (a Gaussian of sigma kSizeSigma cap heights, plus a floor so a
// badly cut character cannot be overruled by its size alone).
// Neighbours: within a word, letters are weighted by how letter-like the other characters are (their
// letter share, squared), and digits by how digit-like; upper and lower case by the case of the word's
// other letters after its first. A word's first letter takes the case of the rest of its word, leaning to
// lower case; only the line's first letter is free (a Capitalised line start).
#include <string>
#include <vector>

#include "data/segment.h"

namespace quill {

enum class GlyphHeight {
  Small,             // a c e m n o r s u v w x z: x-height, on the baseline
  Tall,              // capitals, digits and the ascenders b d f h k l t: cap height, on the baseline
  Descender,         // g p q y: from the x-height line to below the baseline
  Dotted,            // i: a dot above the x-height, on the baseline
  DottedDescender,   // j
  Unknown,           // a class that is not a single letter or digit: no size expectation
};
GlyphHeight glyph_height(const std::string& class_name);

struct LineGeometry {
  bool measured = false;     // enough characters to measure both heights (else no size context)
  double baseline0 = 0;      // baseline y at x = 0 ...
  double slope = 0;          // ... and its slope
  double cap_height = 0, x_height = 0, descender = 0;  // pixels
  double baseline(double x) const { return baseline0 + slope * x; }
};

// The line's geometry from its characters' boxes and class probabilities.
LineGeometry measure_line(const std::vector<Box>& boxes, const std::vector<std::vector<double>>& probabilities,
                          const std::vector<std::string>& classes);

struct LineContextOptions {
  bool size = true;        // sizes and places relative to the line
  bool neighbours = true;  // letters among letters, case within a word
};

// Reweights each character's class probabilities (in place, renormalised) by the line's context.
// boxes: each character's ink box; word_start: whether a word begins at each character.
void apply_line_context(const std::vector<Box>& boxes, const std::vector<bool>& word_start,
                        std::vector<std::vector<double>>& probabilities, const std::vector<std::string>& classes,
                        const LineContextOptions& options = {});

}  // namespace quill
