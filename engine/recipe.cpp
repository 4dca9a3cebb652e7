#include "engine/recipe.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "engine/model_lookup.h"
#include "runtime/error.h"
#include "runtime/text_file.h"

namespace quill {
namespace fs = std::filesystem;

const std::vector<std::string>& recipe_options() {
  static const std::vector<std::string> options = {"model",    "epochs",       "batch",           "optimizer",
                                                   "lr",       "weight-decay", "schedule",        "label-smoothing",
                                                   "augment",  "val-split"};
  return options;
}

Recipe parse_recipe(const std::string& text, const std::string& path) {
  Recipe recipe;
  recipe.path = path;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string option, value, extra;
    if (!(words >> option)) continue;  // blank or comment
    QUILL_CHECK(words >> value, path, ":", number, ": '", option, "' has no value (expected 'option value')");
    QUILL_CHECK(!(words >> extra), path, ":", number, ": '", option, "' takes one value, got more ('", extra, "')");
    const auto& known = recipe_options();
    if (std::find(known.begin(), known.end(), option) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      fail(path, ":", number, ": unknown recipe option '", option, "' (a recipe may set: ", list, ")");
    }
    for (const RecipeSetting& s : recipe.settings)
      QUILL_CHECK(s.option != option, path, ":", number, ": '", option, "' is already set on line ", s.line);
    recipe.settings.push_back({option, value, number});
  }
  return recipe;
}

Recipe read_recipe(const std::string& path) {
  return parse_recipe(read_text_file(path, "recipe"), path);
}

namespace {
std::string builtin_recipe_path(const std::string& name) {
  std::error_code ec;
  for (const std::string& dir : builtin_model_dirs()) {
    const fs::path p = fs::path(dir) / "recipes" / (name + ".txt");
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}
}  // namespace

std::string find_recipe(const std::string& name_or_path) {
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) return name_or_path;
  if (name_or_path.find('/') == std::string::npos && !name_or_path.empty()) {
    const std::string path = builtin_recipe_path(name_or_path);
    if (!path.empty()) return path;
  }
  fail("recipe '", name_or_path, "' not found: not a file, nor a built-in recipe in models/recipes/ ",
       "(mnist, emnist-byclass, emnist-merged, emnist-letters, emnist-digits)");
}

std::string builtin_recipe_for(const std::string& dataset_name) { return builtin_recipe_path(dataset_name); }

std::string describe(const Recipe& recipe) {
  std::string out;
  for (const RecipeSetting& s : recipe.settings) out += (out.empty() ? "" : ", ") + s.option + " " + s.value;
  return out;
}

}  // namespace quill
