#pragma once
// Mini-batches for training and evaluation, prepared on a background thread.
//
// Each epoch visits every sample once, in a permutation drawn from quill::Rng(seed, epoch) (Fisher-Yates),
// or in dataset order without shuffling. Images become floats x = pixel / 255 in [0, 1], laid out
// n x 1 x rows x cols; mean/std normalisation is left to the model. Optional augmentation
// (data/augment.h) depends only on (seed, epoch, sample index), so a run is reproducible from its seed
// and an epoch can start at any batch: start_epoch(e, k) yields exactly batches k.. of the
// uninterrupted epoch e (resume from a checkpoint).
//
// The loader keeps a reference to the dataset, which must outlive it.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"

namespace quill {

struct Batch {
  int n = 0;                     // samples in this batch
  int rows = 0, cols = 0;
  std::vector<float> images;     // n * 1 * rows * cols, pixel / 255
  std::vector<int32_t> labels;   // n
  std::vector<int64_t> indices;  // n dataset indices, for tracing samples back
  int64_t epoch = 0, batch_index = 0;
};

struct LoaderOptions {
  int batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool augment = false;  // apply `augmentation` to every sample
  AugmentConfig augmentation;
  bool drop_last = false;  // drop a final batch smaller than batch_size
  int prefetch = 2;        // batches prepared ahead of the consumer, 1..8
  // Threads that augment one batch together (results never depend on it); 0: half the cores, at most 8.
  // Without augmentation a batch is a copy and one thread makes it.
  int threads = 0;
};

class BatchLoader {
 public:
  BatchLoader(const Dataset& data, const LoaderOptions& options);
  ~BatchLoader();  // stops and joins the worker, mid-epoch included
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts (or restarts) epoch `epoch` at batch `first_batch`; a running epoch is abandoned.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch; false once the epoch is done. Rethrows a worker's error.
  bool next(Batch& out);
  // Stops the worker; the next call must be start_epoch.
  void stop();

  int64_t batches_per_epoch() const;
  int64_t epoch() const { return epoch_; }
  // The batch index next() returns next: save it with a checkpoint, resume with start_epoch(epoch(), it).
  int64_t next_batch_index() const { return next_batch_; }
  const LoaderOptions& options() const { return options_; }

  // The sample order of epoch `epoch`: a permutation of 0..n-1 from Rng(seed, epoch), or 0..n-1.
  static std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch);
  // Builds batch `batch_index` of an epoch whose order is `order` (what the worker runs).
  static Batch make_batch(const Dataset& data, const LoaderOptions& options, const std::vector<int64_t>& order,
                          int64_t epoch, int64_t batch_index);

 private:
  void run_worker(int64_t first_batch, int64_t end_batch);

  const Dataset& data_;
  LoaderOptions options_;
  int64_t epoch_ = 0;
  int64_t next_batch_ = 0;
  bool started_ = false;
  std::vector<int64_t> order_;

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;  // queue, finished_ or stop_ changed
  std::deque<Batch> queue_;
  bool finished_ = false;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace quill
