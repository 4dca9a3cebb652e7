#pragma once
// Running a command from a test, and this test binary itself (for cases that check how a run of other
// cases ends: its exit status and what it prints).
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace quill::test {

struct CommandResult {
  int status = -1;  // the exit status; 128 if it did not exit
  std::string out;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
  return r;
}

inline std::filesystem::path this_test_binary() { return std::filesystem::read_symlink("/proc/self/exe"); }

// This binary run on the cases named (a doctest --test-case filter), skip-decorated fixtures included;
// `env` goes before the command, e.g. "QUILL_DATA=/tmp/x" or "env -u QUILL_DATA".
inline CommandResult run_test_cases(const std::string& names, const std::string& env = "") {
  return run_command(env + " '" + this_test_binary().string() + "' --no-skip --test-case='" + names + "'");
}

}  // namespace quill::test
