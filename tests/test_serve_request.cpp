// The bodies `quill serve` accepts, read without a server (apps/serve/serve_request.h): every way a request can
// be wrong gets its HTTP status and a message that names the problem; good requests give the drawing
// pixel for pixel. The HTTP mapping itself is tested in test_serve.cpp.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "apps/serve/serve_request.h"
#include "data/png_io.h"

using namespace quill;
using nlohmann::json;

namespace {

// A bar on white paper, sized w x h.
Image bar(int w, int h) {
  Image img(w, h, 1.0f);
  for (int y = h / 4; y < h - h / 4; ++y) img.at(w / 2, y) = 0.1f;
  return img;
}

std::string png_of(const Image& image) {
  const std::vector<uint8_t> png = encode_png(image);
  return std::string(png.begin(), png.end());
}

std::string json_body(const std::string& image, const std::string& extra = "") {
  return "{\"image\": " + json(image).dump() + extra + "}";
}

// The status a request is refused with (200 when it is accepted), and the refusal's message.
struct Outcome {
  int status = 200;
  std::string message;
  DrawingRequest request;
};

Outcome parse(const std::string& type, const std::string& body, const std::string* top_k = nullptr,
              int max_side = 4096) {
  Outcome o;
  try {
    o.request = parse_drawing_request(type, body, top_k, max_side);
  } catch (const HttpError& e) {
    o.status = e.status();
    o.message = e.what();
  }
  return o;
}

void check_refused(const Outcome& o, int status, const std::string& contains) {
  CHECK(o.status == status);
  CHECK_MESSAGE(o.message.find(contains) != std::string::npos, "message: " << o.message);
  CHECK(o.message.find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("serve request: base64 round trip") {
  for (const std::string& s : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                              std::string("\x00\xff\x10 binary\x89PNG", 13)})
    CHECK(base64_decode(base64_encode(s)) == s);
  CHECK(base64_encode("hello") == "aGVsbG8=");
  CHECK(base64_decode("aGVs\nbG8=") == "hello");   // whitespace is skipped
  CHECK(base64_decode("-_-_") == "\xfb\xff\xbf");  // the URL-safe alphabet
  CHECK_THROWS_WITH(base64_decode("aGV*sbG8="), doctest::Contains("unexpected character '*'"));
  CHECK_THROWS_WITH(base64_decode("aGVsbG8=aa"), doctest::Contains("after '=' padding"));
}

TEST_CASE("serve request: a PNG drawing arrives pixel for pixel, as bytes or JSON") {
  const Image drawing = bar(37, 23);
  const std::string png = png_of(drawing);
  const std::string b64 = base64_encode(png);
  const Image direct = decode_png(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "direct");
  for (const Outcome& o : {parse("image/png", png), parse("application/octet-stream", png),
                           parse("application/json", json_body("data:image/png;base64," + b64)),
                           parse("application/json; charset=utf-8", json_body(b64)),
                           parse("", json_body(b64))}) {
    REQUIRE_MESSAGE(o.status == 200, o.message);
    CHECK(o.request.image.width == 37);
    CHECK(o.request.image.height == 23);
    CHECK(o.request.image.pixels == direct.pixels);
    CHECK(o.request.top_k == 5);
  }
}

TEST_CASE("serve request: top_k from the JSON body or the query, 1..1000 only") {
  const std::string png = png_of(bar(20, 20));
  const std::string b64 = base64_encode(png);
  CHECK(parse("application/json", json_body(b64, ", \"top_k\": 3")).request.top_k == 3);
  CHECK(parse("application/json", json_body(b64, ", \"top_k\": 1000")).request.top_k == 1000);
  for (const char* bad : {"0", "-1", "1001", "1.5", "\"3\"", "18446744073709551615", "-9223372036854775808", "null"}) {
    CAPTURE(bad);
    check_refused(parse("application/json", json_body(b64, std::string(", \"top_k\": ") + bad)), 400, "top_k");
  }

  const std::string seven = "7", thousand = "1000";
  CHECK(parse("image/png", png, &seven).request.top_k == 7);
  CHECK(parse("image/png", png, &thousand).request.top_k == 1000);
  // The query wins over the body.
  CHECK(parse("application/json", json_body(b64, ", \"top_k\": 3"), &seven).request.top_k == 7);
  for (const std::string bad : {"", "0", "5abc", " 5", "+5", "1001", "99999999999", "-3"}) {
    CAPTURE(bad);
    check_refused(parse("image/png", png, &bad), 400, "top_k");
  }
}

TEST_CASE("serve request: malformed bodies are refused with their status and reason") {
  const std::string png = png_of(bar(20, 20));
  const std::string b64 = base64_encode(png);
  check_refused(parse("image/png", ""), 400, "empty request body");
  check_refused(parse("text/plain", "hello"), 415, "unsupported Content-Type 'text/plain'");
  check_refused(parse("", "hello"), 415, "unsupported Content-Type ''");
  // curl's default type for --data-binary: refused naming what is accepted.
  check_refused(parse("application/x-www-form-urlencoded", png), 415, "send image/png bytes or application/json");
  check_refused(parse("application/json", "{\"image\": "), 400, "not valid JSON");
  check_refused(parse("application/json", "[1, 2]"), 400, "JSON object");
  check_refused(parse("application/json", "{\"picture\": 3}"), 400, "missing \"image\"");
  check_refused(parse("application/json", "{\"image\": 3}"), 400, "\"image\" must be a string");
  check_refused(parse("application/json", "{\"image\": null}"), 400, "\"image\" must be a string (a data URL");
  check_refused(parse("application/json", json_body("data:image/png;base64")), 400, "malformed data URL");
  check_refused(parse("application/json", json_body("data:image/png," + b64)), 400, "must be base64");
  check_refused(parse("application/json", json_body("data:image/jpeg;base64," + b64)), 415, "only PNG");
  check_refused(parse("application/json", json_body("data:image/png;base64,!!!")), 400, "base64");
  check_refused(parse("image/png", "this is not a picture"), 400, "not a PNG");
  check_refused(parse("image/png", png.substr(0, png.size() / 2)), 400, "not a valid PNG image");
  check_refused(parse("application/json", json_body(base64_encode("GIF89a..."))), 400, "not a PNG");
}

TEST_CASE("serve request: a drawing over the size limit is 413, at the limit it is read") {
  check_refused(parse("image/png", png_of(bar(101, 5)), nullptr, 100), 413, "101x5, larger than the 100x100 limit");
  check_refused(parse("image/png", png_of(bar(5, 101)), nullptr, 100), 413, "too large");
  const Outcome at = parse("image/png", png_of(bar(100, 100)), nullptr, 100);
  REQUIRE_MESSAGE(at.status == 200, at.message);
  CHECK(at.request.image.width == 100);
  // The default limit of the server, 4096, on a drawing wider than that.
  check_refused(parse("image/png", png_of(Image(5000, 10, 1.0f))), 413, "5000x10");
}

TEST_CASE("serve request: a drawing without ink is 422") {
  check_refused(parse("image/png", png_of(Image(64, 64, 1.0f))), 422, "no ink");
  Image faint(64, 64, 1.0f);
  faint.at(10, 10) = 0.96f;  // under the 0.05 contrast a stroke needs
  check_refused(parse("image/png", png_of(faint)), 422, "no ink");
}

TEST_CASE("serve request: HttpError is a quill::Error, so code that only knows Error still reports it") {
  try {
    parse_drawing_request("text/plain", "x", nullptr, 4096);
    FAIL("expected a refusal");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("Content-Type") != std::string::npos);
    REQUIRE(dynamic_cast<const HttpError*>(&e) != nullptr);
    CHECK(dynamic_cast<const HttpError&>(e).status() == 415);
  }
}
