#pragma once
// The training loop: mini-batch gradient descent over a BatchLoader with softmax cross-entropy, an
// optimizer over the flat parameter buffer and a learning-rate schedule over all steps of the run;
// validation after every epoch and an atomic checkpoint after every epoch.
//
// Exact resume: every random choice depends only on the seed and a position — weight initialisation
// on (seed), shuffling on (seed, epoch), augmentation on (seed, epoch, sample), dropout masks on
// (seed, step, node) — so a checkpoint holding weights, batch-norm buffers, optimizer state and the
// (epoch, batch, step) position continues a run bit for bit: N epochs in one go equal k epochs,
// a checkpoint, and N-k more (on the CPU, whose kernels are deterministic).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/batch_tensors.h"
#include "engine/model_file.h"
#include "engine/train_step.h"
#include "engine/training_history.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "layers/graph.h"
#include "layers/loss.h"
#include "layers/optimizer.h"
#include "layers/schedule.h"

namespace quill {

struct TrainOptions {
  std::string model_description;  // the description text
  int64_t epochs = 10;
  int batch_size = 128;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  double label_smoothing = 0.0;
  std::string augment = "none";  // none, affine, elastic
  uint64_t seed = 1;
  int eval_batch_size = 256;
  // Not part of the run's identity (may change when resuming):
  Device device = Device::cpu();
  Backend backend = Backend::Cpu;
  std::string checkpoint_path;     // written after every epoch when set
  int64_t stop_after_steps = -1;   // stop early (with a checkpoint) after this many steps in total; -1: never
  // Replay each training step from a CUDA graph recorded once per epoch (engine/train_step.h; --cuda-graph).
  // Off by default until verified on a GPU. Gives the same bits as off. On the CPU (tests only) it runs the
  // same path with a stand-in graph that calls the step again.
  bool cuda_graph = false;
};

// The run settings as stored in checkpoints, and back (device, backend and paths are not stored).
nlohmann::json to_json(const TrainOptions& options);
TrainOptions train_options_from_json(const nlohmann::json& j);
// The run settings of a checkpoint's training state (CheckpointState::training, as Trainer writes it);
// a missing or malformed part is a quill::Error naming `path`.
TrainOptions checkpoint_train_options(const nlohmann::json& training, const std::string& path);

struct StepReport {
  int64_t epoch = 0, epochs = 0;    // 1-based epoch
  int64_t batch = 0, batches = 0;   // batches done in this epoch, of
  double learning_rate = 0;
  double images_per_second = 0;
  double eta_seconds = 0;           // to the end of training, validation excluded

  // Running means over the epoch so far, and this step's batch alone. On a GPU these live on the device
  // until asked for: the first call waits for the step to finish and reads them, so an observer that
  // prints only now and then does not make every step wait for the host.
  double loss() const { return stats().loss; }
  double accuracy() const { return stats().accuracy; }
  double step_loss() const { return stats().step_loss; }

  struct Stats {
    double loss = 0, accuracy = 0, step_loss = 0;
  };
  std::function<Stats()> read_stats;  // set by the trainer

 private:
  const Stats& stats() const {
    if (!stats_) stats_ = read_stats();
    return *stats_;
  }
  mutable std::optional<Stats> stats_;
};

struct TrainObserver {
  std::function<void(const StepReport&)> on_step;
  std::function<void(const EpochRecord&)> on_epoch;       // after validation
  std::function<void(const std::string& path)> on_checkpoint;
};

class Trainer {
 public:
  // Builds the network from options.model_description for the training set's classes and image size.
  // `validation` may be null (no per-epoch validation); both datasets must outlive the trainer.
  Trainer(const TrainOptions& options, const Dataset& train, const Dataset* validation);
  ~Trainer();

  // Starts from a trained model's weights and buffers instead of the seeded initialisation (fine-tuning; the
  // model's description must be options.model_description). Before the first step only.
  void start_from(const ModelRecord& model, const std::string& path);
  // Continues from a checkpoint of the same run: weights, buffers, optimizer state, position, history.
  void restore(const ModelRecord& checkpoint, const std::string& path);

  // Trains until all epochs are done (true), or until options.stop_after_steps is reached or the interrupt
  // flag is set (false): the step in progress finishes and, with a checkpoint path, a checkpoint of the
  // position is written (resuming from it continues exactly).
  bool run(const TrainObserver& observer = {});
  // A flag a signal handler sets (Ctrl-C); null: none. It must outlive run().
  void set_interrupt_flag(const std::atomic<bool>* flag) { interrupt_ = flag; }
  bool interrupted() const { return interrupt_ != nullptr && interrupt_->load(); }

  Graph& graph() { return *graph_; }
  const TrainOptions& options() const { return options_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  int64_t step() const { return step_; }
  int64_t epochs_done() const { return epoch_; }
  int64_t batches_per_epoch() const;
  int64_t total_steps() const { return options_.epochs * batches_per_epoch(); }
  bool finished() const { return epoch_ >= options_.epochs; }

  // The trained model, with `metadata` stored as is.
  ModelRecord model_record(const nlohmann::json& metadata) const;
  // The model plus everything needed to continue (what checkpoints hold).
  ModelRecord checkpoint_record(const nlohmann::json& metadata) const;
  void save_checkpoint(const std::string& path, const nlohmann::json& metadata) const;

  void set_stop_after_steps(int64_t steps) { options_.stop_after_steps = steps; }

  // Metadata written into records by the trainer's own checkpoints.
  void set_metadata(nlohmann::json metadata) { metadata_ = std::move(metadata); }

 private:
  void train_one_step(const Batch& batch, const LrSchedule& schedule);
  void finish_epoch(const TrainObserver& observer);
  // The device's running sums: written from the host fields at the start of a run of steps, read back into
  // them when a report asks and at the end of the run (a wait for the device).
  void write_device_sums();
  void read_device_sums();
  // A run whose loss or weights are no longer finite has diverged (usually a learning rate too high):
  // these throw, naming the epoch and learning rate, so that nothing of it is saved under a model's name.
  void check_loss_finite() const;
  void check_weights_finite() const;

  TrainOptions options_;
  const Dataset& train_;
  const Dataset* validation_;
  std::unique_ptr<Graph> graph_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<BatchLoader> loader_;
  SoftmaxCrossEntropy loss_;
  BatchTensors tensors_;
  std::unique_ptr<TrainStep> step_runner_;
  // On a GPU (and with cuda_graph) the epoch's loss sum and correct count are added up on the device
  // (float64 [2]), so no step waits for the host; on the CPU the host adds them up after every step.
  bool device_sums_ = false;
  Tensor sums_;
  nlohmann::json metadata_ = nlohmann::json::object();
  const std::atomic<bool>* interrupt_ = nullptr;

  // Position: the next step, epoch (0-based) and batch of the epoch.
  int64_t step_ = 0, epoch_ = 0, batch_ = 0;
  // Sums over the current epoch so far (kept in checkpoints so a resumed epoch reports the same figures).
  double epoch_loss_sum_ = 0, epoch_seconds_ = 0;
  int64_t epoch_correct_ = 0, epoch_seen_ = 0;
  double last_lr_ = 0, last_step_loss_ = 0;  // last_step_loss_: only with host sums
  std::vector<EpochRecord> history_;
};

}  // namespace quill
