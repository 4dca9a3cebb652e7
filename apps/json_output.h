#pragma once
// Machine-readable results of `quill predict` and `quill read` (--json FILE).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/classifier.h"

namespace quill {

// Fails with a one-line quill::Error unless `path` can be written: its folder exists and takes a new file,
// and it is not itself a folder. Checked before any work, so a mistyped path does not cost a whole run.
void check_output_file(const std::string& path, const std::string& option);

// Writes `j` indented, with a final newline, atomically (engine/atomic_file.h).
void write_json_file(const std::string& path, const nlohmann::json& j);

// [{"label": name, "index": class index, "probability": p}, ...], most probable first: the form
// `quill serve` answers with too.
nlohmann::json scores_to_json(const std::vector<ClassScore>& scores);

// One image of several could not be used: prints its one-line error on stderr (naming the file unless the
// message already does, as file errors do) and returns the {"path", "error"} entry that records it.
nlohmann::json report_image_error(const std::string& path, const std::string& message);

}  // namespace quill
