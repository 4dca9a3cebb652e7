#include "runtime/text_file.h"

#include <fstream>
#include <sstream>

#include "runtime/error.h"

namespace quill {

std::string read_text_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  QUILL_CHECK(in, "cannot open ", what, " '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  QUILL_CHECK(!in.bad(), path, ": read error");
  return text.str();
}

}  // namespace quill
