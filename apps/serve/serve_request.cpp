#include "apps/serve/serve_request.h"

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "data/png_io.h"

namespace quill {

std::string base64_encode(const std::string& in) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += alphabet[v >> 18], out += alphabet[(v >> 12) & 63], out += alphabet[(v >> 6) & 63], out += alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += alphabet[v >> 18], out += alphabet[(v >> 12) & 63], out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8;
    out += alphabet[v >> 18], out += alphabet[(v >> 12) & 63], out += alphabet[(v >> 6) & 63], out += '=';
  }
  return out;
}

std::string base64_decode(const std::string& text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else if (c == '=') { padding = true; continue; }
    else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    else fail("invalid base64: unexpected character '", std::string(1, c), "'");
    QUILL_CHECK(!padding, "invalid base64: data after '=' padding");
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

namespace {

[[noreturn]] void reject(int status, const std::string& message) { throw HttpError(status, message); }

// A whole decimal number in 1..1000, or 0.
int parse_top_k(const std::string& text) {
  if (text.empty() || text.size() > 4 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return 0;
  const int k = std::stoi(text);
  return k <= 1000 ? k : 0;
}

// The PNG bytes of a JSON body {"image": data URL or base64, "top_k": n}; sets top_k when given.
std::string png_of_json(const std::string& body, int& top_k) {
  using nlohmann::json;
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) reject(400, "request body is not valid JSON");
  if (!j.is_object()) reject(400, "expected a JSON object {\"image\": \"data:image/png;base64,...\"}");
  if (!j.contains("image")) reject(400, "missing \"image\": expected {\"image\": \"data:image/png;base64,...\"}");
  if (!j["image"].is_string())
    reject(400, std::string("\"image\" must be a string (a data URL \"data:image/png;base64,...\" or base64), not ") +
                    j["image"].type_name());
  if (j.contains("top_k")) {
    const json& k = j["top_k"];
    // Non-negative JSON integers are stored unsigned: read each kind as itself, so none wraps.
    const bool in_range = k.is_number_unsigned() ? k.get<uint64_t>() >= 1 && k.get<uint64_t>() <= 1000
                          : k.is_number_integer() && k.get<int64_t>() >= 1 && k.get<int64_t>() <= 1000;
    if (!in_range) reject(400, "\"top_k\" must be a positive integer (at most 1000)");
    top_k = k.get<int>();
  }
  std::string text = j["image"].get<std::string>();
  if (text.rfind("data:", 0) == 0) {
    const size_t comma = text.find(',');
    if (comma == std::string::npos) reject(400, "malformed data URL in \"image\"");
    const std::string header = text.substr(5, comma - 5);
    if (header.find(";base64") == std::string::npos) reject(400, "the data URL in \"image\" must be base64");
    if (header.rfind("image/png", 0) != 0) reject(415, "only PNG images are accepted, got '" + header + "'");
    text.erase(0, comma + 1);
  }
  try {
    return base64_decode(text);
  } catch (const Error& e) {
    reject(400, std::string("\"image\": ") + e.what());
  }
}

}  // namespace

DrawingRequest parse_drawing_request(const std::string& content_type, const std::string& body,
                                     const std::string* top_k_query, int max_side) {
  auto starts = [&](const char* prefix) { return content_type.rfind(prefix, 0) == 0; };
  DrawingRequest d;
  if (body.empty()) reject(400, "empty request body: send a PNG drawing");
  std::string png;
  if (starts("image/png") || starts("application/octet-stream")) {
    png = body;
  } else if (starts("application/json") || (content_type.empty() && body[0] == '{')) {
    png = png_of_json(body, d.top_k);
  } else {
    reject(415, "unsupported Content-Type '" + content_type +
                    "': send image/png bytes or application/json {\"image\": \"data:image/png;base64,...\"}");
  }
  if (top_k_query) {
    d.top_k = parse_top_k(*top_k_query);
    if (d.top_k < 1) reject(400, "top_k must be a positive integer (at most 1000)");
  }
  try {
    d.image = decode_png(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "drawing", max_side);
  } catch (const PngTooLarge& e) {
    reject(413, std::string("image too large: ") + e.what());
  } catch (const Error& e) {
    reject(400, std::string("not a valid PNG image: ") + e.what());
  }
  if (d.image.empty()) reject(422, "empty drawing: the image has no pixels");
  const auto [lo, hi] = std::minmax_element(d.image.pixels.begin(), d.image.pixels.end());
  if (*hi - *lo < 0.05f) reject(422, "empty drawing: no ink found");
  return d;
}

}  // namespace quill
