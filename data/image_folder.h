#pragma once
// A dataset from a folder tree: root/<class name>/*.png, one sub-folder per class. Classes are the
// sub-folder names sorted (byte order), images sorted by file name, so the labels and the order are
// the same on every machine.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"

namespace quill {

// Turns a read image (luminance, 0 black) into one 28x28 MNIST-convention sample (784 bytes, ink bright).
using SampleConverter = std::function<std::vector<uint8_t>(const Image&)>;

// The default converter: the image must already be 28x28; luminance is inverted to ink-bright bytes.
std::vector<uint8_t> require_28x28_inverted(const Image& image);

// Loads every *.png (any case) under root/<class>/; other files are ignored. Errors name the file.
Dataset load_image_folder(const std::string& root, const SampleConverter& convert = require_28x28_inverted,
                          FramingConvention framing = FramingConvention::Mnist);

}  // namespace quill
