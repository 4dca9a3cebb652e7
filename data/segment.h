#pragma once
// Cuts a photo of a handwritten word or line into characters for `read`: finds the ink as
// preprocess_character does, drops specks, groups connected components into characters (pieces in the
// same columns: the dot of i/j, a stroke broken across; nearly touching pieces no wider than a character:
// a stroke broken along), splits touching characters (a group too wide for one character at projection
// minima near their expected places; a group only somewhat wide, which may be one wide M or W, only at a
// neck of its ink), orders them left to right and marks word gaps. A wide character left whole also
// comes with readings as two, for the classifier to choose from.
#include <vector>

#include "data/image.h"
#include "data/preprocess.h"

namespace quill {

struct SegmentOptions {
  PreprocessOptions ink;            // denoise, threshold and polarity used to find the ink
  float merge_overlap = 0.5f;       // merge pieces whose x-extents overlap by more than this part of the
                                    // narrower one ...
  float merge_stacked_gap = 0.25f;  // ... or overlap at all, one above the other, this part of the taller apart
  float speck_fraction = 0.1f;      // a group with less ink than this part of a typical character is a speck
                                    // (unless it is at least half as tall as one: a thin 1)
  float neck_width = 1.2f;          // a group wider than this many median heights may be touching characters:
                                    // it is split where its ink has a neck ...
  float split_width = 1.5f;         // ... and one wider than this is (M and W reach about 1.5): split anyway
  float char_aspect = 0.9f;         // a wide character's width / height: how many parts a split makes
  float alternative_width = 0.8f;   // a character wider than this many median heights that was not split
                                    // may be two touching without a neck: it also gets two-part readings
                                    // (CharacterSegment::two_part_readings) for a classifier to weigh
                                    // (engine/line_reading.h)
  // Word spaces: a gap between characters wider than space_min_height median heights is a word space when
  // it is clear on its own (space_clear heights, and space_clear_ratio times the typical gap within words)
  // or space_gap times the typical gap (a tight hand's modest spaces). The typical gap is the lower median
  // of the gaps narrower than space_clear heights: spaces may be half the gaps or more ("4 56 78").
  float space_gap = 2.5f;
  float space_min_height = 0.5f;
  float space_clear = 0.9f;
  float space_clear_ratio = 1.3f;  // keeps a spacious hand's widest gaps within a word out
  // Which height of the line's characters ("median height" above) scales those rules: the median (0.5),
  // or a higher quantile for lines of words, whose median is the x-height: there a capital M is two
  // median heights wide and would be cut in three (engine/page_reading.cpp takes the tall characters').
  float height_quantile = 0.5f;
};

struct Box {
  int x = 0, y = 0, width = 0, height = 0;
  int x_end() const { return x + width; }  // one past the right edge
  float x_centre() const { return x + 0.5f * width; }
};

struct CharacterSegment {
  Box box;                    // the character's ink, in photo pixels
  Image crop;                 // the photo around the box (with a margin); other characters' ink is painted
                              // over with paper, so it can go straight to preprocess_character
  bool space_before = false;  // a word gap separates it from the previous character
  // Other readings of the same ink as two characters, left to right: one per place tried for the cut
  // (near a third, half and two thirds of the width, at the least ink close by). None when the segment is
  // narrow enough to be surely one character. One M or two touching digits: segmentation cannot tell,
  // the shapes do (see alternative_width, and engine/line_reading.h for the choice).
  std::vector<std::vector<CharacterSegment>> two_part_readings;
};

struct LineSegmentation {
  std::vector<CharacterSegment> characters;  // left to right
  InkPolarity polarity = InkPolarity::DarkOnLight;  // what was found; pass it on to preprocess the crops
};

// Typical stroke width of a 0/1 ink mask: the median length of its horizontal and vertical runs of ink.
float ink_stroke_width(const std::vector<uint8_t>& mask, int width, int height);

// Throws quill::Error("no ink found in image ...") when the photo holds no ink.
LineSegmentation segment_line(const Image& photo, const SegmentOptions& options = {});

}  // namespace quill
