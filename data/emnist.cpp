#include "data/emnist.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "data/idx.h"
#include "runtime/error.h"
#include "runtime/text.h"

namespace quill {

namespace {

const std::string kDigits = "0123456789";
const std::string kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const std::string kLower = "abcdefghijklmnopqrstuvwxyz";
// Lowercase letters whose shape matches the uppercase one; ByMerge and Balanced merge them.
const std::string kMergedLower = "cijklmopsuvwxyz";

std::string byclass_chars() { return kDigits + kUpper + kLower; }

std::string label_set_chars(EmnistLabelSet set) {
  switch (set) {
    case EmnistLabelSet::ByClass: return byclass_chars();
    case EmnistLabelSet::Digits: return kDigits;
    case EmnistLabelSet::Letters: return kUpper;
    case EmnistLabelSet::Merged: {
      std::string chars = kDigits + kUpper;
      for (char c : kLower)
        if (kMergedLower.find(c) == std::string::npos) chars += c;
      return chars;
    }
  }
  return {};
}

// The class of ByClass character `c` in `set`, or -1 where the set drops it.
int target_label(char c, EmnistLabelSet set, const std::string& target_chars) {
  const bool lower = std::islower(static_cast<unsigned char>(c));
  const bool digit = std::isdigit(static_cast<unsigned char>(c));
  if (set == EmnistLabelSet::Digits && !digit) return -1;
  if (set == EmnistLabelSet::Letters && digit) return -1;
  char key = c;
  if (lower && (set == EmnistLabelSet::Letters ||
                (set == EmnistLabelSet::Merged && kMergedLower.find(c) != std::string::npos)))
    key = char(std::toupper(static_cast<unsigned char>(c)));
  return int(target_chars.find(key));
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

EmnistLabelSet parse_label_set(const std::string& name) {
  const std::string n = lowercase(name);
  if (n == "byclass") return EmnistLabelSet::ByClass;
  if (n == "merged" || n == "bymerge" || n == "balanced") return EmnistLabelSet::Merged;
  if (n == "letters") return EmnistLabelSet::Letters;
  if (n == "digits") return EmnistLabelSet::Digits;
  fail("unknown EMNIST label set '", name, "' (expected byclass, merged, letters or digits)");
}

const char* label_set_name(EmnistLabelSet set) {
  switch (set) {
    case EmnistLabelSet::ByClass: return "byclass";
    case EmnistLabelSet::Merged: return "merged";
    case EmnistLabelSet::Letters: return "letters";
    case EmnistLabelSet::Digits: return "digits";
  }
  return "?";
}

std::vector<std::string> emnist_class_names(EmnistLabelSet set) {
  std::vector<std::string> names;
  for (char c : label_set_chars(set)) names.emplace_back(1, c);
  return names;
}

EmnistMapping read_emnist_mapping(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open EMNIST mapping file");
  EmnistMapping m;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream fields(line);
    int label = 0, code = 0;
    if (!(fields >> label >> code))
      fail(path, ": line ", line_no, ": expected 'label ascii_code', got '", line, "'");
    if (code < 33 || code > 126) fail(path, ": line ", line_no, ": ascii code ", code, " is not a printable character");
    if (label < 0 || label > 255) fail(path, ": line ", line_no, ": label ", label, " is outside 0..255 (IDX labels are bytes)");
    if (m.names.empty()) m.first_label = label;
    const int expected = m.first_label + int(m.names.size());
    if (label != expected) fail(path, ": line ", line_no, ": label ", label, ", expected ", expected, " (labels must be consecutive)");
    m.names.emplace_back(1, char(code));
  }
  if (m.names.empty()) fail(path, ": EMNIST mapping file has no entries");
  return m;
}

void transpose_images(Dataset& d) {
  const int rows = d.rows, cols = d.cols;
  const size_t per_image = size_t(rows) * cols;
  std::vector<uint8_t> scratch(per_image);
  for (int64_t i = 0; i < d.size(); ++i) {
    uint8_t* img = d.pixels.data() + i * per_image;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) scratch[size_t(c) * rows + r] = img[size_t(r) * cols + c];
    std::copy(scratch.begin(), scratch.end(), img);
  }
  d.rows = cols;
  d.cols = rows;
}

Dataset load_emnist(const std::string& images_path, const std::string& labels_path,
                    const std::string& mapping_path) {
  const EmnistMapping mapping = read_emnist_mapping(mapping_path);
  const int num_labels = mapping.first_label + int(mapping.names.size());
  Dataset d = load_idx_dataset(images_path, labels_path, num_labels);
  for (size_t i = 0; i < d.labels.size(); ++i) {
    if (d.labels[i] < mapping.first_label)
      fail(labels_path, ": label ", d.labels[i], " at index ", i, " is not in ", mapping_path, " (labels start at ",
           mapping.first_label, ")");
    d.labels[i] -= mapping.first_label;
  }
  transpose_images(d);
  d.classes = mapping.names;
  d.framing = FramingConvention::Emnist;
  return d;
}

Dataset load_emnist_split(const std::string& dir, const std::string& split, const std::string& part) {
  const std::string stem = dir + "/emnist-" + split + "-" + part + "-";
  auto pick = [](const std::string& base) { return file_exists(base + ".gz") ? base + ".gz" : base; };
  const std::string images = pick(stem + "images-idx3-ubyte");
  const std::string labels = pick(stem + "labels-idx1-ubyte");
  return load_emnist(images, labels, dir + "/emnist-" + split + "-mapping.txt");
}

Dataset remap_emnist(const Dataset& byclass, EmnistLabelSet set) {
  const std::string source = byclass_chars();
  QUILL_CHECK(byclass.num_classes() == int(source.size()), "remap_emnist: expected the 62 ByClass classes, got ",
              byclass.num_classes());
  for (size_t k = 0; k < source.size(); ++k)
    QUILL_CHECK(byclass.classes[k] == std::string(1, source[k]), "remap_emnist: ByClass class ", k, " is '",
                byclass.classes[k], "', expected '", source[k], "'");
  const std::string target = label_set_chars(set);
  std::vector<int> new_label(source.size());
  for (size_t k = 0; k < source.size(); ++k) new_label[k] = target_label(source[k], set, target);

  std::vector<int64_t> keep;
  keep.reserve(size_t(byclass.size()));
  for (int64_t i = 0; i < byclass.size(); ++i) {
    const int32_t old = byclass.labels[i];
    QUILL_CHECK(old >= 0 && old < int32_t(source.size()), "remap_emnist: label ", old, " at index ", i,
                " is outside the 62 ByClass classes");
    if (new_label[old] >= 0) keep.push_back(i);
  }
  Dataset out = keep.size() == size_t(byclass.size()) ? byclass : select(byclass, keep);
  for (int32_t& label : out.labels) label = new_label[label];  // only kept samples: all map to a class
  out.classes = emnist_class_names(set);
  return out;
}

}  // namespace quill
