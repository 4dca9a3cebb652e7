#pragma once
// Errors: one exception type whose message is a single line a user can act on.
#include <sstream>
#include <stdexcept>
#include <string>

namespace quill {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// Builds a message from its parts: fail("layer ", name, ": expected ", n).
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  throw Error(os.str());
}

}  // namespace quill

// Checks a condition that depends on user input or on the caller; throws quill::Error with the message.
#define QUILL_CHECK(cond, ...)          \
  do {                                  \
    if (!(cond)) ::quill::fail(__VA_ARGS__); \
  } while (0)
