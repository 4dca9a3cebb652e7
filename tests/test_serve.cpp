// quill serve in-process: the server on an ephemeral loopback port, driven with httplib::Client. The
// page, the JSON API on real MNIST digits (a model trained here on 2000 images when QUILL_DATA has
// MNIST or the offline digits, else that case is skipped), bad requests answered 4xx with a JSON message while the server
// keeps serving, concurrent clients batched together, a clean stop.
#include <doctest/doctest.h>

#include "apps/serve_server.h"
#include "tests/skip.h"

#ifdef QUILL_HAVE_HTTPLIB
#include <httplib.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/model_file.h"
#include "apps/serve_request.h"
#include "apps/trainer.h"
#include "data/dataset.h"
#include "data/png_io.h"
#include "layers/model_description.h"
#include "tests/real_data.h"

using namespace quill;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string temp_dir() {
  static const std::string dir = [] {
    const fs::path d = fs::temp_directory_path() / ("quill-serve-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d.string();
  }();
  return dir;
}

// An untrained but valid model: enough for everything but accuracy.
std::string tiny_model() {
  static const std::string path = [] {
    const std::string text = "conv 2 k3 p1\nrelu\nmaxpool 2\ndense classes\n";
    Graph g;
    add_to_graph(parse_model_description(text), 10, g);
    g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 1);
    const std::string p = temp_dir() + "/tiny.quill";
    save_model_file(p, capture_model(g, text, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, FramingConvention::Mnist));
    return p;
  }();
  return path;
}

// models/small.txt trained for 3 epochs on `train` (2000 digits: a few seconds), saved in the temp folder.
std::string trained_model(const Dataset& train) {
  std::ifstream f(std::string(QUILL_SOURCE_DIR) + "/models/small.txt");
  std::stringstream text;
  text << f.rdbuf();
  TrainOptions o;
  o.model_description = text.str();
  o.epochs = 3;
  o.batch_size = 32;
  o.optimizer.kind = "adamw";
  o.schedule.kind = "onecycle";
  o.schedule.lr = 3e-3;
  o.seed = 7;
  Trainer trainer(o, train, nullptr);
  trainer.run();
  const std::string p = temp_dir() + "/small.quill";
  save_model_file(p, trainer.model_record(json::object()));
  return p;
}

// Digit i of `digits` drawn as a user would: dark ink on white paper, 4x larger, with a margin.
Image digit_drawing(const Dataset& digits, int i) {
  const uint8_t* px = digits.image(i);
  Image img(140, 140, 1.0f);
  for (int y = 0; y < 112; ++y)
    for (int x = 0; x < 112; ++x) img.at(14 + x, 14 + y) = 1.0f - px[(y / 4) * 28 + x / 4] / 255.0f;
  return img;
}

// Several digits side by side on one line.
Image word_drawing(const Dataset& digits, const std::vector<int>& which) {
  Image img(int(which.size()) * 130 + 40, 160, 1.0f);
  for (size_t k = 0; k < which.size(); ++k) {
    const Image d = digit_drawing(digits, which[k]);
    for (int y = 0; y < 140; ++y)
      for (int x = 0; x < 140; ++x) img.at(20 + int(k) * 130 + x - 5, 10 + y) = std::min(img.at(20 + int(k) * 130 + x - 5, 10 + y), d.at(x, y));
  }
  return img;
}

std::string png_bytes(const Image& image) {
  const std::vector<uint8_t> png = encode_png(image);
  return std::string(png.begin(), png.end());
}

std::string as_json(const Image& image) {
  return json{{"image", "data:image/png;base64," + base64_encode(png_bytes(image))}}.dump();
}

struct Running {
  std::unique_ptr<Server> server;
  explicit Running(const std::string& model, double wait_ms = 2) {
    ServeOptions o;
    o.model = model;
    o.port = 0;
    o.device = "cpu";
    o.batch_wait_ms = wait_ms;
    server = std::make_unique<Server>(o);
    server->start();
    REQUIRE(server->port() > 0);
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(60, 0);
    return c;
  }
};

// A status and the "error" message of a JSON error answer.
void check_error(const httplib::Result& r, int status, const std::string& contains) {
  REQUIRE(r);
  CHECK(r->status == status);
  const json j = json::parse(r->body, nullptr, false);
  REQUIRE_MESSAGE(j.is_object(), "body: " << r->body);
  REQUIRE(j.contains("error"));
  const std::string message = j["error"].get<std::string>();
  CHECK_MESSAGE(message.find(contains) != std::string::npos, "message: " << message);
}

// A trivially valid drawing: a bar.
Image bar_drawing() {
  Image img(100, 100, 1.0f);
  for (int y = 20; y < 80; ++y)
    for (int x = 45; x < 55; ++x) img.at(x, y) = 0.0f;
  return img;
}

void check_serving(const Running& s) {
  httplib::Client c = s.client();
  auto r = c.Post("/api/predict", png_bytes(bar_drawing()), "image/png");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["top"].size() == 5);
}

}  // namespace

TEST_CASE("serve: the page, the model info and the 28x28 input") {
  Running s(tiny_model());
  httplib::Client c = s.client();
  auto page = c.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type").find("text/html") == 0);
  CHECK(page->body.find("<canvas") != std::string::npos);
  CHECK(page->body.find("http://") == std::string::npos);  // no external resources
  CHECK(page->body.find("https://") == std::string::npos);

  auto info = c.Get("/api/info");
  REQUIRE(info);
  CHECK(info->status == 200);
  CHECK(json::parse(info->body)["classes"].size() == 10);
  CHECK(json::parse(info->body)["device"] == "cpu");

  // JSON with a data URL; the answer carries five scores and the 28x28 PNG the network saw.
  auto r = c.Post("/api/predict", as_json(bar_drawing()), "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const json j = json::parse(r->body);
  REQUIRE(j["top"].size() == 5);
  double sum = 0;
  for (const json& t : j["top"]) sum += t["probability"].get<double>();
  CHECK(sum <= 1.0 + 1e-9);
  CHECK(j["top"][0]["probability"].get<double>() >= j["top"][4]["probability"].get<double>());
  const std::string url = j["input"].get<std::string>();
  const std::string prefix = "data:image/png;base64,";
  REQUIRE(url.rfind(prefix, 0) == 0);
  const std::string png = base64_decode(url.substr(prefix.size()));
  const Image seen = decode_png(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "input");
  CHECK(seen.width == 28);
  CHECK(seen.height == 28);
  s.server->stop();
}

// Official MNIST (the first test digits are 7, 2, 1), or the offline digits when that is all QUILL_DATA holds.
TEST_CASE("serve: real MNIST test digits get the right top-1 (QUILL_DATA)") {
  const Dataset train = test::real_digits_or_skip(test::DigitsPart::Train, 2000);
  if (train.size() == 0) return;
  // 100 digits: 85% of 20 was within sampling noise of the model's accuracy (19 of the first 20 official test
  // digits, 16 of the offline digits' first 20).
  const int n = 100;
  const Dataset digits = test::real_digits_or_skip(test::DigitsPart::Test, n);
  Running s(trained_model(train));
  httplib::Client c = s.client();
  int right = 0;
  REQUIRE(digits.size() == n);
  for (int i = 0; i < n; ++i) {
    auto r = c.Post("/api/predict", i % 2 ? as_json(digit_drawing(digits, i)) : png_bytes(digit_drawing(digits, i)),
                    i % 2 ? "application/json" : "image/png");
    REQUIRE(r);
    REQUIRE_MESSAGE(r->status == 200, r->body);
    const std::string top = json::parse(r->body)["top"][0]["label"];
    right += top == digits.classes[size_t(digits.labels[size_t(i)])];
  }
  MESSAGE(right << " of " << n << " test digits right");
  // Measured: 95 (official test digits) and 89 (the offline digits' test part); a pipeline that garbles the
  // drawings (inverted ink, wrong framing) scores far below.
  CHECK(right >= 85);
  // The first test digit in particular.
  auto r = c.Post("/api/predict", png_bytes(digit_drawing(digits, 0)), "image/png");
  REQUIRE(r);
  CHECK(json::parse(r->body)["top"][0]["label"] == digits.classes[size_t(digits.labels[0])]);

  // A word: three digits on one line through the read pipeline (segmentation).
  auto w = c.Post("/api/read", as_json(word_drawing(digits, {0, 1, 2})), "application/json");
  REQUIRE(w);
  REQUIRE_MESSAGE(w->status == 200, w->body);
  const json word = json::parse(w->body);
  CHECK(word["characters"].size() == 3);
  std::string expected;
  for (int i : {0, 1, 2}) expected += digits.classes[size_t(digits.labels[size_t(i)])];
  CHECK(word["text"] == expected);
}

TEST_CASE("serve: bad requests get a 4xx with a JSON message and the server keeps serving") {
  Running s(tiny_model());
  httplib::Client c = s.client();

  check_error(c.Post("/api/predict", std::string(5u << 20, 'x'), "image/png"), 413, "too large");
  check_serving(s);
  check_error(c.Post("/api/predict", "this is not a picture", "image/png"), 400, "not a PNG");
  check_serving(s);
  std::string broken = png_bytes(bar_drawing());
  broken.resize(broken.size() / 2);
  check_error(c.Post("/api/predict", broken, "image/png"), 400, "PNG");
  check_serving(s);
  check_error(c.Post("/api/predict", "{\"image\": ", "application/json"), 400, "not valid JSON");
  check_serving(s);
  check_error(c.Post("/api/predict", "{\"picture\": 3}", "application/json"), 400, "missing \"image\"");
  check_error(c.Post("/api/predict", "[1, 2]", "application/json"), 400, "JSON object");
  check_error(c.Post("/api/predict", "{\"image\": \"data:image/png;base64,!!!\"}", "application/json"), 400, "base64");
  check_error(c.Post("/api/predict", "{\"image\": \"data:image/jpeg;base64,AAAA\"}", "application/json"), 415, "PNG");
  check_error(c.Post("/api/predict", "hello", "text/plain"), 415, "Content-Type");
  check_error(c.Post("/api/predict", "", "image/png"), 400, "empty");
  check_serving(s);
  check_error(c.Post("/api/predict", as_json(Image(280, 280, 1.0f)), "application/json"), 422, "empty drawing");
  check_error(c.Post("/api/read", png_bytes(Image(280, 280, 1.0f)), "image/png"), 422, "empty drawing");
  check_error(c.Post("/api/predict", png_bytes(Image(5000, 10, 1.0f)), "image/png"), 413, "too large");
  check_error(c.Get("/no/such/page"), 404, "not found");
  check_serving(s);
}

TEST_CASE("serve: concurrent clients all succeed and are batched") {
  Running s(tiny_model(), /*wait_ms=*/5);
  const std::string body = png_bytes(bar_drawing());
  const int threads = 8, per_thread = 10;
  std::atomic<int> ok{0}, failed{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&] {
      httplib::Client c = s.client();
      for (int i = 0; i < per_thread; ++i) {
        auto r = c.Post("/api/predict", body, "image/png");
        if (r && r->status == 200 && json::parse(r->body)["top"].size() == 5) ++ok;
        else ++failed;
      }
    });
  for (std::thread& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ok == threads * per_thread);
  CHECK(failed == 0);
  CHECK(seconds < 60);
  const BatcherStats stats = s.server->stats();
  MESSAGE((threads * per_thread) << " requests in " << seconds << " s, " << stats.batches - 1 << " forward passes, largest batch "
                               << stats.largest_batch);
  CHECK(stats.requests == threads * per_thread + 1);  // + the warm-up
  // Whether two requests meet within the 5 ms window depends on the scheduler (on a loaded 2-core machine
  // they may not), so this is only a warning; test_serve_batcher.cpp checks the batching deterministically.
  WARN(stats.largest_batch > 1);
  s.server->stop();
}

TEST_CASE("serve: stops cleanly and frees the port") {
  auto s = std::make_unique<Running>(tiny_model());
  const int port = s->server->port();
  check_serving(*s);
  s->server->stop();
  s->server->stop();  // twice is fine
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2, 0);
  CHECK(!c.Get("/"));
  s.reset();
}

#else

TEST_CASE("serve: this build has no HTTP server") {
  CHECK(!quill::serve_available());
  quill::test::skip_test_case("cpp-httplib not found at build time: the serve tests are not built");
}

#endif
