#pragma once
// The batching queue behind `quill serve`: HTTP worker threads hand in 28x28 samples and wait; one
// inference thread collects what arrives within a short window (or until a batch is full) and runs one
// forward pass for all of it. Only that thread touches the model, so concurrent requests are safe.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace quill {

struct BatcherStats {
  int64_t batches = 0;      // forward passes run
  int64_t samples = 0;      // samples classified
  int64_t requests = 0;     // classify() calls served
  int64_t largest_batch = 0;
};

class Batcher {
 public:
  using Samples = std::vector<std::vector<uint8_t>>;
  using Probabilities = std::vector<std::vector<double>>;
  // `run` classifies a batch (one probability vector per sample); it is only called from the batcher's thread.
  // A batch closes `wait_ms` after its first request arrived, or once it holds `max_batch` samples.
  Batcher(std::function<Probabilities(const Samples&)> run, double wait_ms, int max_batch);
  ~Batcher();  // finishes what is queued, then stops the thread

  // Blocks until the samples are classified; rethrows what `run` threw.
  Probabilities classify(Samples samples);
  BatcherStats stats() const;

 private:
  struct Pending {
    Samples samples;
    std::promise<Probabilities> result;
  };
  void loop();

  std::function<Probabilities(const Samples&)> run_;
  double wait_ms_;
  int max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Pending> queue_;
  bool stopping_ = false;
  BatcherStats stats_;
  std::thread thread_;
};

}  // namespace quill
