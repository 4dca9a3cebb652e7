// quill predict: classifies photos or scans of single handwritten characters with a saved model.
// --json FILE also writes the results for programs:
//   {"model": PATH, "images": [{"path": PATH, "top": [{"label": "7", "index": 7, "probability": 0.98}, ...]},
//                              {"path": PATH, "error": MESSAGE}, ...]}
// one entry per image in the order given, top-k most probable first; an image that could not be read or
// preprocessed has "error" instead of "top".
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/classifier.h"
#include "apps/commands.h"
#include "apps/json_output.h"
#include "data/png_io.h"
#include "data/preprocess.h"

namespace quill {
namespace {

struct PredictOptions {
  std::string model;
  std::vector<std::string> images;
  int top_k = 3;
  std::string save_input;
  bool raw = false;
  bool keep_stroke_width = false;
  std::string json;
  std::string device = "auto", backend = "custom";
};

std::string saved_input_path(const std::string& dir, const std::string& image) {
  return (std::filesystem::path(dir) / (std::filesystem::path(image).stem().string() + ".input.png")).string();
}

int run_predict(const PredictOptions& o) {
  if (!o.json.empty()) check_output_file(o.json, "--json");
  Classifier classifier(o.model, choose_placement(o.device, o.backend));
  if (!o.save_input.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.save_input, ec);
    QUILL_CHECK(!ec, "cannot create folder '", o.save_input, "': ", ec.message());
  }
  const PreprocessOptions preprocess = classifier.preprocess_options(!o.keep_stroke_width);
  int failures = 0;
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& path : o.images) {
    // One unreadable image does not stop the others; the exit status reports it.
    try {
      const Image image = read_png(path);
      const std::vector<uint8_t> sample =
          o.raw ? raw_sample(image, path) : preprocess_character(image, preprocess);
      if (!o.save_input.empty()) write_png(saved_input_path(o.save_input, path), sample_to_image(sample.data()));
      const std::vector<double> p = classifier.probabilities({sample})[0];
      const std::vector<ClassScore> top = classifier.top(p, o.top_k);
      std::printf("%s:", path.c_str());
      for (const ClassScore& s : top) std::printf("  %s %.1f%%", s.name.c_str(), 100 * s.probability);
      std::printf("\n");
      std::fflush(stdout);
      results.push_back({{"path", path}, {"top", scores_to_json(top)}});
    } catch (const Error& e) {
      ++failures;
      results.push_back(report_image_error(path, e.what()));
    }
  }
  if (!o.json.empty()) write_json_file(o.json, {{"model", o.model}, {"images", results}});
  return failures ? 1 : 0;
}

}  // namespace

Command add_predict_command(CLI::App& quill) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = quill.add_subcommand("predict", "Classify images of single characters");
  cmd->add_option("--model", o->model, "Model file (.quill)")->required();
  cmd->add_option("images", o->images, "PNG images, each one character")->required();
  cmd->add_option("--top-k", o->top_k, "How many classes to show per image")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--save-input", o->save_input, "Also write the 28x28 image the network saw into folder DIR");
  cmd->add_flag("--raw", o->raw, "Skip preprocessing: the images are 28x28 dataset-style samples");
  cmd->add_flag("--keep-stroke-width", o->keep_stroke_width,
                "Do not thicken or thin strokes outside the training set's range of widths");
  cmd->add_option("--json", o->json, "Also write the results as JSON to FILE (path and top-k classes per image)");
  add_device_options(cmd, o->device, o->backend);
  return {cmd, [o](const std::string&) { return run_predict(*o); }};
}

}  // namespace quill
