#include "apps/serve/serve_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/classifier.h"
#include "engine/page_reading.h"
#include "apps/serve/serve_request.h"
#include "data/png_io.h"
#include "data/preprocess.h"
#include "data/segment.h"
#include "runtime/error.h"

#ifdef QUILL_HAVE_HTTPLIB
#include <httplib.h>
#include <sys/socket.h>

#include "serve_page.h"  // generated from apps/serve/web/index.html (apps/serve/CMakeLists.txt)
#endif

namespace quill {

#ifndef QUILL_HAVE_HTTPLIB

bool serve_available() { return false; }
struct Server::Impl {};
Server::Server(const ServeOptions&) {
  fail("this build has no HTTP server (install libcpp-httplib-dev and rebuild)");
}
Server::~Server() = default;
int Server::bind() { return 0; }
void Server::listen() {}
void Server::start() {}
void Server::stop() {}
int Server::port() const { return 0; }
std::string Server::device() const { return ""; }
BatcherStats Server::stats() const { return {}; }

#else

bool serve_available() { return true; }

namespace {

using nlohmann::json;

[[noreturn]] void reject(int status, const std::string& message) { throw HttpError(status, message); }

void send_json(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// A JSON error after which the connection is closed: for refusals that leave (part of) a request body
// unread, which a keep-alive connection would otherwise take for the next request. httplib 0.11 has no
// call to close a connection; it closes one whose content provider fails, so the provider writes the whole
// message and then reports failure. It waits a moment first: closing with unread data resets the
// connection, and a client still sending (curl) would report the reset instead of the answer.
constexpr auto kLingerBeforeReset = std::chrono::milliseconds(100);
void send_error_and_close(httplib::Response& res, int status, const std::string& message) {
  auto text = std::make_shared<const std::string>(json{{"error", message}}.dump());
  res.status = status;
  res.set_header("Connection", "close");
  res.set_content_provider(text->size(), "application/json",
                           [text](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(text->data() + offset, length);
                             std::this_thread::sleep_for(kLingerBeforeReset);
                             return false;
                           });
}

// Whether a request announces a body (which is still unread before its handler reads it).
bool announces_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

// The routes and the methods each answers; anything else is 404 (an unknown path) or 405 (another method).
struct Route {
  const char* path;
  std::vector<std::string> methods;
  bool allows(const std::string& method) const {
    return std::find(methods.begin(), methods.end(), method) != methods.end();
  }
  std::string allow_header() const {
    std::string allow;
    for (const std::string& m : methods) allow += (allow.empty() ? "" : ", ") + m;
    return allow;
  }
};
const Route kRoutes[] = {{"/", {"GET", "HEAD"}},
                         {"/api/info", {"GET", "HEAD"}},
                         {"/api/stats", {"GET", "HEAD"}},
                         {"/api/predict", {"POST"}},
                         {"/api/read", {"POST"}}};

// When a request's start time is known (from the routing hooks), for --log on the same worker thread.
thread_local std::chrono::steady_clock::time_point request_start{};

std::string data_url(const std::vector<uint8_t>& png) {
  return "data:image/png;base64," + base64_encode(std::string(png.begin(), png.end()));
}

json scores_json(const std::vector<ClassScore>& scores) {
  json out = json::array();
  for (const ClassScore& s : scores) out.push_back({{"label", s.name}, {"index", s.label}, {"probability", s.probability}});
  return out;
}

}  // namespace

struct Server::Impl {
  ServeOptions options;
  Classifier classifier;
  std::string device;
  Batcher batcher;
  httplib::Server http;
  int port = -1;
  std::thread thread;
  std::atomic<bool> listening{false};

  explicit Impl(const ServeOptions& o, const Placement& placement)
      : options(o),
        classifier(o.model, placement),
        device(placement.str()),
        batcher([this](const Batcher::Samples& s) { return classifier.probabilities(s); }, o.batch_wait_ms,
                o.max_batch) {
    // Warm-up: the first forward pass pays for allocations (and CUDA initialisation on a GPU).
    batcher.classify({std::vector<uint8_t>(size_t(classifier.record().input_shape.numel()), 0)});
    routes();
  }

  void handle(const httplib::Request& req, httplib::Response& res,
              const std::function<void(const httplib::Request&, httplib::Response&)>& f) {
    try {
      f(req, res);
    } catch (const HttpError& e) {
      send_json(res, {{"error", e.what()}}, e.status());
    } catch (const Error& e) {
      send_json(res, {{"error", e.what()}}, 500);
    }
  }

  // Refusals decided from the request line and headers alone, before any of the body is read: an unknown
  // path (404), a method the path does not answer (405), a Content-Length over the limit (413). Sends the
  // answer and returns true; the connection is closed when a body was announced.
  // `expecting_continue`: the client waits for "100 Continue" before it sends the body, so a body over the
  // limit is refused unsent, however long.
  bool refused_before_body(const httplib::Request& req, httplib::Response& res, bool expecting_continue) const {
    auto refuse = [&](int status, const std::string& message) {
      if (announces_body(req)) send_error_and_close(res, status, message);
      else send_json(res, {{"error", message}}, status);
      return true;
    };
    const Route* route = nullptr;
    for (const Route& r : kRoutes)
      if (req.path == r.path) route = &r;
    if (!route) return refuse(404, "not found: " + req.method + " " + req.path);
    if (!route->allows(req.method)) {
      const std::string allow = route->allow_header();
      res.set_header("Allow", allow);
      return refuse(405, "method " + req.method + " not allowed on " + req.path + ": use " + allow);
    }
    if (req.has_header("Content-Length")) {
      const std::string length = req.get_header_value("Content-Length");
      if (length.empty() || length.size() > 19 || length.find_first_not_of("0123456789") != std::string::npos)
        return refuse(400, "invalid Content-Length '" + length + "'");
      const uint64_t bytes = std::stoull(length);
      if (bytes > drain_limit() || (bytes > options.max_body_bytes && expecting_continue))
        return refuse(413, body_too_large());
      // Over the limit but within drain_limit(): read_body discards it and refuses it.
    }
    return false;
  }

  std::string body_too_large() const {
    return "request body too large (at most " + std::to_string(options.max_body_bytes) + " bytes)";
  }

  // A body over the limit is still read to its end, and discarded, while it stays within this many bytes:
  // then the connection stays usable, and a client that reads the answer only after sending the whole
  // request (most do, unless they sent "Expect: 100-continue") gets it. A longer one is cut off.
  size_t drain_limit() const { return 2 * options.max_body_bytes; }

  // The body of a POST, read through httplib's content reader, which undoes chunked transfer and gzip or
  // brotli content encoding as it goes: the limits hold for the bytes as decoded, and no more than
  // max_body_bytes of them are ever kept. Returns false after sending a refusal: 413 a body over the limit,
  // 400/415 one that could not be decoded. The connection is closed when part of the body is left unread.
  bool read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                 std::string& body) const {
    if (!announces_body(req)) return true;  // a request without Content-Length or Transfer-Encoding has none
    // httplib decodes gzip, deflate and br, and passes any other coding through as if there were none (a
    // body in "x-gzip" or "compress" would reach the PNG decoder still encoded): refused here by name.
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && encoding != "identity" && encoding != "gzip" && encoding != "deflate" && encoding != "br") {
      send_error_and_close(res, 415, "unsupported Content-Encoding '" + encoding + "' (expected gzip, deflate, br or none)");
      return false;
    }
    const size_t limit = options.max_body_bytes;
    size_t received = 0;
    const bool complete = reader([&](const char* data, size_t n) {
      received += n;
      if (received > limit) {  // refused: discard, up to drain_limit()
        body.clear();
        return received <= drain_limit();
      }
      // Grown by doubling as usual, but never past the limit.
      if (body.size() + n > body.capacity()) body.reserve(std::min(limit, std::max(body.size() + n, 2 * body.capacity())));
      body.append(data, n);
      return true;
    });
    const int decoder_status = res.status;  // httplib's own verdict when it fails: 415 an unknown encoding
    if (complete && received <= limit) return true;
    body.clear();
    body.shrink_to_fit();
    if (received > limit) {
      if (complete) send_json(res, {{"error", body_too_large()}}, 413);
      else send_error_and_close(res, 413, body_too_large());
    } else if (decoder_status == 415) {
      send_error_and_close(res, 415, "unsupported Content-Encoding '" + req.get_header_value("Content-Encoding") + "'");
    } else {
      send_error_and_close(res, 400, "malformed or incomplete request body");
    }
    return false;
  }

  // A POST route that reads a drawing: the body first (bounded), then `answer`.
  httplib::Server::HandlerWithContentReader drawing_route(void (Impl::*answer)(const DrawingRequest&, httplib::Response&)) {
    return [this, answer](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      std::string body;
      if (!read_body(req, res, reader, body)) return;
      handle(req, res, [&](const httplib::Request& q, httplib::Response& r) { (this->*answer)(drawing_of(q, body), r); });
    };
  }

  DrawingRequest drawing_of(const httplib::Request& req, const std::string& body) const {
    const bool has_top_k = req.has_param("top_k");
    const std::string top_k = has_top_k ? req.get_param_value("top_k") : "";
    return parse_drawing_request(req.get_header_value("Content-Type"), body, has_top_k ? &top_k : nullptr,
                                 options.max_image_side);
  }

  void predict(const DrawingRequest& d, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<uint8_t> sample;
    try {
      sample = preprocess_character(d.image, classifier.preprocess_options());
    } catch (const Error& e) {
      reject(422, std::string("empty drawing: ") + e.what());
    }
    const std::vector<double> p = batcher.classify({sample})[0];
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    send_json(res, {{"top", scores_json(classifier.top(p, d.top_k))},
                    {"input", data_url(encode_png(sample_to_image(sample.data())))},
                    {"ms", ms}});
  }

  // A word, a line or a page (engine/page_reading.h): the text with its line breaks, every character
  // (as before: box, space before it, classes, the image the network saw) and the lines with their words.
  void read(const DrawingRequest& d, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    PageReadOptions options;
    options.ink = options.character = classifier.preprocess_options();
    PageReading page;
    try {
      page = read_page(
          d.image, [this](const std::vector<std::vector<uint8_t>>& samples) { return batcher.classify(samples); },
          classifier.record().classes, options);
    } catch (const Error& e) {
      reject(422, std::string("empty drawing: ") + e.what());
    }
    json chars = json::array(), lines = json::array();
    for (const PageLine& line : page.lines) {
      json words = json::array();
      for (const PageWord& w : line.words) {
        words.push_back({{"x", w.box.x}, {"y", w.box.y}, {"width", w.box.width}, {"height", w.box.height},
                         {"text", w.text}, {"confidence", w.confidence}});
        for (size_t i = w.first; i < w.first + w.count; ++i) {
          const PageCharacter& c = line.characters[i];
          chars.push_back({{"x", c.box.x},
                           {"y", c.box.y},
                           {"width", c.box.width},
                           {"height", c.box.height},
                           {"line", lines.size()},
                           {"space_before", i == w.first && w.first > 0},
                           {"top", scores_json(classifier.top(c.probabilities, std::min(d.top_k, 3)))},
                           {"input", data_url(encode_png(sample_to_image(c.sample.data())))}});
        }
      }
      lines.push_back({{"x", line.box.x}, {"y", line.box.y}, {"width", line.box.width}, {"height", line.box.height},
                       {"text", line.text}, {"confidence", line.confidence}, {"words", words}});
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    send_json(res, {{"text", page.text()}, {"characters", chars}, {"lines", lines}, {"ms", ms}});
  }

  void routes() {
    http.new_task_queue = [n = options.threads] { return new httplib::ThreadPool(size_t(std::max(1, n))); };
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let a second server
    // silently share a port that is in use instead of failing.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
    });
    http.Get("/", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, [](const httplib::Request&, httplib::Response& r) {
        r.set_content(kServePage, "text/html; charset=utf-8");
      });
    });
    http.Get("/api/info", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, [this](const httplib::Request&, httplib::Response& r) {
        const ModelRecord& m = classifier.record();
        send_json(r, {{"model", options.model},
                      {"classes", m.classes},
                      {"framing", framing_name(m.framing)},
                      {"device", device},
                      {"max_body_bytes", options.max_body_bytes},
                      {"batch_wait_ms", options.batch_wait_ms},
                      {"max_batch", options.max_batch}});
      });
    });
    http.Get("/api/stats", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, [this](const httplib::Request&, httplib::Response& r) {
        const BatcherStats s = batcher.stats();
        send_json(r, {{"requests", s.requests},
                      {"batches", s.batches},
                      {"samples", s.samples},
                      {"largest_batch", s.largest_batch}});
      });
    });
    // Bodies are read by the routes themselves (read_body), never by httplib into Request::body, which
    // for a chunked or compressed body has no limit: every request that may carry one is either refused
    // from its headers (refused_before_body) or goes to a route with a content reader.
    http.Post("/api/predict", drawing_route(&Impl::predict));
    http.Post("/api/read", drawing_route(&Impl::read));
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      request_start = std::chrono::steady_clock::now();
      const bool refused = refused_before_body(req, res, /*expecting_continue=*/false);
      return refused ? httplib::Server::HandlerResponse::Handled : httplib::Server::HandlerResponse::Unhandled;
    });
    // "Expect: 100-continue" (curl's way with large bodies): a refusal goes out before the client sends.
    http.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
      request_start = std::chrono::steady_clock::now();
      return refused_before_body(req, res, /*expecting_continue=*/true) ? res.status : 100;
    });
    // httplib adds a Keep-Alive header to every answer; not to one that closes the connection.
    http.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.get_header_value("Connection") == "close") res.headers.erase("Keep-Alive");
    });
    // Statuses set by httplib itself (400 for a malformed request line, 414, ...) also get a JSON message.
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty() || res.has_header("Content-Type")) return;
      send_json(res, {{"error", "HTTP error " + std::to_string(res.status)}}, res.status);
    });
    // One line per request, after its answer has been written, with the status it went out with.
    if (std::FILE* log = options.request_log)
      http.set_logger([log](const httplib::Request& req, const httplib::Response& res) {
        const auto start = std::exchange(request_start, {});
        const char* method = req.method.empty() ? "-" : req.method.c_str();
        const char* path = req.path.empty() ? "-" : req.path.c_str();
        if (start == std::chrono::steady_clock::time_point{})  // refused by httplib before routing
          std::fprintf(log, "%s %s -> %d\n", method, path, res.status);
        else
          std::fprintf(log, "%s %s -> %d (%.1f ms)\n", method, path, res.status,
                       std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        std::fflush(log);
      });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string message = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        message += std::string(": ") + e.what();
      } catch (...) {
      }
      send_json(res, {{"error", message}}, 500);
    });
  }
};

Server::Server(const ServeOptions& options) {
  impl_ = std::make_unique<Impl>(options, choose_placement(options.device, options.backend));
}

Server::~Server() { stop(); }

int Server::bind() {
  if (impl_->port >= 0) return impl_->port;
  const ServeOptions& o = impl_->options;
  if (o.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(o.host);
  } else {
    QUILL_CHECK(impl_->http.bind_to_port(o.host, o.port), "cannot listen on ", o.host, ":", o.port,
                " (in use, or not an address of this machine)");
    impl_->port = o.port;
  }
  QUILL_CHECK(impl_->port > 0, "cannot listen on ", o.host, " (not an address of this machine?)");
  return impl_->port;
}

void Server::listen() {
  bind();
  impl_->listening = true;
  impl_->http.listen_after_bind();
  impl_->listening = false;
}

void Server::start() {
  bind();
  impl_->thread = std::thread([this] { listen(); });
  for (int i = 0; i < 2000 && !impl_->http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Server::stop() {
  if (!impl_) return;
  if (impl_->http.is_running() || impl_->listening) impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int Server::port() const { return impl_->port; }
std::string Server::device() const { return impl_->device; }
BatcherStats Server::stats() const { return impl_->batcher.stats(); }

#endif

}  // namespace quill
