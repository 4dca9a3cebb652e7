// quill read: reads handwriting: a word, a line or a page. The page's lines are found (data/page_layout.h),
// each line segmented into characters (data/segment.h), every character preprocessed like the model's
// training set and classified, then each line's context, the charset and the lexicon applied
// (engine/page_reading.h). Prints the text with its line breaks and word spaces (one line: also each
// character's confidence). Given several images, prints "PATH: TEXT" per image; one image that cannot be
// read does not stop the others, the exit status reports it.
// --json FILE also writes the results for programs:
//   {"model": PATH, "images": [{"path": PATH, "text": "First line\nsecond 42", "seconds": 0.21, "skew_degrees": 1.5,
//      "lines": [{"x", "y", "width", "height", "text", "confidence",
//                 "words": [{"x", "y", "width", "height", "text", "confidence", "first", "count",
//                            "lexicon": "match"|"raw", "raw": TEXT}]}],   (lexicon and raw with --lexicon)
//      "characters": [{"x": 10, "y": 4, "width": 30, "height": 52, "line": 0, "text": "4", "confidence": 0.97,
//                      "space_before": false,
//                      "top": [{"label": "4", "index": 4, "probability": 0.97}, ...]}, ...]},
//     {"path": PATH, "error": MESSAGE}, ...]}
// boxes in photo pixels; a word's characters are characters[first .. first + count) of its line; the
// characters list all lines' characters in reading order with up to 3 most probable classes (after
// context and charset; the first is the one read). An image that could not be read has "error" instead.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/classifier.h"
#include "apps/commands.h"
#include "apps/json_output.h"
#include "engine/charset.h"
#include "engine/lexicon.h"
#include "engine/page_reading.h"
#include "data/png_io.h"
#include "data/page_layout.h"

namespace quill {
namespace {

struct ReadOptions {
  std::string model;
  std::vector<std::string> images;
  std::string save_input;
  std::string json;
  std::string charset;
  std::string lexicon;
  std::string context = "on";
  bool keep_stroke_width = false;
  std::string device = "auto", backend = "custom";
};

struct ImageResult {
  PageReading page;
  double seconds = 0;
};

// Reads one image; throws quill::Error on failure.
ImageResult read_image(Classifier& classifier, const Lexicon* lexicon, const ReadOptions& o, const std::string& path,
                       const std::string& save_prefix) {
  const auto t0 = std::chrono::steady_clock::now();
  const Image photo = read_png(path, kMaxPageSide);
  PageReadOptions options;
  options.ink = classifier.preprocess_options();
  options.character = classifier.preprocess_options(!o.keep_stroke_width);
  options.charset = o.charset;
  options.context.size = options.context.neighbours = o.context == "on";
  options.lexicon = lexicon;
  ImageResult r;
  try {
    r.page = read_page(
        photo, [&](const std::vector<std::vector<uint8_t>>& samples) { return classifier.probabilities(samples); },
        classifier.record().classes, options);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.save_input.empty()) {
    int n = 0;
    for (const PageLine& line : r.page.lines)
      for (const PageCharacter& c : line.characters)
        write_png((std::filesystem::path(o.save_input) / (save_prefix + "char" + std::to_string(++n) + ".png")).string(),
                  sample_to_image(c.sample.data()));
  }
  return r;
}

nlohmann::json box_json(const Box& b) { return {{"x", b.x}, {"y", b.y}, {"width", b.width}, {"height", b.height}}; }

const char* lexicon_name(LexiconUse use) { return use == LexiconUse::Matched ? "match" : "raw"; }

nlohmann::json image_json(const std::string& path, const ImageResult& r, const Classifier& classifier) {
  nlohmann::json lines = nlohmann::json::array(), chars = nlohmann::json::array();
  for (size_t l = 0; l < r.page.lines.size(); ++l) {
    const PageLine& line = r.page.lines[l];
    nlohmann::json words = nlohmann::json::array();
    for (const PageWord& w : line.words) {
      nlohmann::json word = box_json(w.box);
      word["text"] = w.text;
      word["confidence"] = w.confidence;
      word["first"] = w.first;
      word["count"] = w.count;
      if (w.lexicon != LexiconUse::None) word["lexicon"] = lexicon_name(w.lexicon), word["raw"] = w.raw;
      words.push_back(word);
    }
    nlohmann::json line_json = box_json(line.box);
    line_json["text"] = line.text;
    line_json["confidence"] = line.confidence;
    line_json["words"] = words;
    lines.push_back(line_json);
    for (const PageWord& w : line.words)
      for (size_t i = w.first; i < w.first + w.count; ++i) {
        nlohmann::json c = box_json(line.characters[i].box);
        c["line"] = l;
        c["text"] = line.characters[i].text;
        c["confidence"] = line.characters[i].confidence;
        c["space_before"] = i == w.first && w.first > 0;  // a word space within the line
        c["top"] = scores_to_json(classifier.top(line.characters[i].probabilities, 3));
        chars.push_back(c);
      }
  }
  return {{"path", path}, {"text", r.page.text()}, {"seconds", r.seconds}, {"skew_degrees", r.page.skew_degrees},
          {"lines", lines}, {"characters", chars}};
}

// One image's result on the terminal: the text, then for one line each character, for a page a summary.
void print_single(const ImageResult& r, bool with_lexicon) {
  std::printf("%s\n", r.page.text().c_str());
  if (r.page.lines.size() == 1) {
    const PageLine& line = r.page.lines[0];
    for (size_t i = 0; i < line.characters.size(); ++i)
      std::printf("  %2zu  %-4s %5.1f%%   (x %d..%d)\n", i + 1, line.characters[i].text.c_str(),
                  100 * line.characters[i].confidence, line.characters[i].box.x, line.characters[i].box.x_end() - 1);
  } else {
    size_t words = 0, chars = 0;
    for (const PageLine& line : r.page.lines) words += line.words.size(), chars += line.characters.size();
    std::printf("  (%zu lines, %zu words, %zu characters; skew %.1f degrees; %.2f s)\n", r.page.lines.size(), words,
                chars, r.page.skew_degrees, r.seconds);
  }
  if (!with_lexicon) return;
  std::string raw;
  size_t matched = 0, changed = 0;
  for (const PageLine& line : r.page.lines)
    for (const PageWord& w : line.words) {
      if (w.lexicon == LexiconUse::Raw) raw += (raw.empty() ? "" : ", ") + w.text;
      if (w.lexicon == LexiconUse::Matched) ++matched, changed += w.text != w.raw;
    }
  std::printf("  lexicon: %zu words matched (%zu changed from the raw reading)%s%s\n", matched, changed,
              raw.empty() ? "" : "; nothing close, read as written: ", raw.c_str());
}

int run_read(const ReadOptions& o) {
  if (!o.json.empty()) check_output_file(o.json, "--json");
  std::unique_ptr<Lexicon> lexicon;
  if (!o.lexicon.empty()) lexicon = std::make_unique<Lexicon>(Lexicon::load(o.lexicon));
  Classifier classifier(o.model, choose_placement(o.device, o.backend));
  if (!o.charset.empty()) charset_mask(o.charset, classifier.record().classes);  // a bad charset fails before any image
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
      const ImageResult r = read_image(classifier, lexicon.get(), o, path, prefix);
      if (single) {
        print_single(r, lexicon != nullptr);
      } else {
        std::string text = r.page.text();
        for (size_t i = 0; (i = text.find('\n', i)) != std::string::npos;) text.replace(i, 1, " / "), i += 3;
        std::printf("%s: %s\n", path.c_str(), text.c_str());
      }
      std::fflush(stdout);
      results.push_back(image_json(path, r, classifier));
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
  CLI::App* cmd = quill.add_subcommand("read", "Read handwriting from an image: a word, a line or a page");
  cmd->add_option("--model", o->model, "Model file (.quill)")->required();
  cmd->add_option("images", o->images,
                  "PNG images: a word, a line or a page each (several: one line of output per image)")
      ->required();
  cmd->add_option("--save-input", o->save_input,
                  "Also write each 28x28 character the network saw into folder DIR (several images: STEM-charN.png)");
  cmd->add_option("--json", o->json,
                  "Also write the results as JSON to FILE (text, characters with boxes and classes, per image)");
  cmd->add_option("--charset", o->charset,
                  "Read only these classes: digits, letters, upper, lower, alnum, or the characters allowed (e.g. 0123456789ABCDEF)");
  cmd->add_option("--lexicon", o->lexicon,
                  "Word list, one word a line: each word read becomes the listed word (lower case, Capitalised or CAPITALS) that best fits its characters, when one is close; numbers and words with nothing close stay as read");
  cmd->add_option("--context", o->context,
                  "on: weigh each character by its size and place in the line and by its neighbours (o from O/0, c from C, letters among letters); off: each character as it reads alone")
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_flag("--keep-stroke-width", o->keep_stroke_width,
                "Do not thicken or thin strokes outside the training set's range of widths");
  add_device_options(cmd, o->device, o->backend);
  return {cmd, [o](const std::string&) { return run_read(*o); }};
}

}  // namespace quill
