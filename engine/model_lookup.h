#pragma once
// Finds a model description given on the command line: a file path, or a built-in name ("cnn", "small")
// looked up in the source tree's models/ folder and next to the installed binary.
#include <string>
#include <vector>

namespace quill {

// The path of the description file for `name_or_path`; throws with the places searched.
std::string find_model_description(const std::string& name_or_path);

// Folders searched for built-in models, in order (those that exist).
std::vector<std::string> builtin_model_dirs();

}  // namespace quill
