// Reading a line: a wide segment's two-part readings (data/segment.h) are kept only when the classifier
// is clearly surer of the parts than of the whole (engine/line_reading.h). The choice is checked with given
// probabilities, so every branch is exercised without a trained model; the segmentation side is in
// test_segment.cpp, the effect on real lines in docs/RESULTS.md.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/line_reading.h"
#include "runtime/error.h"

using namespace quill;

TEST_CASE("line reading: the whole stays unless every part is confident and clearly surer") {
  CHECK(choose_reading(0.95, {}) == -1);                         // nothing to choose from
  CHECK(choose_reading(0.95, {{0.92, 0.93}}) == -1);             // a sure 0 cut in two reads as two 1s
  CHECK(choose_reading(0.40, {{0.92, 0.93}}) == 0);              // an unsure whole, two sure parts
  CHECK(choose_reading(0.40, {{0.99, 0.60}}) == -1);             // one part unsure: no split
  CHECK(choose_reading(0.80, {{0.88, 0.88}}) == -1);             // close call: stays whole
  CHECK(choose_reading(0.30, {{0.86, 0.90}, {0.95, 0.97}, {0.99, 0.5}}) == 1);  // the surest reading wins
  CHECK(choose_reading(0.30, {{}}) == -1);                       // an empty reading is not a reading
}

namespace {

CharacterSegment segment_at(int x, int width, bool space_before = false) {
  CharacterSegment c;
  c.box = {x, 0, width, 50};
  c.space_before = space_before;
  return c;
}

// A one-hot-ish distribution over the classes: `p` on class `label`, the rest shared equally.
std::vector<double> confident(size_t classes, size_t label, double p) {
  std::vector<double> v(classes, (1 - p) / double(classes - 1));
  v[label] = p;
  return v;
}

}  // namespace

TEST_CASE("line reading: kept parts replace their segment in order, samples and probabilities aligned") {
  const std::vector<std::string> classes = {"0", "1", "2", "3", "4"};
  LineSamples line;
  line.line.characters.push_back(segment_at(0, 40));                            // sample 0
  CharacterSegment wide = segment_at(60, 90, /*space_before=*/true);           // sample 1, parts 2-3 and 4-5
  wide.two_part_readings = {{segment_at(60, 30), segment_at(95, 55)}, {segment_at(60, 45), segment_at(110, 40)}};
  line.line.characters.push_back(wide);
  line.line.characters.push_back(segment_at(170, 40));                          // sample 6
  for (uint8_t i = 0; i < 7; ++i) line.samples.push_back(std::vector<uint8_t>(784, i));
  std::vector<std::vector<double>> probs = {
      confident(5, 1, 0.9),                          // 0
      confident(5, 4, 0.5),                          // the wide one: unsure
      confident(5, 2, 0.9), confident(5, 3, 0.6),   // first reading: one part unsure
      confident(5, 2, 0.95), confident(5, 3, 0.9),  // second reading: both sure
      confident(5, 0, 0.9)};

  SUBCASE("the sure reading replaces the wide segment") {
    const std::vector<ReadCharacter> read = read_characters(line, probs, classes);
    REQUIRE(read.size() == 4);
    const int xs[] = {0, 60, 110, 170};
    const uint8_t sample_ids[] = {0, 4, 5, 6};
    for (int i = 0; i < 4; ++i) {
      CAPTURE(i);
      CHECK(read[i].segment.box.x == xs[i]);
      CHECK(read[i].sample[0] == sample_ids[i]);
      CHECK(read[i].probabilities == probs[sample_ids[i]]);
      CHECK(read[i].segment.two_part_readings.empty());
    }
    CHECK(read[1].segment.space_before);  // the word space before the wide segment goes to its first part
    CHECK_FALSE(read[2].segment.space_before);
  }
  SUBCASE("a sure whole stays whole") {
    probs[1] = confident(5, 4, 0.97);
    const std::vector<ReadCharacter> read = read_characters(line, probs, classes);
    REQUIRE(read.size() == 3);
    CHECK(read[1].segment.box.width == 90);
    CHECK(read[1].sample[0] == 1);
    CHECK(read[1].segment.space_before);
  }
  SUBCASE("confidence counts up to case: torn between M and m is sure of the shape") {
    const std::vector<std::string> cased = {"0", "1", "M", "m", "n"};
    probs[1] = {0.01, 0.01, 0.5, 0.47, 0.01};
    CHECK(read_characters(line, probs, cased).size() == 3);
    CHECK(read_characters(line, probs, classes).size() == 4);  // the same numbers as five distinct shapes
  }
  SUBCASE("a classifier answering the wrong number of rows or classes is an error") {
    probs.pop_back();
    CHECK_THROWS_AS(read_characters(line, probs, classes), Error);
    probs.push_back({0.5, 0.5});
    CHECK_THROWS_AS(read_characters(line, probs, classes), Error);
  }
}
