// EMNIST: mapping files, transposition, label-set remapping, the reference split, real data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/emnist.h"
#include "data/idx.h"
#include "runtime/error.h"
#include "tests/real_data.h"
#include "tests/temp_files.h"

namespace {

using namespace test_files;

namespace fs = std::filesystem;


const std::string kByClass = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += n;
  return s;
}

// One 2x2 sample per ByClass class; pixel 0 holds the label so samples can be traced.
quill::Dataset synthetic_byclass() {
  quill::Dataset d;
  d.rows = d.cols = 2;
  for (int c = 0; c < 62; ++c) {
    d.pixels.insert(d.pixels.end(), {uint8_t(c), 0, 0, 0});
    d.labels.push_back(c);
    d.classes.emplace_back(1, kByClass[c]);
  }
  d.framing = quill::FramingConvention::Emnist;
  return d;
}

// The ByClass test file of `dir`, loaded once for all real-data tests.
const quill::Dataset& real_byclass(const std::string& dir) {
  static const quill::Dataset d = quill::load_emnist_split(dir, "byclass", "test");
  return d;
}

// Second moments of a class's mean ink: how far ink spreads vertically and horizontally.
std::pair<double, double> ink_spread(const quill::Dataset& d, const std::string& name) {
  int label = -1;
  for (int c = 0; c < d.num_classes(); ++c)
    if (d.classes[c] == name) label = c;
  REQUIRE(label >= 0);
  std::vector<double> mean(size_t(d.rows) * d.cols, 0.0);
  for (int64_t i = 0; i < d.size(); ++i)
    if (d.labels[i] == label)
      for (size_t p = 0; p < mean.size(); ++p) mean[p] += d.image(i)[p];
  double m = 0, my = 0, mx = 0;
  for (int y = 0; y < d.rows; ++y)
    for (int x = 0; x < d.cols; ++x) {
      const double w = mean[size_t(y) * d.cols + x];
      m += w, my += w * y, mx += w * x;
    }
  my /= m, mx /= m;
  double vy = 0, vx = 0;
  for (int y = 0; y < d.rows; ++y)
    for (int x = 0; x < d.cols; ++x) {
      const double w = mean[size_t(y) * d.cols + x];
      vy += w * (y - my) * (y - my), vx += w * (x - mx) * (x - mx);
    }
  return {vy / m, vx / m};
}

}  // namespace

TEST_CASE("data: emnist label set names") {
  CHECK(quill::parse_label_set("byclass") == quill::EmnistLabelSet::ByClass);
  CHECK(quill::parse_label_set("Merged") == quill::EmnistLabelSet::Merged);
  CHECK(quill::parse_label_set("bymerge") == quill::EmnistLabelSet::Merged);
  CHECK(quill::parse_label_set("balanced") == quill::EmnistLabelSet::Merged);
  CHECK(quill::parse_label_set("letters") == quill::EmnistLabelSet::Letters);
  CHECK(quill::parse_label_set("digits") == quill::EmnistLabelSet::Digits);
  CHECK_THROWS_WITH_AS(quill::parse_label_set("greek"), doctest::Contains("unknown EMNIST label set 'greek'"),
                       quill::Error);
  CHECK(std::string(quill::label_set_name(quill::EmnistLabelSet::Letters)) == "letters");
  CHECK(joined(quill::emnist_class_names(quill::EmnistLabelSet::ByClass)) == kByClass);
  CHECK(joined(quill::emnist_class_names(quill::EmnistLabelSet::Merged)) ==
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt");
  CHECK(joined(quill::emnist_class_names(quill::EmnistLabelSet::Letters)) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  CHECK(joined(quill::emnist_class_names(quill::EmnistLabelSet::Digits)) == "0123456789");
}

TEST_CASE("data: emnist remap to merged, letters and digits") {
  const quill::Dataset byclass = synthetic_byclass();
  auto label_of = [](const quill::Dataset& d, char c) {  // label of the sample that was ByClass char c
    const int old = int(kByClass.find(c));
    for (int64_t i = 0; i < d.size(); ++i)
      if (d.image(i)[0] == old) return d.labels[i];
    return -1;
  };

  const quill::Dataset merged = quill::remap_emnist(byclass, quill::EmnistLabelSet::Merged);
  CHECK(merged.num_classes() == 47);
  CHECK(merged.size() == 62);
  CHECK(label_of(merged, 'c') == label_of(merged, 'C'));
  CHECK(label_of(merged, 'o') == label_of(merged, 'O'));
  CHECK(label_of(merged, 'z') == label_of(merged, 'Z'));
  CHECK(label_of(merged, 'a') != label_of(merged, 'A'));
  CHECK(merged.classes[label_of(merged, 'a')] == "a");
  CHECK(merged.classes[label_of(merged, 't')] == "t");
  CHECK(merged.classes[label_of(merged, '7')] == "7");
  CHECK(merged.framing == quill::FramingConvention::Emnist);

  const quill::Dataset letters = quill::remap_emnist(byclass, quill::EmnistLabelSet::Letters);
  CHECK(letters.num_classes() == 26);
  CHECK(letters.size() == 52);
  CHECK(label_of(letters, 'a') == 0);
  CHECK(label_of(letters, 'A') == 0);
  CHECK(label_of(letters, 'z') == 25);
  CHECK(label_of(letters, '3') == -1);

  const quill::Dataset digits = quill::remap_emnist(byclass, quill::EmnistLabelSet::Digits);
  CHECK(digits.num_classes() == 10);
  CHECK(digits.size() == 10);
  CHECK(label_of(digits, '9') == 9);
  CHECK(label_of(digits, 'b') == -1);

  CHECK(quill::remap_emnist(byclass, quill::EmnistLabelSet::ByClass).labels == byclass.labels);
  quill::Dataset wrong = byclass;
  wrong.classes.pop_back();
  CHECK_THROWS_WITH_AS(quill::remap_emnist(wrong, quill::EmnistLabelSet::Digits),
                       doctest::Contains("expected the 62 ByClass classes"), quill::Error);
}

TEST_CASE("data: emnist mapping files and transposed loading") {
  TempDir tmp("emnist");
  write_text(tmp.file("digits-mapping.txt"), "0 48\n1 49\n2 50\n");
  write_text(tmp.file("letters-mapping.txt"), "1 65 97\n2 66 98\n\n");
  write_text(tmp.file("gap-mapping.txt"), "0 48\n2 50\n");
  write_text(tmp.file("junk-mapping.txt"), "zero 48\n");
  write_text(tmp.file("huge-mapping.txt"), "2147483647 48\n0 49\n");  // the next label would overflow an int
  const quill::EmnistMapping digits = quill::read_emnist_mapping(tmp.file("digits-mapping.txt"));
  CHECK(digits.first_label == 0);
  CHECK(digits.names == std::vector<std::string>{"0", "1", "2"});
  const quill::EmnistMapping letters = quill::read_emnist_mapping(tmp.file("letters-mapping.txt"));
  CHECK(letters.first_label == 1);
  CHECK(letters.names == std::vector<std::string>{"A", "B"});
  CHECK_THROWS_WITH_AS(quill::read_emnist_mapping(tmp.file("gap-mapping.txt")),
                       doctest::Contains("gap-mapping.txt: line 2: label 2, expected 1"), quill::Error);
  CHECK_THROWS_WITH_AS(quill::read_emnist_mapping(tmp.file("junk-mapping.txt")),
                       doctest::Contains("junk-mapping.txt: line 1"), quill::Error);
  CHECK_THROWS_WITH_AS(quill::read_emnist_mapping(tmp.file("huge-mapping.txt")),
                       doctest::Contains("huge-mapping.txt: line 1: label 2147483647 is outside 0..255"), quill::Error);
  CHECK_THROWS_WITH_AS(quill::read_emnist_mapping(tmp.file("none.txt")), doctest::Contains("none.txt: cannot open"),
                       quill::Error);

  // A 2x3 image stored transposed (3x2 in the file) comes back upright; letters labels 1..2 become 0..1.
  const std::vector<uint8_t> stored = {1, 4, 2, 5, 3, 6};  // columns of the upright [[1,2,3],[4,5,6]]
  quill::write_idx_images(tmp.file("img"), stored.data(), 1, 3, 2, true);
  quill::write_idx_labels(tmp.file("lab"), {2}, true);
  const quill::Dataset d = quill::load_emnist(tmp.file("img"), tmp.file("lab"), tmp.file("letters-mapping.txt"));
  CHECK(d.rows == 2);
  CHECK(d.cols == 3);
  CHECK(std::vector<uint8_t>(d.image(0), d.image(0) + 6) == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  CHECK(d.labels == std::vector<int32_t>{1});
  CHECK(d.classes == std::vector<std::string>{"A", "B"});
  CHECK(d.framing == quill::FramingConvention::Emnist);

  quill::write_idx_labels(tmp.file("lab0"), {0}, true);  // 0 is below the Letters file's first label
  CHECK_THROWS_WITH_AS(quill::load_emnist(tmp.file("img"), tmp.file("lab0"), tmp.file("letters-mapping.txt")),
                       doctest::Contains("label 0 at index 0 is not in"), quill::Error);
}

TEST_CASE("data: real EMNIST ByClass loads upright (QUILL_DATA)") {
  const std::string dir = quill::test::emnist_dir_or_skip();
  if (dir.empty()) return;
  const quill::Dataset& d = real_byclass(dir);
  CHECK(d.size() == 116323);
  CHECK(d.rows == 28);
  CHECK(d.cols == 28);
  CHECK(joined(d.classes) == kByClass);
  const std::vector<int64_t> counts = quill::class_counts(d);
  CHECK(*std::min_element(counts.begin(), counts.end()) == 317);
  CHECK(*std::max_element(counts.begin(), counts.end()) == 6330);

  // Upright '1' and 'l' are tall strokes: ink spreads far more vertically than horizontally. The file's
  // own (transposed) layout shows the opposite, so this fails if the transpose is missing or doubled.
  for (const char* name : {"1", "l", "I"}) {
    CAPTURE(name);
    const auto [vertical, horizontal] = ink_spread(d, name);
    CHECK(vertical > 2.0 * horizontal);
  }
  quill::Dataset raw = quill::load_idx_dataset(dir + "emnist-byclass-test-images-idx3-ubyte.gz",
                                               dir + "emnist-byclass-test-labels-idx1-ubyte.gz", 62);
  raw.classes = d.classes;
  const auto [raw_vertical, raw_horizontal] = ink_spread(raw, "1");
  CHECK(raw_horizontal > 2.0 * raw_vertical);
}

TEST_CASE("data: real EMNIST reference split and label sets match the mapping files (QUILL_DATA)") {
  const std::string dir = quill::test::emnist_dir_or_skip();
  if (dir.empty()) return;
  const quill::Dataset& d = real_byclass(dir);
  const quill::Dataset train = quill::subset(d, 0, 93000), test = quill::subset(d, 93000, d.size());
  CHECK(train.size() == 93000);
  CHECK(test.size() == 23323);
  CHECK(test.labels.front() == d.labels[93000]);

  auto mapping_names = [&](const char* split) { return quill::read_emnist_mapping(dir + "emnist-" + split + "-mapping.txt").names; };
  CHECK(mapping_names("byclass") == quill::emnist_class_names(quill::EmnistLabelSet::ByClass));
  CHECK(mapping_names("bymerge") == quill::emnist_class_names(quill::EmnistLabelSet::Merged));
  CHECK(mapping_names("balanced") == quill::emnist_class_names(quill::EmnistLabelSet::Merged));
  CHECK(mapping_names("letters") == quill::emnist_class_names(quill::EmnistLabelSet::Letters));
  CHECK(mapping_names("digits") == quill::emnist_class_names(quill::EmnistLabelSet::Digits));

  const std::vector<int64_t> counts = quill::class_counts(d);
  int64_t digit_count = 0;
  for (int c = 0; c < 10; ++c) digit_count += counts[c];
  const quill::Dataset merged = quill::remap_emnist(d, quill::EmnistLabelSet::Merged);
  const quill::Dataset letters = quill::remap_emnist(d, quill::EmnistLabelSet::Letters);
  const quill::Dataset digits = quill::remap_emnist(d, quill::EmnistLabelSet::Digits);
  CHECK(merged.size() == d.size());
  CHECK(merged.num_classes() == 47);
  CHECK(letters.size() == d.size() - digit_count);
  CHECK(digits.size() == digit_count);
  const std::vector<int64_t> merged_counts = quill::class_counts(merged);
  CHECK(merged_counts[int(std::string("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ").find('O'))] ==
        counts[kByClass.find('O')] + counts[kByClass.find('o')]);
}
