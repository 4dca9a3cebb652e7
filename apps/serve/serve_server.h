#pragma once
// The HTTP server behind `quill serve` (cpp-httplib): one page (apps/serve/web/index.html, embedded in the
// binary) and a JSON API over a loaded model, with requests batched into shared forward passes
// (apps/serve/serve_batcher.h).
//
//   GET  /              the page
//   GET  /api/info      the model: classes, framing, device, limits
//   GET  /api/stats     requests, forward passes, largest batch
//   POST /api/predict   one character  -> {"top": [{"label", "probability"} x5], "input": PNG data URL}
//   POST /api/read      a word, line or page -> {"text" (lines joined by "\n"), "characters": [{"x","y","width",
//                       "height","line","space_before","top","input"}], "lines": [{"x","y","width","height","text",
//                       "confidence","words": [{"x","y","width","height","text","confidence"}]}]}
// A drawing is sent as raw PNG bytes (Content-Type: image/png) or as JSON {"image": "data:image/png;base64,..."}
// (plain base64 also accepted; optional "top_k"). Errors are 4xx with {"error": "..."}: 400 bad JSON or
// not a PNG, 404 no such path, 405 a method the path does not answer (with Allow), 413 body over the limit
// (as decoded, whatever its transfer or content encoding) or image too large, 415 unsupported content type,
// 422 empty drawing (apps/serve/serve_request.h reads the body).
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/serve/serve_batcher.h"

namespace quill {

struct ServeOptions {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  std::string device = "auto", backend = "custom";
  double batch_wait_ms = 2;               // how long a batch collects requests after the first arrives
  int max_batch = 64;                     // samples per forward pass at most
  size_t max_body_bytes = 4u << 20;       // larger request bodies get 413; no more is ever held in memory
  int max_image_side = 4096;              // larger drawings get 413 (decoded size stays bounded)
  int threads = 16;                       // HTTP worker threads
  std::FILE* request_log = nullptr;       // one line per request when set (quill serve --log: stderr)
};

// False when this build has no HTTP server (cpp-httplib was not found at build time).
bool serve_available();

class Server {
 public:
  explicit Server(const ServeOptions& options);  // loads the model and warms it up; throws quill::Error
  ~Server();                                      // stops if running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: a free one chosen by the system) and returns the port. Throws on failure.
  int bind();
  // Serves until stop(); binds first if bind() was not called.
  void listen();
  // listen() on a background thread; returns once the server accepts connections.
  void start();
  // Makes listen() return and joins the background thread of start(). Safe to call more than once.
  void stop();

  int port() const;
  std::string device() const;  // where inference runs, e.g. "cpu" or "cuda:0 (custom CUDA kernels)"
  BatcherStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quill
