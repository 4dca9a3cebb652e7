#include "data/loader.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "runtime/error.h"
#include "runtime/rng.h"

namespace quill {

BatchLoader::BatchLoader(const Dataset& data, const LoaderOptions& options) : data_(data), options_(options) {
  QUILL_CHECK(options.batch_size >= 1, "batch loader: batch_size must be at least 1, got ", options.batch_size);
  QUILL_CHECK(options.prefetch >= 1 && options.prefetch <= 8, "batch loader: prefetch must be 1..8, got ",
              options.prefetch);
  QUILL_CHECK(data.pixels.size() == size_t(data.size()) * data.rows * data.cols, "batch loader: dataset has ",
              data.pixels.size(), " pixel bytes for ", data.size(), " images of ", data.rows, "x", data.cols);
}

BatchLoader::~BatchLoader() { stop(); }

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = data_.size(), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

std::vector<int64_t> BatchLoader::epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  if (!shuffle) return order;
  QUILL_CHECK(n <= int64_t(UINT32_MAX), "batch loader: cannot shuffle ", n, " samples");
  Rng rng(seed, uint64_t(epoch));
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[rng.below(uint32_t(i + 1))]);
  return order;
}

namespace {

int augment_threads(const LoaderOptions& options, int n) {
  if (!options.augment) return 1;
  int threads = options.threads;
  if (threads <= 0) threads = std::clamp(int(std::thread::hardware_concurrency() / 2), 1, 8);
  return std::max(1, std::min(threads, n / 8));  // a few samples each, or threads cost more than they save
}

}  // namespace

Batch BatchLoader::make_batch(const Dataset& data, const LoaderOptions& options, const std::vector<int64_t>& order,
                              int64_t epoch, int64_t batch_index) {
  const int64_t begin = batch_index * options.batch_size;
  const int64_t end = std::min<int64_t>(begin + options.batch_size, int64_t(order.size()));
  QUILL_CHECK(begin < end, "batch loader: batch ", batch_index, " is past the end of the epoch");
  Batch b;
  b.n = int(end - begin);
  b.rows = data.rows;
  b.cols = data.cols;
  b.epoch = epoch;
  b.batch_index = batch_index;
  const size_t per_image = size_t(data.rows) * data.cols;
  b.images.resize(size_t(b.n) * per_image);
  b.labels.resize(size_t(b.n));
  b.indices.resize(size_t(b.n));
  float table[256];  // pixel / 255, exactly as documented (a multiply by 1/255 rounds differently)
  for (int v = 0; v < 256; ++v) table[v] = float(v) / 255.0f;

  // Samples [k0, k1) of the batch; each depends only on its own (seed, epoch, index).
  auto fill = [&](int k0, int k1) {
    std::vector<uint8_t> scratch(options.augment ? per_image : 0);
    for (int k = k0; k < k1; ++k) {
      const int64_t index = order[size_t(begin + k)];
      const uint8_t* src = data.image(index);
      if (options.augment) {
        augment_sample(src, scratch.data(), data.rows, data.cols, options.augmentation, options.seed, epoch, index);
        src = scratch.data();
      }
      float* dst = b.images.data() + size_t(k) * per_image;
      for (size_t p = 0; p < per_image; ++p) dst[p] = table[src[p]];
      b.labels[size_t(k)] = data.labels[size_t(index)];
      b.indices[size_t(k)] = index;
    }
  };

  const int threads = augment_threads(options, b.n);
  if (threads == 1) {
    fill(0, b.n);
    return b;
  }
  std::vector<std::thread> helpers;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  auto part = [&](int t) {
    try {
      fill(int(int64_t(b.n) * t / threads), int(int64_t(b.n) * (t + 1) / threads));
    } catch (...) {
      errors[size_t(t)] = std::current_exception();
    }
  };
  int started = 1;
  try {
    for (; started < threads; ++started) helpers.emplace_back(part, started);
  } catch (const std::system_error&) {
    // No more threads to be had: this thread does the remaining shares itself.
  }
  for (int t = started; t < threads; ++t) part(t);
  part(0);
  for (std::thread& h : helpers) h.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return b;
}

void BatchLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop();
  const int64_t total = batches_per_epoch();
  QUILL_CHECK(epoch >= 0, "batch loader: epoch must be non-negative, got ", epoch);
  QUILL_CHECK(first_batch >= 0 && first_batch <= total, "batch loader: cannot start epoch ", epoch, " at batch ",
              first_batch, " (it has ", total, " batches)");
  order_ = epoch_order(data_.size(), options_.shuffle, options_.seed, epoch);
  epoch_ = epoch;
  next_batch_ = first_batch;
  started_ = true;
  finished_ = false;
  stop_ = false;
  error_ = nullptr;
  worker_ = std::thread(&BatchLoader::run_worker, this, first_batch, total);
}

void BatchLoader::run_worker(int64_t first_batch, int64_t end_batch) {
  try {
    for (int64_t b = first_batch; b < end_batch; ++b) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || int(queue_.size()) < options_.prefetch; });
        if (stop_) break;
      }
      Batch batch = make_batch(data_, options_, order_, epoch_, b);
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) break;
      queue_.push_back(std::move(batch));
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  changed_.notify_all();
}

bool BatchLoader::next(Batch& out) {
  QUILL_CHECK(started_, "batch loader: call start_epoch before next");
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !queue_.empty() || finished_; });
  if (!queue_.empty()) {
    out = std::move(queue_.front());
    queue_.pop_front();
    ++next_batch_;
    changed_.notify_all();
    return true;
  }
  if (error_) {
    std::exception_ptr e = std::exchange(error_, nullptr);
    lock.unlock();
    stop();
    std::rethrow_exception(e);
  }
  return false;
}

void BatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
  started_ = false;
}

}  // namespace quill
