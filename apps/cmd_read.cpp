// quill read: reads a line of handwritten characters. The line is segmented (data/segment.h), each
// character preprocessed like the model's training set and classified; prints the string and each
// character's confidence.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/classifier.h"
#include "apps/commands.h"
#include "data/png_io.h"
#include "data/segment.h"

namespace quill {
namespace {

struct ReadOptions {
  std::string model, image;
  std::string save_input;
  std::string device = "auto", backend = "custom";
};

int run_read(const ReadOptions& o) {
  Classifier classifier(o.model, choose_placement(o.device, o.backend));
  const Image photo = read_png(o.image);
  SegmentOptions segment;
  segment.ink = classifier.preprocess_options();
  LineSegmentation line;
  try {
    line = segment_line(photo, segment);
  } catch (const Error& e) {
    fail(o.image, ": ", e.what());
  }
  const std::vector<CharacterSegment>& chars = line.characters;
  QUILL_CHECK(!chars.empty(), o.image, ": no characters found");
  PreprocessOptions character = classifier.preprocess_options();
  character.polarity = line.polarity;  // as found on the whole line: a lone crop may be ambiguous
  std::vector<std::vector<uint8_t>> samples;
  for (const CharacterSegment& c : chars) samples.push_back(preprocess_character(c.crop, character));
  if (!o.save_input.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.save_input, ec);
    QUILL_CHECK(!ec, "cannot create folder '", o.save_input, "': ", ec.message());
    for (size_t i = 0; i < samples.size(); ++i)
      write_png((std::filesystem::path(o.save_input) / ("char" + std::to_string(i + 1) + ".png")).string(),
                sample_to_image(samples[i].data()));
  }
  const std::vector<std::vector<double>> probs = classifier.probabilities(samples);
  std::string text;
  std::vector<ClassScore> best;
  for (size_t i = 0; i < chars.size(); ++i) {
    best.push_back(classifier.top(probs[i], 1)[0]);
    text += (chars[i].space_before ? " " : "") + best.back().name;
  }
  std::printf("%s\n", text.c_str());
  for (size_t i = 0; i < chars.size(); ++i)
    std::printf("  %2zu  %-4s %5.1f%%   (x %d..%d)\n", i + 1, best[i].name.c_str(), 100 * best[i].probability,
                chars[i].box.x, chars[i].box.x_end() - 1);
  return 0;
}

}  // namespace

Command add_read_command(CLI::App& quill) {
  auto o = std::make_shared<ReadOptions>();
  CLI::App* cmd = quill.add_subcommand("read", "Read a line of handwritten characters from an image");
  cmd->add_option("--model", o->model, "Model file (.quill)")->required();
  cmd->add_option("image", o->image, "PNG image of one line of characters")->required();
  cmd->add_option("--save-input", o->save_input, "Also write each 28x28 character the network saw into folder DIR");
  add_device_options(cmd, o->device, o->backend);
  return {cmd, [o](const std::string&) { return run_read(*o); }};
}

}  // namespace quill
