#pragma once
// Reading a segmented line: every character is preprocessed like the model's training set and classified.
// A wide segment may be one character (M, W, a wide 0) or two touching ones; segmentation offers both
// (CharacterSegment::two_part_readings, data/segment.h) and the classifier's confidence decides.
// Shared by `quill read` and `quill serve`.
#include <cstdint>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "data/segment.h"

namespace quill {

struct ReadCharacter {
  CharacterSegment segment;            // its two_part_readings emptied: this is the reading kept
  std::vector<uint8_t> sample;         // the 28x28 image the network saw
  std::vector<double> probabilities;   // per class
  // Where the segment was kept whole: the class probabilities of each part of each two-part reading that
  // was not chosen (for a lexicon to weigh the segment as two characters after all).
  std::vector<std::vector<std::vector<double>>> other_readings;
};

// Every segment of the line and every part of its two-part readings, preprocessed for the network:
// classify `samples` in one batch, then read_characters. Throws quill::Error when a character cannot be
// preprocessed.
struct LineSamples {
  LineSegmentation line;
  std::vector<std::vector<uint8_t>> samples;  // 28x28 each, in the order read_characters expects
};
LineSamples line_samples(LineSegmentation line, const PreprocessOptions& character);

// The characters of the line, left to right, given the class probabilities of every sample: each
// segment's two-part readings kept or not by choose_reading. The first part of a kept reading takes over
// the segment's word space.
// Confidence is measured up to case (the classes' names, case-folded, are summed): a ByClass model torn
// between M and m is sure of the shape, and only the shape tells one character from two.
std::vector<ReadCharacter> read_characters(LineSamples line, const std::vector<std::vector<double>>& probabilities,
                                           const std::vector<std::string>& classes);

// Which reading of a segment to keep, from the classifier's top probability (up to case) for the whole
// segment and for each part of each two-part reading: -1 for the whole, else the index of the reading. A reading
// must have every part confident and, per character (geometric mean), be clearly surer than the whole:
// halves of one character often look like narrow characters (a 0 cut in two reads as two 1s), so a
// close call stays whole. Of several such readings the surest wins.
int choose_reading(double whole, const std::vector<std::vector<double>>& readings);

}  // namespace quill
