#include "engine/model_lookup.h"

#include <filesystem>

#include "runtime/error.h"

#ifndef QUILL_SOURCE_DIR
#define QUILL_SOURCE_DIR ""
#endif

namespace quill {
namespace fs = std::filesystem;

std::vector<std::string> builtin_model_dirs() {
  std::vector<fs::path> candidates;
  if (*QUILL_SOURCE_DIR) candidates.push_back(fs::path(QUILL_SOURCE_DIR) / "models");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path bin = exe.parent_path();
    candidates.push_back(bin / "models");
    candidates.push_back(bin.parent_path() / "models");
    candidates.push_back(bin.parent_path() / "share" / "quill" / "models");
  }
  std::vector<std::string> out;
  for (const fs::path& p : candidates)
    if (fs::is_directory(p, ec)) out.push_back(p.lexically_normal().string());
  return out;
}

std::string find_model_description(const std::string& name_or_path) {
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) return name_or_path;
  const bool plain_name = name_or_path.find('/') == std::string::npos && !name_or_path.empty();
  std::string searched;
  if (plain_name) {
    const std::string file = fs::path(name_or_path).has_extension() ? name_or_path : name_or_path + ".txt";
    for (const std::string& dir : builtin_model_dirs()) {
      const fs::path p = fs::path(dir) / file;
      if (fs::is_regular_file(p, ec)) return p.string();
      searched += (searched.empty() ? "" : ", ") + dir;
    }
  }
  fail("model description '", name_or_path, "' not found: not a file",
       plain_name ? ", nor a built-in model (cnn, small) in " + (searched.empty() ? std::string("no models/ folder") : searched)
                  : std::string());
}

}  // namespace quill
