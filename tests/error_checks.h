#pragma once
// The promise every loader makes about bad input: a quill::Error whose message is one line naming the file.
#include <doctest/doctest.h>

#include <string>

#include "runtime/error.h"

namespace test_files {

// The call throws a quill::Error with `needle` in a one-line message that names `path`.
template <class F>
void check_error(F&& f, const std::string& path, const std::string& needle) {
  CHECK_THROWS_WITH_AS(f(), doctest::Contains(needle.c_str()), quill::Error);
  try {
    f();
  } catch (const quill::Error& e) {
    const std::string msg = e.what();
    INFO("message: ", msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

}  // namespace test_files
