// quill read: reads a line of handwritten characters. The line is segmented (data/segment.h), each
// character preprocessed like the model's training set and classified; prints the string and each
// character's confidence. Where a wide segment may be two touching characters
// (CharacterSegment::two_part_readings), the reading the classifier is surer of wins (engine/line_reading.h).
// Given several images, prints one line per image ("PATH: TEXT"); one image that cannot be read does not
// stop the others, the exit status reports it.
// --json FILE also writes the results for programs:
//   {"model": PATH, "images": [{"path": PATH, "text": "42 a",
//                               "characters": [{"x": 10, "y": 4, "width": 30, "height": 52,
//                                               "space_before": false,
//                                               "top": [{"label": "4", "index": 4, "probability": 0.97}, ...]},
//                                              ...]},
//                              {"path": PATH, "error": MESSAGE}, ...]}
// characters left to right with their ink's box in photo pixels and up to 3 most probable classes (the
// first is the one in "text"); an image that could not be read has "error" instead.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/classifier.h"
#include "apps/commands.h"
#include "apps/json_output.h"
#include "engine/line_reading.h"
#include "data/png_io.h"
#include "data/segment.h"

namespace quill {
namespace {

struct ReadOptions {
  std::string model;
  std::vector<std::string> images;
  std::string save_input;
  std::string json;
  bool keep_stroke_width = false;
  std::string device = "auto", backend = "custom";
};

struct LineResult {
  std::string text;
  std::vector<CharacterSegment> chars;
  std::vector<std::vector<ClassScore>> top;  // per character, most probable first
};

// Reads one image; throws quill::Error on failure.
LineResult read_line(Classifier& classifier, const std::string& path, const std::string& save_input,
                     const std::string& save_prefix, bool keep_stroke_width) {
  const Image photo = read_png(path);
  SegmentOptions segment;
  segment.ink = classifier.preprocess_options();
  LineSegmentation line;
  try {
    line = segment_line(photo, segment);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  QUILL_CHECK(!line.characters.empty(), path, ": no characters found");
  LineResult r;
  PreprocessOptions character = classifier.preprocess_options(!keep_stroke_width);
  character.polarity = line.polarity;  // as found on the whole line: a lone crop may be ambiguous
  LineSamples samples = line_samples(std::move(line), character);
  const std::vector<std::vector<double>> probabilities = classifier.probabilities(samples.samples);
  std::vector<ReadCharacter> read = read_characters(std::move(samples), probabilities, classifier.record().classes);
  for (size_t i = 0; i < read.size(); ++i) {
    r.top.push_back(classifier.top(read[i].probabilities, 3));
    r.text += (read[i].segment.space_before ? " " : "") + r.top.back()[0].name;
    if (!save_input.empty())
      write_png((std::filesystem::path(save_input) / (save_prefix + "char" + std::to_string(i + 1) + ".png")).string(),
                sample_to_image(read[i].sample.data()));
    r.chars.push_back(std::move(read[i].segment));
  }
  return r;
}

nlohmann::json line_json(const std::string& path, const LineResult& r) {
  nlohmann::json chars = nlohmann::json::array();
  for (size_t i = 0; i < r.chars.size(); ++i) {
    const Box& b = r.chars[i].box;
    chars.push_back({{"x", b.x},
                     {"y", b.y},
                     {"width", b.width},
                     {"height", b.height},
                     {"space_before", r.chars[i].space_before},
                     {"top", scores_to_json(r.top[i])}});
  }
  return {{"path", path}, {"text", r.text}, {"characters", chars}};
}

int run_read(const ReadOptions& o) {
  if (!o.json.empty()) check_output_file(o.json, "--json");
  Classifier classifier(o.model, choose_placement(o.device, o.backend));
  if (!o.save_input.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.save_input, ec);
    QUILL_CHECK(!ec, "cannot create folder '", o.save_input, "': ", ec.message());
  }
  const bool single = o.images.size() == 1;
  nlohmann::json results = nlohmann::json::array();
  int failures = 0;
  for (const std::string& path : o.images) {
    // Several images: each one's characters are saved as STEM-charN.png, so they don't overwrite each other.
    const std::string prefix = single ? "" : std::filesystem::path(path).stem().string() + "-";
    try {
      const LineResult r = read_line(classifier, path, o.save_input, prefix, o.keep_stroke_width);
      if (single) {
        std::printf("%s\n", r.text.c_str());
        for (size_t i = 0; i < r.chars.size(); ++i)
          std::printf("  %2zu  %-4s %5.1f%%   (x %d..%d)\n", i + 1, r.top[i][0].name.c_str(),
                      100 * r.top[i][0].probability, r.chars[i].box.x, r.chars[i].box.x_end() - 1);
      } else {
        std::printf("%s: %s\n", path.c_str(), r.text.c_str());
      }
      std::fflush(stdout);
      results.push_back(line_json(path, r));
    } catch (const Error& e) {
      if (single && o.json.empty()) throw;  // as before: main prints it
      ++failures;
      results.push_back(report_image_error(path, e.what()));
    }
  }
  if (!o.json.empty()) write_json_file(o.json, {{"model", o.model}, {"images", results}});
  return failures ? 1 : 0;
}

}  // namespace

Command add_read_command(CLI::App& quill) {
  auto o = std::make_shared<ReadOptions>();
  CLI::App* cmd = quill.add_subcommand("read", "Read a line of handwritten characters from an image");
  cmd->add_option("--model", o->model, "Model file (.quill)")->required();
  cmd->add_option("images", o->images,
                  "PNG images, each one line of characters (several: one line of output per image)")
      ->required();
  cmd->add_option("--save-input", o->save_input,
                  "Also write each 28x28 character the network saw into folder DIR (several images: STEM-charN.png)");
  cmd->add_option("--json", o->json,
                  "Also write the results as JSON to FILE (text, characters with boxes and classes, per image)");
  cmd->add_flag("--keep-stroke-width", o->keep_stroke_width,
                "Do not thicken or thin strokes outside the training set's range of widths");
  add_device_options(cmd, o->device, o->backend);
  return {cmd, [o](const std::string&) { return run_read(*o); }};
}

}  // namespace quill
