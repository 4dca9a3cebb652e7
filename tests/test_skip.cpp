// A test case that cannot run here is reported as skipped, never as passed (tests/skip.h): the runner's exit
// status and skip lines, ctest's SKIP_RETURN_CODE on every case it runs, and scripts/test-summary.sh's count.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/child_process.h"
#include "tests/skip.h"
#include "tests/temp_files.h"

namespace fs = std::filesystem;

using quill::test::CommandResult;
using quill::test::run_command;
using quill::test::run_test_cases;

// Fixtures for the cases below: doctest::skip() keeps them out of ordinary runs and of ctest's list.
TEST_CASE("test runner fixture: skips" * doctest::skip()) { quill::test::skip_test_case("the fixture's reason"); }
TEST_CASE("test runner fixture: passes" * doctest::skip()) { CHECK(true); }
TEST_CASE("test runner fixture: skips and then fails" * doctest::skip()) {
  quill::test::skip_test_case("the fixture's reason");
  CHECK(false);
}
TEST_CASE("test runner fixture: leaves a part out" * doctest::skip()) {
  quill::test::skip_part("its GPU part", "the fixture's reason");
  CHECK(true);
}

TEST_CASE("test runner: a run of skipped cases exits 77 and says why, and a case that ran decides otherwise") {
  const std::string said = "quill_tests: skipped 1 test case: the fixture's reason\n";
  CommandResult r = run_test_cases("test runner fixture: skips");
  CHECK(r.status == quill::test::kSkipExitCode);
  CHECK(r.out.find(said) != std::string::npos);

  r = run_test_cases("test runner fixture: skips,test runner fixture: passes");
  CHECK(r.status == 0);  // one case ran and passed
  CHECK(r.out.find(said) != std::string::npos);

  r = run_test_cases("test runner fixture: skips and then fails");
  CHECK(r.status == 1);  // a failure is a failure, even after a skip
  CHECK(r.out.find("quill_tests: skipped") == std::string::npos);

  r = run_test_cases("test runner fixture: leaves a part out");
  CHECK(r.status == 0);  // the rest ran: it counts as passed, and the part left out is named
  CHECK(r.out.find("quill_tests: partly skipped in 1 test case: its GPU part: the fixture's reason\n") !=
        std::string::npos);
}

TEST_CASE("test runner: a run in which no case matched the name given fails") {
  // What ctest ran for a name it split at a ';': it used to pass, having run nothing.
  const CommandResult r = run_test_cases("test runner: no case has this name");
  CHECK(r.status == 1);
  CHECK(r.out.find("quill_tests: no test case ran") != std::string::npos);
  // A listing runs no case and is no failure.
  CHECK(run_command("'" + quill::test::this_test_binary().string() + "' --list-test-cases").status == 0);
}

TEST_CASE("test runner: ctest takes exit status 77 of every case as skipped (SKIP_RETURN_CODE)") {
  const fs::path tests_dir = quill::test::this_test_binary().parent_path();
  const CommandResult r = run_command("ctest --test-dir '" + tests_dir.string() + "' --show-only=json-v1");
  if (r.status != 0) {
    quill::test::skip_test_case("ctest cannot list this build's tests: " + r.out.substr(0, r.out.find('\n')));
    return;
  }
  const nlohmann::json tests = nlohmann::json::parse(r.out.substr(r.out.find('{'))).at("tests");
  REQUIRE(tests.size() > 100);
  int with_skip_code = 0;
  for (const nlohmann::json& t : tests)
    for (const nlohmann::json& property : t.value("properties", nlohmann::json::array()))
      with_skip_code += property.at("name") == "SKIP_RETURN_CODE" && property.at("value") == quill::test::kSkipExitCode;
  CHECK(with_skip_code == int(tests.size()));
}

TEST_CASE("test runner: scripts/test-summary.sh counts the skipped apart from the passed, with their reasons") {
  test_files::TempDir build("test-summary");
  fs::create_directories(build.path() / "Testing" / "Temporary");
  // The parts of a ctest log the summary reads: ctest says "Test Passed." of a skipped test too.
  std::ofstream(build.path() / "Testing" / "Temporary" / "LastTest.log")
      << "1/4 Test: a\nOutput:\n[doctest] ...\n<end of output>\nTest Passed.\n"
      << "2/4 Test: b\nOutput:\nquill_tests: skipped 1 test case: no CUDA device\n<end of output>\nTest Passed.\n"
      << "3/4 Test: c\nOutput:\nquill_tests: skipped 1 test case: no CUDA device\n<end of output>\nTest Passed.\n"
      << "4/4 Test: d\nOutput:\n[doctest] Status: FAILURE!\n<end of output>\nTest Failed.\n";
  const CommandResult r = run_command(std::string(QUILL_SOURCE_DIR) + "/scripts/test-summary.sh '" + build.path().string() + "'");
  CHECK(r.status == 0);
  CHECK(r.out == "== tests: 1 passed, 2 skipped, 1 failed (4 in all)\n   skipped 2: no CUDA device\n");
}
