// Skipped test cases: a doctest listener notes which cases called skip_test_case and whether they then
// passed, and the runner turns that into its exit status and summary lines (see skip.h).
#include "tests/skip.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace quill::test {
namespace {

struct SkipRecord {
  std::string current_reason;             // of the running case; empty if it has not skipped
  std::vector<std::string> current_parts;  // parts the running case left out
  int cases_run = 0;
  bool query = false;  // a run that lists or counts cases (--list-test-cases, --count, --help, ...)
  std::map<std::string, int> skipped;       // reason -> cases skipped for it
  std::map<std::string, int> parts_skipped;  // "part: reason" -> cases that left it out
};

SkipRecord& record() {
  static SkipRecord r;
  return r;
}

// Listens to every test case; reports nothing itself.
struct SkipListener : doctest::IReporter {
  explicit SkipListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override { record().query = true; }
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override {
    record().current_reason.clear();
    record().current_parts.clear();
    ++record().cases_run;
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    SkipRecord& r = record();
    if (!stats.testCaseSuccess) return;  // a failure is a failure, whatever else the case said
    if (!r.current_reason.empty()) {
      ++r.skipped[r.current_reason];
    } else {
      for (const std::string& part : r.current_parts) ++r.parts_skipped[part];
    }
  }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("quill-skips", 1, SkipListener);

void skip_test_case(const std::string& reason) {
  MESSAGE("skipped: " << reason);
  record().current_reason = reason;
}

void skip_part(const std::string& part, const std::string& reason) {
  MESSAGE(part << " skipped: " << reason);
  const std::string line = part + ": " + reason;
  std::vector<std::string>& parts = record().current_parts;
  // Subcases re-enter the case and say it again; count it once per case.
  for (const std::string& p : parts)
    if (p == line) return;
  parts.push_back(line);
}

int exit_status_with_skips(int doctest_status) {
  const SkipRecord& r = record();
  int skipped = 0;
  for (const auto& [reason, count] : r.skipped) {
    std::printf("quill_tests: skipped %d test case%s: %s\n", count, count == 1 ? "" : "s", reason.c_str());
    skipped += count;
  }
  for (const auto& [part, count] : r.parts_skipped)
    std::printf("quill_tests: partly skipped in %d test case%s: %s\n", count, count == 1 ? "" : "s", part.c_str());
  if (doctest_status == 0 && !r.query && r.cases_run == 0) {
    // ctest runs each case by name; a name it split (at a ';') or mistyped matches none, which is no pass.
    std::printf("quill_tests: no test case ran: no case matches the name given (ctest splits a name at ';')\n");
    std::fflush(stdout);
    return 1;
  }
  std::fflush(stdout);
  if (doctest_status == 0 && r.cases_run > 0 && skipped == r.cases_run) return kSkipExitCode;
  return doctest_status;
}

}  // namespace quill::test
