// quill serve: a web page to draw characters on and a JSON API that classifies them with a saved model
// (apps/serve/serve_server.h). Listens on 127.0.0.1 unless --host says otherwise; stops on Ctrl-C / SIGTERM.
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include <pthread.h>

#include "apps/commands.h"
#include "apps/serve/serve_server.h"
#include "runtime/error.h"

namespace quill {
namespace {

int run_serve(const ServeOptions& o) {
  if (!serve_available()) {
    std::fprintf(stderr, "quill: error: this build has no HTTP server (install libcpp-httplib-dev and rebuild)\n");
    return 1;
  }
  // SIGINT/SIGTERM are taken by one thread (blocked in all others, which inherit the mask) that stops
  // the server, so listen() returns and everything shuts down in order.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Server server(o);
  const int port = server.bind();
  const std::string shown_host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  std::printf("quill serve: model %s on %s, listening on http://%s:%d/\n", o.model.c_str(), server.device().c_str(),
              shown_host.c_str(), port);
  std::fflush(stdout);
  std::thread([&server, signals] {
    int which = 0;
    sigwait(&signals, &which);
    server.stop();
  }).detach();
  server.listen();
  const BatcherStats s = server.stats();
  std::printf("quill serve: stopped after %lld classification requests in %lld forward passes (largest batch %lld)\n",
              (long long)s.requests - 1, (long long)s.batches - 1, (long long)s.largest_batch);
  return 0;
}

}  // namespace

Command add_serve_command(CLI::App& quill) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = quill.add_subcommand("serve", "Serve a drawing page and a JSON API that classifies characters");
  cmd->add_option("--model", o->model, "Model file (.quill)")->required();
  cmd->add_option("--port", o->port, "TCP port (0: any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--host", o->host, "Address to listen on (loopback only by default)")->capture_default_str();
  cmd->add_option("--batch-wait-ms", o->batch_wait_ms,
                  "How long a batch collects concurrent requests before one forward pass")
      ->check(non_negative_number())
      ->capture_default_str();
  cmd->add_option("--max-batch", o->max_batch, "Most samples in one forward pass")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "HTTP worker threads")->check(positive_number())->capture_default_str();
  cmd->add_flag_callback("--log", [o] { o->request_log = stderr; }, "Print one line per request on stderr");
  add_device_options(cmd, o->device, o->backend);
  return {cmd, [o](const std::string&) { return run_serve(*o); }};
}

}  // namespace quill
