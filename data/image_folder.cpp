#include "data/image_folder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "data/png_io.h"
#include "runtime/error.h"
#include "runtime/text.h"

namespace quill {

namespace fs = std::filesystem;

namespace {

constexpr int kSide = 28;

bool is_png_name(const fs::path& p) {
  return lowercase(p.extension().string()) == ".png";
}

// Sorted entries of `dir` that pass `keep`.
template <class Keep>
std::vector<fs::path> sorted_entries(const fs::path& dir, Keep keep) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) fail(dir.string(), ": cannot list folder: ", ec.message());
  std::vector<fs::path> out;
  for (const fs::directory_entry& e : it)
    if (keep(e)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<uint8_t> require_28x28_inverted(const Image& image) {
  QUILL_CHECK(image.width == kSide && image.height == kSide, "image is ", image.width, "x", image.height,
              ", expected 28x28 (resize it, or pass a converter that does)");
  std::vector<uint8_t> sample(size_t(kSide) * kSide);
  for (size_t i = 0; i < sample.size(); ++i)
    sample[i] = uint8_t(std::lround((1.0f - std::clamp(image.pixels[i], 0.0f, 1.0f)) * 255.0f));
  return sample;
}

Dataset load_image_folder(const std::string& root, const SampleConverter& convert, FramingConvention framing) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) fail(root, ": not a folder (expected root/<class name>/*.png)");
  const std::vector<fs::path> class_dirs =
      sorted_entries(root, [](const fs::directory_entry& e) { return e.is_directory(); });
  if (class_dirs.empty()) fail(root, ": has no class sub-folders (expected root/<class name>/*.png)");

  Dataset d;
  d.rows = kSide;
  d.cols = kSide;
  d.framing = framing;
  for (const fs::path& class_dir : class_dirs) {
    const int32_t label = int32_t(d.classes.size());
    d.classes.push_back(class_dir.filename().string());
    const std::vector<fs::path> files = sorted_entries(
        class_dir, [](const fs::directory_entry& e) { return e.is_regular_file() && is_png_name(e.path()); });
    for (const fs::path& file : files) {
      std::vector<uint8_t> sample;
      try {
        const Image image = read_png(file.string());
        sample = convert(image);
      } catch (const Error& e) {
        const std::string msg = e.what();
        if (msg.compare(0, file.string().size(), file.string()) == 0) throw;  // already names the file
        fail(file.string(), ": ", msg);
      }
      if (sample.size() != size_t(kSide) * kSide)
        fail(file.string(), ": converter returned ", sample.size(), " bytes, expected 784 (28x28)");
      d.pixels.insert(d.pixels.end(), sample.begin(), sample.end());
      d.labels.push_back(label);
    }
  }
  if (d.labels.empty()) fail(root, ": no PNG images in any class folder");
  return d;
}

}  // namespace quill
