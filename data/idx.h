#pragma once
// IDX files (the MNIST/EMNIST container): big-endian header, then unsigned bytes. Reads raw or gzip
// files alike (told apart by the gzip magic bytes, not the name), streaming, and checks everything a
// damaged or mismatched file can get wrong. Every error is a quill::Error naming the file.
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace quill {

struct IdxImages {
  int64_t count = 0;
  int rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols, image by image, row by row
};

// An IDX images file (magic 0x00000803, rows and cols in 1..1024, at least one image).
IdxImages read_idx_images(const std::string& path);

// An IDX labels file (magic 0x00000801, at least one label).
std::vector<uint8_t> read_idx_labels(const std::string& path);

// Images and labels of one split, with labels checked against `num_classes` and class names
// "0".."num_classes-1" (callers with real names, e.g. EMNIST, replace them).
Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, int num_classes);

// Writers, for tests and tools; `gzip` compresses the stream.
void write_idx_images(const std::string& path, const uint8_t* pixels, int64_t count, int rows, int cols,
                      bool gzip = false);
void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels, bool gzip = false);
void write_idx_dataset(const std::string& images_path, const std::string& labels_path, const Dataset& d,
                       bool gzip = false);

}  // namespace quill
