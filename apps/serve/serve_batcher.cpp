#include "apps/serve/serve_batcher.h"

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

namespace quill {

Batcher::Batcher(std::function<Probabilities(const Samples&)> run, double wait_ms, int max_batch)
    : run_(std::move(run)), wait_ms_(wait_ms), max_batch_(max_batch < 1 ? 1 : max_batch) {
  thread_ = std::thread([this] { loop(); });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Batcher::Probabilities Batcher::classify(Samples samples) {
  if (samples.empty()) return {};
  std::future<Probabilities> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Pending p;
    p.samples = std::move(samples);
    done = p.result.get_future();
    queue_.push_back(std::move(p));
  }
  wake_.notify_all();
  return done.get();
}

BatcherStats Batcher::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void Batcher::loop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // Collect for up to wait_ms after the first request, or until the batch is full.
    const auto deadline = Clock::now() + std::chrono::duration<double, std::milli>(wait_ms_);
    auto queued = [&] {
      size_t n = 0;
      for (const Pending& p : queue_) n += p.samples.size();
      return n;
    };
    while (!stopping_ && queued() < size_t(max_batch_))
      if (wake_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    // Take whole requests up to max_batch samples (at least one request, however large).
    std::vector<Pending> batch;
    size_t n = 0;
    size_t take = 0;
    while (take < queue_.size() && (take == 0 || n + queue_[take].samples.size() <= size_t(max_batch_)))
      n += queue_[take++].samples.size();
    for (size_t i = 0; i < take; ++i) batch.push_back(std::move(queue_[i]));
    queue_.erase(queue_.begin(), queue_.begin() + long(take));
    // Counted before any caller is answered, so a caller that reads stats() afterwards sees its batch.
    stats_.batches += 1;
    stats_.samples += int64_t(n);
    stats_.requests += int64_t(batch.size());
    if (int64_t(n) > stats_.largest_batch) stats_.largest_batch = int64_t(n);
    lock.unlock();

    Samples all;
    all.reserve(n);
    for (const Pending& p : batch) all.insert(all.end(), p.samples.begin(), p.samples.end());
    try {
      Probabilities probs = run_(all);
      if (probs.size() != all.size())
        throw std::logic_error("serve: the model answered " + std::to_string(probs.size()) + " rows for " +
                               std::to_string(all.size()) + " samples");
      size_t at = 0;
      for (Pending& p : batch) {
        Probabilities mine(std::make_move_iterator(probs.begin() + long(at)),
                           std::make_move_iterator(probs.begin() + long(at + p.samples.size())));
        at += p.samples.size();
        p.result.set_value(std::move(mine));
      }
    } catch (...) {
      for (Pending& p : batch) p.result.set_exception(std::current_exception());
    }

    lock.lock();
  }
}

}  // namespace quill
