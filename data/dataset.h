#pragma once
// A labelled set of small grayscale images in the MNIST convention: uint8, 0 = background, 255 = ink,
// stored upright (EMNIST's transposed files are fixed on load).
#include <cstdint>
#include <string>
#include <vector>

namespace quill {

// How a character image was framed when the training set was made; preprocessing of user images
// reproduces it (data/preprocess.h) and model files store it.
enum class FramingConvention {
  Mnist,   // aspect-preserving fit into 20x20, centre of mass at the centre of 28x28
  Emnist,  // centred square with a 2-pixel border, resized to 28x28
};

struct Dataset {
  int rows = 28, cols = 28;
  std::vector<uint8_t> pixels;      // size() * rows * cols
  std::vector<int32_t> labels;      // in [0, classes.size())
  std::vector<std::string> classes; // class names by label, e.g. "0".."9" or "A"
  FramingConvention framing = FramingConvention::Mnist;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int num_classes() const { return static_cast<int>(classes.size()); }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * rows * cols; }
};

// Samples [begin, end) of `d`, in order, with the same classes and framing (e.g. the EMNIST
// reference protocol: subset(byclass, 0, 93000) trains, subset(byclass, 93000, 116323) tests).
Dataset subset(const Dataset& d, int64_t begin, int64_t end);

// The samples of `d` at `indices`, in that order (indices may repeat).
Dataset select(const Dataset& d, const std::vector<int64_t>& indices);

// The samples of `d` with the classes taking turns: the first of each class, then the second of each, ...
// (each class's samples keep their order). For sources stored class by class (image folders, the npm
// digits), so that the first n samples (--train-limit) have every class, not the first few.
Dataset classes_in_turn(const Dataset& d);

// How many samples each class has, by label.
std::vector<int64_t> class_counts(const Dataset& d);

}  // namespace quill
