#pragma once
// Finds the text lines of a photo of a page for `read`: the ink's connected components, the page's skew
// (the angle at which the ink's rows are sharpest), then lines as runs of character centres along the
// deskewed vertical, with dots and small pieces given to the nearest line. Each line comes out as its own
// photo (the page around its ink, other lines' ink painted over with paper), ready for segment_line
// (data/segment.h). A photo of one line comes back unchanged, as its single line.
#include <vector>

#include "data/image.h"
#include "data/preprocess.h"
#include "data/segment.h"

namespace quill {

// Largest page side read: a 4096-pixel side holds a phone's 12-megapixel photo. At the limit, a page of
// nothing but specks is refused in about 4 s using 0.9 GB (6000x6000 took 11 s and 1.9 GB).
constexpr int kMaxPageSide = 4096;

struct PageLayoutOptions {
  PreprocessOptions ink;             // denoise, threshold and polarity used to find the ink
  float max_skew_degrees = 6.0f;     // skews tried: -max..+max ...
  float skew_step_degrees = 0.25f;   // ... in these steps
  float line_gap = 0.6f;             // a gap between character centres (deskewed, sorted top to bottom) wider
                                     // than this many median character heights starts a new line
  float attach_distance = 1.0f;      // a small piece further than this many median heights from every line
                                     // is a speck, not writing
  float max_ink_fraction = 0.3f;     // handwriting covers a small part of a page: more ink is not text
  int max_pieces = 20000;            // more pieces of ink than this is noise, not characters
};

struct TextLine {
  Image photo;  // the page around the line's ink, other lines' ink painted over with paper
  Box box;      // where photo lies in the page (add box.x, box.y to its coordinates)
};

struct PageLayout {
  std::vector<TextLine> lines;                      // top to bottom
  InkPolarity polarity = InkPolarity::DarkOnLight;  // as found on the whole page
  double skew_degrees = 0;                          // positive: lines fall to the right (y grows with x)
};

// Throws quill::Error naming the reason when the page holds no text: no ink, ink everywhere (noise), or
// only specks.
PageLayout find_text_lines(const Image& page, const PageLayoutOptions& options = {});

}  // namespace quill
