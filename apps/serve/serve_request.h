#pragma once
// What a client of `quill serve` sends to /api/predict and /api/read, read into an image before any model
// sees it. Kept apart from the HTTP server (no HTTP library needed), so that the tests and the fuzzer
// reach every way a request body can be wrong.
#include <cstddef>
#include <string>

#include "data/image.h"
#include "runtime/error.h"

namespace quill {

// A request refused with an HTTP status (4xx) and a one-line message for the client.
class HttpError : public Error {
 public:
  HttpError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

struct DrawingRequest {
  Image image;
  int top_k = 5;  // how many classes to answer with
};

// The drawing of a request: raw PNG bytes (Content-Type image/png or application/octet-stream) or JSON
// {"image": "data:image/png;base64,..." or plain base64, "top_k": n}. `top_k_query` is the ?top_k= value of
// the URL, or null when there is none. Throws HttpError: 400 malformed, 413 a side over `max_side`
// pixels, 415 not PNG, 422 no ink.
DrawingRequest parse_drawing_request(const std::string& content_type, const std::string& body,
                                     const std::string* top_k_query, int max_side);

std::string base64_encode(const std::string& bytes);
// Throws quill::Error on characters outside the base64 alphabet (whitespace is skipped; '-' and '_' of
// the URL-safe alphabet are accepted).
std::string base64_decode(const std::string& text);

}  // namespace quill
