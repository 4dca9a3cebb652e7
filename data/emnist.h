#pragma once
// EMNIST (Cohen et al. 2017): IDX files whose images are stored transposed, mapping files that name the
// classes, and the merged label sets derived from ByClass's 62 classes (0-9, A-Z, a-z).
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace quill {

enum class EmnistLabelSet {
  ByClass,  // 62 classes: 0-9, A-Z, a-z
  Merged,   // 47 classes (ByMerge/Balanced): lowercase c i j k l m o p s u v w x y z merged into uppercase
  Letters,  // 26 classes A-Z, case merged, digits dropped
  Digits,   // 10 classes 0-9, letters dropped
};

// "byclass", "merged" (also "bymerge", "balanced"), "letters" or "digits".
EmnistLabelSet parse_label_set(const std::string& name);
const char* label_set_name(EmnistLabelSet set);

// A mapping file (`label ascii_code [ascii_code...]` per line, labels consecutive): class names by label,
// named by their first character. `first_label` is 1 for the Letters file, 0 for the others.
struct EmnistMapping {
  int first_label = 0;
  std::vector<std::string> names;
};
EmnistMapping read_emnist_mapping(const std::string& path);

// Loads an EMNIST split from its IDX files and mapping file: images transposed upright, labels shifted
// to start at 0, class names from the mapping, framing Emnist.
Dataset load_emnist(const std::string& images_path, const std::string& labels_path,
                    const std::string& mapping_path);

// Loads dir/emnist-<split>-<part>-{images-idx3,labels-idx1}-ubyte[.gz] with dir/emnist-<split>-mapping.txt,
// e.g. load_emnist_split("data/emnist", "byclass", "test").
Dataset load_emnist_split(const std::string& dir, const std::string& split, const std::string& part);

// Swaps rows and columns of every image in place (EMNIST files store characters transposed).
void transpose_images(Dataset& d);

// The ByClass dataset relabelled to `set` (samples of dropped classes removed, order kept).
Dataset remap_emnist(const Dataset& byclass, EmnistLabelSet set);

// The class names of `set`, by label.
std::vector<std::string> emnist_class_names(EmnistLabelSet set);

}  // namespace quill
