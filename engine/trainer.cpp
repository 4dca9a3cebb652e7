#include "engine/trainer.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "engine/evaluate.h"
#include "data/augment.h"
#include "layers/model_description.h"

namespace quill {
namespace {

using Clock = std::chrono::steady_clock;

// Dropout masks draw from (seed ^ this, step, node) so they share no stream with shuffling and
// initialisation, which draw from the plain seed.
constexpr uint64_t kDropoutSeedMix = 0x9E3779B97F4A7C15ull;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

LoaderOptions loader_options(const TrainOptions& o) {
  LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.shuffle = true;
  lo.seed = o.seed;
  const std::optional<AugmentConfig> augmentation = augmentation_named(o.augment);
  lo.augment = augmentation.has_value();
  if (augmentation) lo.augmentation = *augmentation;
  return lo;
}

void check_options(const TrainOptions& o) {
  QUILL_CHECK(o.epochs >= 1, "the number of epochs must be at least 1, got ", o.epochs);
  QUILL_CHECK(o.batch_size >= 1, "the batch size must be at least 1, got ", o.batch_size);
  QUILL_CHECK(o.eval_batch_size >= 1, "the evaluation batch size must be at least 1");
  augmentation_named(o.augment);  // throws for an unknown name
  QUILL_CHECK(o.label_smoothing >= 0 && o.label_smoothing < 1, "label smoothing must be in [0, 1), got ",
              o.label_smoothing);
}

}  // namespace

namespace {

// Every stored setting of a run, by its place in the JSON: to_json and train_options_from_json walk this one
// list, so a setting cannot be written and not read back.
template <class Options, class Visit>
void visit_stored_settings(Options& o, Visit&& visit) {
  visit("/model_description", o.model_description);
  visit("/epochs", o.epochs);
  visit("/batch_size", o.batch_size);
  visit("/optimizer/kind", o.optimizer.kind);
  visit("/optimizer/momentum", o.optimizer.momentum);
  visit("/optimizer/nesterov", o.optimizer.nesterov);
  visit("/optimizer/beta1", o.optimizer.beta1);
  visit("/optimizer/beta2", o.optimizer.beta2);
  visit("/optimizer/eps", o.optimizer.eps);
  visit("/optimizer/weight_decay", o.optimizer.weight_decay);
  visit("/schedule/kind", o.schedule.kind);
  visit("/schedule/lr", o.schedule.lr);
  visit("/schedule/min_lr", o.schedule.min_lr);
  visit("/schedule/step_size", o.schedule.step_size);
  visit("/schedule/gamma", o.schedule.gamma);
  visit("/schedule/warmup", o.schedule.warmup);
  visit("/schedule/div_factor", o.schedule.div_factor);
  visit("/schedule/final_div", o.schedule.final_div);
  visit("/label_smoothing", o.label_smoothing);
  visit("/augment", o.augment);
  visit("/seed", o.seed);
  visit("/eval_batch_size", o.eval_batch_size);
}

}  // namespace

nlohmann::json to_json(const TrainOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  visit_stored_settings(o, [&](const char* path, const auto& value) { j[nlohmann::json::json_pointer(path)] = value; });
  return j;
}

TrainOptions train_options_from_json(const nlohmann::json& j) {
  TrainOptions o;
  try {
    visit_stored_settings(o, [&](const char* path, auto& value) { j.at(nlohmann::json::json_pointer(path)).get_to(value); });
  } catch (const nlohmann::json::exception& e) {
    fail("the training settings are incomplete: ", e.what());
  }
  return o;
}

TrainOptions checkpoint_train_options(const nlohmann::json& training, const std::string& path) {
  QUILL_CHECK(training.is_object() && training.contains("options"), "checkpoint '", path,
              "' lacks its training settings (was it written by quill train?)");
  try {
    return train_options_from_json(training.at("options"));
  } catch (const Error& e) {
    fail("checkpoint '", path, "': ", e.what());
  }
}

Trainer::Trainer(const TrainOptions& options, const Dataset& train, const Dataset* validation)
    : options_(options), train_(train), validation_(validation), loss_(options.label_smoothing) {
  check_options(options_);
  QUILL_CHECK(train.size() > 0, "the training set is empty");
  QUILL_CHECK(train.num_classes() >= 2, "the training set needs at least 2 classes, has ", train.num_classes());
  const std::optional<AugmentConfig> augmentation = augmentation_named(options_.augment);
  QUILL_CHECK(!augmentation || augmentation->reframe_probability == 0 ||
                  (train.framing == FramingConvention::Emnist && train.rows == 28 && train.cols == 28),
              "--augment ", options_.augment, " frames samples as EMNIST photos are framed: it needs 28x28 EMNIST data");
  if (validation_) {
    QUILL_CHECK(validation_->classes == train.classes, "the validation set's classes differ from the training set's");
    QUILL_CHECK(validation_->rows == train.rows && validation_->cols == train.cols,
                "the validation images' size differs from the training images'");
  }
  graph_ = std::make_unique<Graph>();
  add_to_graph(parse_model_description(options_.model_description), train.num_classes(), *graph_);
  graph_->build(Shape{1, train.rows, train.cols}, DType::F32, options_.device, options_.seed);
  QUILL_CHECK(graph_->output_shape() == Shape{train.num_classes()}, "the model's output has shape ",
              graph_->output_shape().str(), " but the dataset has ", train.num_classes(),
              " classes: end the model with `dense classes`");
  optimizer_ = std::make_unique<Optimizer>(options_.optimizer, *graph_);
  step_runner_ = std::make_unique<TrainStep>(*graph_, *optimizer_, loss_, options_.backend,
                                             options_.seed ^ kDropoutSeedMix, options_.cuda_graph);
  device_sums_ = !options_.device.is_cpu() || options_.cuda_graph;
  if (device_sums_) sums_ = Tensor::zeros(Shape{2}, DType::F64, options_.device);
  loader_ = std::make_unique<BatchLoader>(train_, loader_options(options_));
  LrSchedule check_schedule(options_.schedule, total_steps());  // reports a bad schedule before training
}

Trainer::~Trainer() = default;

int64_t Trainer::batches_per_epoch() const { return loader_->batches_per_epoch(); }

void Trainer::start_from(const ModelRecord& model, const std::string& path) {
  QUILL_CHECK(step_ == 0, "a run starts from a model's weights before its first step, not at step ", step_);
  QUILL_CHECK(model.description == options_.model_description, "'", path, "' was built from another model description");
  QUILL_CHECK(model.input_shape == graph_->input_shape(), "'", path, "' takes ", model.input_shape.str(),
              " images, this dataset's are ", graph_->input_shape().str());
  ModelRecord weights = model;
  weights.weights = model.weights.cast(graph_->dtype());  // a float64 model trains on in float32, as every run
  for (Tensor& b : weights.buffers) b = b.cast(graph_->dtype());
  restore_weights(weights, *graph_, path);
}

void Trainer::restore(const ModelRecord& ckpt, const std::string& path) {
  const std::string what = "checkpoint '" + path + "'";
  QUILL_CHECK(ckpt.checkpoint.has_value(), what, " holds a finished model, not a training checkpoint");
  QUILL_CHECK(ckpt.description == options_.model_description, what, " was trained with another model description");
  QUILL_CHECK(ckpt.classes == train_.classes, what, " has ", ckpt.classes.size(),
              " classes, different from this dataset's ", train_.classes.size());
  const nlohmann::json& state = ckpt.checkpoint->training;
  try {
    const int64_t train_size = state.at("train_size").get<int64_t>();
    QUILL_CHECK(train_size == train_.size(), what, " was trained on ", train_size, " images, this run has ",
                train_.size(), ": use the same dataset and limits");
    const nlohmann::json& pos = state.at("position");
    epoch_ = pos.at("epoch").get<int64_t>();
    batch_ = pos.at("batch").get<int64_t>();
    step_ = pos.at("step").get<int64_t>();
    const nlohmann::json& partial = state.at("partial");
    epoch_loss_sum_ = partial.at("loss_sum").get<double>();
    epoch_seconds_ = partial.at("seconds").get<double>();
    epoch_correct_ = partial.at("correct").get<int64_t>();
    epoch_seen_ = partial.at("seen").get<int64_t>();
    last_lr_ = partial.at("learning_rate").get<double>();
    history_ = history_from_json(state.at("history"));
  } catch (const nlohmann::json::exception& e) {
    fail(what, " has an incomplete training state: ", e.what());
  }
  QUILL_CHECK(batch_ >= 0 && batch_ <= batches_per_epoch() && epoch_ >= 0 && step_ >= 0, what,
              " has an invalid position (epoch ", epoch_, ", batch ", batch_, ")");
  restore_weights(ckpt, *graph_, path);
  std::vector<Tensor*> slots = optimizer_->state();
  const std::vector<Tensor>& saved = ckpt.checkpoint->optimizer_state;
  QUILL_CHECK(saved.size() == slots.size(), what, " holds ", saved.size(), " optimizer state tensors, ",
              options_.optimizer.kind, " needs ", slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    QUILL_CHECK(saved[i].numel() == slots[i]->numel() && saved[i].dtype() == slots[i]->dtype(), what,
                ": optimizer state ", i, " does not fit the model");
    slots[i]->copy_from(saved[i].view(slots[i]->shape()));
  }
  optimizer_->set_steps(ckpt.checkpoint->optimizer_steps);
}

bool Trainer::run(const TrainObserver& observer) {
  const LrSchedule schedule(options_.schedule, total_steps());
  const int64_t batches = batches_per_epoch();
  auto should_stop = [&] {
    return interrupted() || (options_.stop_after_steps >= 0 && step_ >= options_.stop_after_steps);
  };
  while (!finished()) {
    if (batch_ < batches) {
      loader_->start_epoch(epoch_, batch_);
      if (device_sums_) write_device_sums();
      Batch batch;
      auto t0 = Clock::now();
      while (!should_stop() && loader_->next(batch)) {
        train_one_step(batch, schedule);
        epoch_seconds_ += seconds_since(t0);
        t0 = Clock::now();
        if (observer.on_step) {
          StepReport r;
          r.epoch = epoch_ + 1;
          r.epochs = options_.epochs;
          r.batch = batch_;
          r.batches = batches;
          r.learning_rate = last_lr_;
          r.images_per_second = epoch_seconds_ > 0 ? epoch_seen_ / epoch_seconds_ : 0;
          const double steps_per_second = epoch_seconds_ > 0 ? batch_ / epoch_seconds_ : 0;
          r.eta_seconds = steps_per_second > 0 ? double(total_steps() - step_) / steps_per_second : 0;
          r.read_stats = [this] {
            if (device_sums_) {  // waits for the device: only when an observer asks
              read_device_sums();
              check_loss_finite();
              last_step_loss_ = loss_.value();
            }
            return StepReport::Stats{epoch_loss_sum_ / double(epoch_seen_),
                                     double(epoch_correct_) / double(epoch_seen_), last_step_loss_};
          };
          observer.on_step(r);
        }
      }
      loader_->stop();
      // Before evaluation or a checkpoint runs or reads the model: no recorded step may outlive this run.
      step_runner_->reset();
      if (device_sums_) {
        const auto t = Clock::now();
        read_device_sums();  // also waits for the queued steps, whose time belongs to the epoch
        epoch_seconds_ += seconds_since(t);
        check_loss_finite();
      }
    }
    if (batch_ == batches) finish_epoch(observer);
    if (should_stop() && !finished()) {
      if (!options_.checkpoint_path.empty() && batch_ != 0) {  // an epoch's end was just checkpointed
        save_checkpoint(options_.checkpoint_path, metadata_);
        if (observer.on_checkpoint) observer.on_checkpoint(options_.checkpoint_path);
      }
      return false;
    }
  }
  return true;
}

void Trainer::train_one_step(const Batch& batch, const LrSchedule& schedule) {
  tensors_.upload(batch, graph_->dtype(), graph_->device());
  last_lr_ = schedule.at(step_);
  step_runner_->run(tensors_.images(), tensors_.labels(), uint64_t(step_), last_lr_, device_sums_ ? &sums_ : nullptr);
  if (!device_sums_) {
    last_step_loss_ = loss_.value();
    epoch_loss_sum_ += last_step_loss_ * batch.n;
    epoch_correct_ += loss_.correct(options_.backend, tensors_.labels());
  }
  epoch_seen_ += batch.n;
  ++step_;
  ++batch_;
  if (!device_sums_) check_loss_finite();
}

void Trainer::check_loss_finite() const {
  if (std::isfinite(epoch_loss_sum_)) return;
  fail("training diverged: the loss became ", std::isnan(epoch_loss_sum_) ? "NaN" : "infinite", " in epoch ",
       epoch_ + 1, " (by step ", step_, ", learning rate ", last_lr_,
       "); nothing of this epoch was saved. Try a lower --lr");
}

void Trainer::check_weights_finite() const {
  Tensor& weights = graph_->flat_values();
  const Tensor host = weights.device().is_cpu() ? weights : weights.to(Device::cpu());
  bool finite = true;
  if (host.dtype() == DType::F32) {
    const float* w = host.data<float>();
    for (int64_t i = 0; i < host.numel(); ++i) finite &= std::isfinite(w[i]);
  } else {
    const double* w = host.data<double>();
    for (int64_t i = 0; i < host.numel(); ++i) finite &= std::isfinite(w[i]);
  }
  QUILL_CHECK(finite, "training diverged: the weights hold NaN or infinite values after epoch ", epoch_ + 1,
              " (learning rate ", last_lr_, "); nothing of this epoch was saved. Try a lower --lr");
}

void Trainer::write_device_sums() {
  Tensor host = Tensor::empty(Shape{2}, DType::F64);
  host.data<double>()[0] = epoch_loss_sum_;
  host.data<double>()[1] = double(epoch_correct_);
  sums_.copy_from(host);
}

void Trainer::read_device_sums() {
  const Tensor host = sums_.to(Device::cpu());
  epoch_loss_sum_ = host.data<double>()[0];
  epoch_correct_ = int64_t(host.data<double>()[1]);
}

void Trainer::finish_epoch(const TrainObserver& observer) {
  check_weights_finite();  // before validation and the checkpoint read them
  EpochRecord r;
  r.epoch = epoch_ + 1;
  r.train_loss = epoch_loss_sum_ / double(epoch_seen_);
  r.train_accuracy = double(epoch_correct_) / double(epoch_seen_);
  r.learning_rate = last_lr_;
  r.seconds = epoch_seconds_;
  r.images_per_second = epoch_seconds_ > 0 ? epoch_seen_ / epoch_seconds_ : 0;
  r.val_loss = r.val_accuracy = std::numeric_limits<double>::quiet_NaN();
  if (validation_ && validation_->size() > 0) {
    const Evaluation ev = evaluate(*graph_, options_.backend, *validation_, options_.eval_batch_size);
    r.val_loss = ev.loss;
    r.val_accuracy = ev.accuracy();
  }
  history_.push_back(r);
  ++epoch_;
  batch_ = 0;
  epoch_loss_sum_ = epoch_seconds_ = 0;
  epoch_correct_ = epoch_seen_ = 0;
  if (!options_.checkpoint_path.empty()) {
    save_checkpoint(options_.checkpoint_path, metadata_);
    if (observer.on_checkpoint) observer.on_checkpoint(options_.checkpoint_path);
  }
  if (observer.on_epoch) observer.on_epoch(r);
}

ModelRecord Trainer::model_record(const nlohmann::json& metadata) const {
  ModelRecord r = capture_model(*graph_, options_.model_description, train_.classes, train_.framing);
  r.metadata = metadata;
  return r;
}

ModelRecord Trainer::checkpoint_record(const nlohmann::json& metadata) const {
  ModelRecord r = model_record(metadata);
  CheckpointState c;
  c.optimizer_steps = optimizer_->steps();
  for (Tensor* t : optimizer_->state())
    c.optimizer_state.push_back(t->device().is_cpu() ? t->clone() : t->to(Device::cpu()));
  c.training = {{"options", to_json(options_)},
                {"train_size", train_.size()},
                {"total_steps", total_steps()},
                {"position", {{"epoch", epoch_}, {"batch", batch_}, {"step", step_}}},
                {"partial",
                 {{"loss_sum", epoch_loss_sum_},
                  {"seconds", epoch_seconds_},
                  {"correct", epoch_correct_},
                  {"seen", epoch_seen_},
                  {"learning_rate", last_lr_}}},
                {"history", to_json(history_)}};
  r.checkpoint = std::move(c);
  return r;
}

void Trainer::save_checkpoint(const std::string& path, const nlohmann::json& metadata) const {
  save_model_file(path, checkpoint_record(metadata));
}

}  // namespace quill
