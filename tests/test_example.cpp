// The library's example program (examples/train_and_classify.cpp), built against quill_engine alone, run
// as a user would run it: it trains, tests, saves, reloads and classifies a photo-like PNG.
#include <doctest/doctest.h>

#include <regex>
#include <string>

#include "engine/model_file.h"
#include "tests/child_process.h"
#include "tests/real_data.h"
#include "tests/temp_files.h"

using namespace quill;

TEST_CASE("example: a program over the library alone trains, saves and classifies a photo") {
  const test::TrainData data = test::real_digits_train_data_or_skip();
  if (data.empty()) return;
  test_files::TempDir dir("example");
  const test::CommandResult r = test::run_command("timeout 600 '" QUILL_EXAMPLE_BINARY "' '" + data.data_dir +
                                                  "' '" + dir.path().string() + "'");
  INFO("output:\n", r.out);
  REQUIRE(r.status == 0);
  // 10 epochs over 600 digits: 85.4% on the 500 test digits here, far above chance (10%).
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex(R"(test accuracy: ([0-9.]+)%)")));
  CHECK(std::stod(m[1]) > 75.0);
  // The saved file is a model of the small network with MNIST's ten classes.
  const ModelRecord record = load_model_file(dir.file("small.quill"));
  CHECK(record.classes.size() == 10);
  // The photo of the first test digit is read as the digit it is.
  REQUIRE(std::regex_search(r.out, m, std::regex(R"(digit\.png:  (\S+) [0-9.]+%.*\(written as (\S+)\))")));
  CHECK(m[1] == m[2]);
}
