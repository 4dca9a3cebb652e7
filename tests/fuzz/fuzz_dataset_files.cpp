// The dataset files the loaders read from disk (so the bytes go to a file of this process first): IDX
// images and labels, raw or gzip, and EMNIST's label mapping text.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "data/emnist.h"
#include "data/idx.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/quill-fuzz-dataset-" + std::to_string(getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  quill::fuzz::refusing_errors([&] {
    const quill::IdxImages images = quill::read_idx_images(path);
    if (images.pixels.size() != size_t(images.count) * images.rows * images.cols) __builtin_trap();
  });
  quill::fuzz::refusing_errors([&] { quill::read_idx_labels(path); });
  quill::fuzz::refusing_errors([&] {
    const quill::EmnistMapping mapping = quill::read_emnist_mapping(path);
    for (const std::string& name : mapping.names)
      if (name.size() != 1 || name[0] < 33 || name[0] > 126) __builtin_trap();
  });
  return 0;
}
