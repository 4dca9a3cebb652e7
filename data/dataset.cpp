#include "data/dataset.h"

#include <cstring>

#include "runtime/error.h"

namespace quill {

namespace {
Dataset empty_like(const Dataset& d) {
  Dataset out;
  out.rows = d.rows;
  out.cols = d.cols;
  out.classes = d.classes;
  out.framing = d.framing;
  return out;
}
}  // namespace

Dataset subset(const Dataset& d, int64_t begin, int64_t end) {
  QUILL_CHECK(0 <= begin && begin <= end && end <= d.size(), "dataset subset [", begin, ", ", end,
              ") is outside the dataset's ", d.size(), " samples");
  Dataset out = empty_like(d);
  const int64_t pixels_per_image = int64_t(d.rows) * d.cols;
  out.pixels.assign(d.pixels.begin() + begin * pixels_per_image, d.pixels.begin() + end * pixels_per_image);
  out.labels.assign(d.labels.begin() + begin, d.labels.begin() + end);
  return out;
}

Dataset select(const Dataset& d, const std::vector<int64_t>& indices) {
  Dataset out = empty_like(d);
  const size_t pixels_per_image = size_t(d.rows) * d.cols;
  out.pixels.resize(indices.size() * pixels_per_image);
  out.labels.resize(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    QUILL_CHECK(0 <= i && i < d.size(), "dataset select: index ", i, " is outside the dataset's ", d.size(),
                " samples");
    std::memcpy(out.pixels.data() + k * pixels_per_image, d.image(i), pixels_per_image);
    out.labels[k] = d.labels[i];
  }
  return out;
}

Dataset classes_in_turn(const Dataset& d) {
  std::vector<std::vector<int64_t>> by_class(d.classes.size());
  for (int64_t i = 0; i < d.size(); ++i) by_class[size_t(d.labels[size_t(i)])].push_back(i);
  std::vector<int64_t> order;
  order.reserve(size_t(d.size()));
  for (size_t rank = 0; order.size() < size_t(d.size()); ++rank)
    for (const std::vector<int64_t>& members : by_class)
      if (rank < members.size()) order.push_back(members[rank]);
  return select(d, order);
}

std::vector<int64_t> class_counts(const Dataset& d) {
  std::vector<int64_t> counts(d.classes.size(), 0);
  for (int32_t label : d.labels) {
    QUILL_CHECK(0 <= label && label < d.num_classes(), "dataset label ", label, " is outside its ",
                d.num_classes(), " classes");
    ++counts[label];
  }
  return counts;
}

}  // namespace quill
