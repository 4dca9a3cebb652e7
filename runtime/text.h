#pragma once
// Small string helpers shared by the data loaders and the apps.
#include <cctype>
#include <string>

namespace quill {

// ASCII lower case. Class names, file extensions and option values are ASCII; the cast keeps
// std::tolower defined for bytes above 127.
inline std::string lowercase(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace quill
