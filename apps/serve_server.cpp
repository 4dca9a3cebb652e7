#include "apps/serve_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "apps/classifier.h"
#include "apps/line_reading.h"
#include "apps/serve_request.h"
#include "data/png_io.h"
#include "data/preprocess.h"
#include "data/segment.h"
#include "runtime/error.h"

#ifdef QUILL_HAVE_HTTPLIB
#include <httplib.h>
#include <sys/socket.h>

#include "serve_page.h"  // generated from apps/web/index.html (apps/CMakeLists.txt)
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
    const auto t0 = std::chrono::steady_clock::now();
    try {
      f(req, res);
    } catch (const HttpError& e) {
      send_json(res, {{"error", e.what()}}, e.status());
    } catch (const Error& e) {
      send_json(res, {{"error", e.what()}}, 500);
    }
    if (options.log_requests)
      std::fprintf(stderr, "%s %s -> %d (%.1f ms)\n", req.method.c_str(), req.path.c_str(), res.status,
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }

  DrawingRequest drawing_of(const httplib::Request& req) const {
    const bool has_top_k = req.has_param("top_k");
    const std::string top_k = has_top_k ? req.get_param_value("top_k") : "";
    return parse_drawing_request(req.get_header_value("Content-Type"), req.body, has_top_k ? &top_k : nullptr,
                                 options.max_image_side);
  }

  void predict(const httplib::Request& req, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    const DrawingRequest d = drawing_of(req);
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

  void read(const httplib::Request& req, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    const DrawingRequest d = drawing_of(req);
    SegmentOptions segment;
    segment.ink = classifier.preprocess_options();
    LineSamples samples;
    try {
      LineSegmentation line = segment_line(d.image, segment);
      PreprocessOptions character = classifier.preprocess_options();
      character.polarity = line.polarity;
      samples = line_samples(std::move(line), character);
    } catch (const Error& e) {
      reject(422, std::string("empty drawing: ") + e.what());
    }
    if (samples.samples.empty()) reject(422, "empty drawing: no characters found");
    const std::vector<std::vector<double>> probabilities = batcher.classify(samples.samples);
    const std::vector<ReadCharacter> read = read_characters(std::move(samples), probabilities, classifier.record().classes);
    std::string text;
    json chars = json::array();
    for (const ReadCharacter& r : read) {
      const CharacterSegment& c = r.segment;
      const std::vector<ClassScore> top = classifier.top(r.probabilities, std::min(d.top_k, 3));
      text += (c.space_before ? " " : "") + top[0].name;
      chars.push_back({{"x", c.box.x},
                       {"y", c.box.y},
                       {"width", c.box.width},
                       {"height", c.box.height},
                       {"space_before", c.space_before},
                       {"top", scores_json(top)},
                       {"input", data_url(encode_png(sample_to_image(r.sample.data())))}});
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    send_json(res, {{"text", text}, {"characters", chars}, {"ms", ms}});
  }

  void routes() {
    http.new_task_queue = [n = options.threads] { return new httplib::ThreadPool(size_t(std::max(1, n))); };
    http.set_payload_max_length(options.max_body_bytes);
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
    http.Post("/api/predict", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, [this](const httplib::Request& q, httplib::Response& r) { predict(q, r); });
    });
    http.Post("/api/read", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res, [this](const httplib::Request& q, httplib::Response& r) { read(q, r); });
    });
    // Statuses set by httplib itself (404, 405, 413 for an oversized body, ...) also get a JSON message.
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string message;
      if (res.status == 404) message = "not found: " + req.method + " " + req.path;
      else if (res.status == 413)
        message = "request body too large (at most " + std::to_string(options.max_body_bytes) + " bytes)";
      else message = "HTTP error " + std::to_string(res.status);
      send_json(res, {{"error", message}}, res.status);
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
