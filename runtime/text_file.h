#pragma once
// Whole text files (model descriptions, recipes, JSON), read with one-line errors that name the file.
#include <string>

namespace quill {

// The file's bytes. Fails with "cannot open <what> '<path>'" or "<path>: read error".
std::string read_text_file(const std::string& path, const std::string& what);

}  // namespace quill
