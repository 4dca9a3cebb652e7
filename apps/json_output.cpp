#include "apps/json_output.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "engine/atomic_file.h"
#include "runtime/error.h"

namespace quill {

void check_output_file(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  QUILL_CHECK(!path.empty(), option, ": empty file name");
  std::error_code ec;
  QUILL_CHECK(!fs::is_directory(path, ec), option, ": '", path, "' is a folder, expected a file name");
  const fs::path parent = fs::path(path).parent_path();
  QUILL_CHECK(parent.empty() || fs::is_directory(parent, ec), option, ": cannot write '", path, "': folder '",
              parent.string(), "' does not exist");
  // The same temporary file write_file_atomically uses: proves the folder takes a new file.
  const std::string probe = path + ".tmp";
  FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) fail(option, ": cannot write '", path, "': ", std::strerror(errno));
  std::fclose(f);
  std::remove(probe.c_str());
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  // Paths from the command line need not be UTF-8: such bytes are replaced rather than failing the run.
  const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  write_file_atomically(path, std::vector<uint8_t>(text.begin(), text.end()));
}

nlohmann::json scores_to_json(const std::vector<ClassScore>& scores) {
  nlohmann::json out = nlohmann::json::array();
  for (const ClassScore& s : scores)
    out.push_back({{"label", s.name}, {"index", s.label}, {"probability", s.probability}});
  return out;
}

nlohmann::json report_image_error(const std::string& path, const std::string& message) {
  const bool names_file = message.find(path) != std::string::npos;
  std::cerr << "quill: error: " << (names_file ? "" : path + ": ") << message << "\n";
  return {{"path", path}, {"error", message}};
}

}  // namespace quill
