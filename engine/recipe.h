#pragma once
// Training recipes: the settings that reproduce a published result, shipped beside the model
// descriptions (models/recipes/<dataset>.txt) and applied by `quill train` as defaults for that dataset.
//
// A recipe is a text file of `option value` lines naming `quill train` options without the dashes
// (`epochs 15`, `augment affine`, `label-smoothing 0.1`, `model cnn`); `#` starts a comment. Options
// given on the command line win over the recipe.
#include <string>
#include <utility>
#include <vector>

namespace quill {

struct RecipeSetting {
  std::string option;  // without dashes: "epochs"
  std::string value;
  int line = 0;        // in the recipe file, for error messages
};

struct Recipe {
  std::string path;  // "" when no recipe applies
  std::vector<RecipeSetting> settings;
};

// The options a recipe may set: those that define how a model is trained, not where or under which seed.
const std::vector<std::string>& recipe_options();

// Parses recipe text; `path` names it in errors ("path:line: ..."). Unknown or repeated options fail.
Recipe parse_recipe(const std::string& text, const std::string& path);

// Reads and parses a recipe file.
Recipe read_recipe(const std::string& path);

// The recipe for `name_or_path`: an existing file, or a built-in name looked up in models/recipes/.
// Throws when neither exists.
std::string find_recipe(const std::string& name_or_path);

// The built-in recipe of a dataset ("mnist", "emnist-letters", ...), or "" when it has none.
std::string builtin_recipe_for(const std::string& dataset_name);

// "epochs 15, augment affine, ..." for the log.
std::string describe(const Recipe& recipe);

}  // namespace quill
