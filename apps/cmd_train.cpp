// quill train: trains a model on a dataset, validating and checkpointing every epoch, then tests it
// and writes the model file and its report images. Ctrl-C (or SIGTERM) stops it with a checkpoint.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "data/data_sources.h"
#include "engine/evaluate.h"
#include "kernels/gpu_math.h"
#include "engine/model_file.h"
#include "engine/model_lookup.h"
#include "kernels/placement.h"
#include "apps/progress.h"
#include "engine/recipe.h"
#include "apps/report.h"
#include "engine/train_plan.h"
#include "engine/trainer.h"
#include "data/augment.h"
#include "runtime/text_file.h"

namespace quill {
namespace {

// ---- interruption: Ctrl-C or SIGTERM while training ----

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};

extern "C" void on_interrupt(int signal) {  // async-signal-safe: lock-free atomics only
  g_signal.store(signal);
  g_interrupted.store(true);
}

// While alive, SIGINT and SIGTERM set g_interrupted instead of killing the process, so the trainer finishes
// its step and writes a checkpoint. Each handler is one-shot (SA_RESETHAND): a second Ctrl-C kills at once,
// which loses nothing either, since files are written atomically. A SIGINT the shell set to be ignored (a
// background job, nohup) stays ignored.
class InterruptHandler {
 public:
  InterruptHandler() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    for (int i = 0; i < 2; ++i) {
      sigaction(kSignals[i], nullptr, &previous_[i]);
      if (kSignals[i] == SIGINT && previous_[i].sa_handler == SIG_IGN) continue;
      installed_[i] = sigaction(kSignals[i], &action, nullptr) == 0;
    }
  }
  ~InterruptHandler() {
    for (int i = 0; i < 2; ++i)
      if (installed_[i]) sigaction(kSignals[i], &previous_[i], nullptr);
  }
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

 private:
  static constexpr int kSignals[2] = {SIGINT, SIGTERM};
  struct sigaction previous_[2] {};
  bool installed_[2] = {false, false};
};

struct TrainCommandOptions {
  DataOptions data;
  int val_split = 12;
  std::string model = "cnn";
  std::string init_from;  // a trained model (.quill or .onnx) to start from
  int64_t epochs = 10;
  int batch = 128;
  std::string optimizer = "adamw";
  double lr = 0;             // 0: the optimizer's default
  double weight_decay = -1;  // < 0: the optimizer's default
  std::string schedule = "onecycle";
  double label_smoothing = 0;
  std::string augment = "none";
  uint64_t seed = 1;
  std::string device = "auto", backend = "custom";
  std::string cuda_graph = "off";  // --cuda-graph (engine/train_step.h); not part of the run: allowed on resume
  std::string math = "fp32";  // the GPU backends' math mode (kernels/gpu_math.h)
  std::string out = "model.quill";
  std::string resume;
  int64_t stop_after = 0;
  bool no_report = false;
  bool plan = false;   // --plan: print the resolved run as JSON (engine/train_plan.h) instead of training
  std::string recipe;  // "": the dataset's built-in recipe, if any; "none": no recipe
  CLI::App* command = nullptr;
  // Options that define a run and so cannot change when resuming it.
  std::vector<CLI::Option*> run_defining;
  CLI::Option* out_option = nullptr;
  CLI::Option* data_dir_option = nullptr;
};

double default_lr(const std::string& optimizer) { return optimizer == "sgd" ? 0.05 : 3e-3; }
double default_weight_decay(const std::string& optimizer) {
  if (optimizer == "sgd") return 5e-4;
  return optimizer == "adamw" ? 0.01 : 0.0;
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * fraction);
  return buf;
}

nlohmann::json data_json(const DataOptions& d, const DataSplit& split, int val_split) {
  std::error_code ec;
  const std::string dir = std::filesystem::absolute(resolve_data_dir(d.data_dir), ec).lexically_normal().string();
  return {{"dataset", split.spec}, {"name", split.name},         {"description", split.description},
          {"data_dir", dir},       {"emnist_set", d.emnist_set}, {"train_limit", d.train_limit},
          {"test_limit", d.test_limit}, {"val_split", val_split}, {"classes", split.test.num_classes()}};
}

TrainOptions options_from_command_line(const TrainCommandOptions& o, int64_t batches_per_epoch,
                                       std::string& model_source) {
  TrainOptions t;
  if (!o.init_from.empty()) {  // the model's own description, checked against its weights by start_from
    model_source = o.init_from;
    t.model_description = load_model_file(o.init_from).description;
  } else {
    model_source = find_model_description(o.model);
    t.model_description = read_text_file(model_source, "model description");
  }
  t.epochs = o.epochs;
  t.batch_size = o.batch;
  t.optimizer.kind = o.optimizer;
  t.optimizer.weight_decay = o.weight_decay >= 0 ? o.weight_decay : default_weight_decay(o.optimizer);
  t.schedule.kind = o.schedule;
  t.schedule.lr = o.lr > 0 ? o.lr : default_lr(o.optimizer);
  // A step schedule decays by 10x at a third and at two thirds of the run.
  t.schedule.step_size = std::max<int64_t>(1, o.epochs * batches_per_epoch / 3);
  t.label_smoothing = o.label_smoothing;
  t.augment = o.augment;
  t.seed = o.seed;
  return t;
}

// Restores the data settings a checkpoint was trained with.
void data_options_from_checkpoint(const ModelRecord& ckpt, TrainCommandOptions& o, const std::string& path) {
  try {
    const nlohmann::json& d = ckpt.metadata.at("data");
    o.data.dataset = d.at("dataset").get<std::string>();
    if (!o.data_dir_option->count()) o.data.data_dir = d.at("data_dir").get<std::string>();
    o.data.emnist_set = d.at("emnist_set").get<std::string>();
    o.data.train_limit = d.at("train_limit").get<int64_t>();
    o.data.test_limit = d.at("test_limit").get<int64_t>();
    o.val_split = d.at("val_split").get<int>();
    if (!o.out_option->count()) o.out = ckpt.metadata.at("out").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    fail("checkpoint '", path, "' lacks its data settings (was it written by quill train?)");
  }
}

std::string describe_plan(const Trainer& trainer) {
  const TrainOptions& run = trainer.options();
  std::string plan = "training: " + std::to_string(run.epochs) + " epoch(s) of " +
                     std::to_string(trainer.batches_per_epoch()) + " batches of " + std::to_string(run.batch_size) +
                     ", " + run.optimizer.kind + ", " + run.schedule.kind + " schedule";
  char numbers[96];
  std::snprintf(numbers, sizeof numbers, ", lr %g, weight decay %g", run.schedule.lr, run.optimizer.weight_decay);
  plan += numbers;
  if (run.augment != "none") plan += ", " + run.augment + " augmentation";
  if (run.label_smoothing > 0) {
    std::snprintf(numbers, sizeof numbers, ", label smoothing %g", run.label_smoothing);
    plan += numbers;
  }
  return plan;
}

// After the last epoch: test, save the model with its metadata, draw the report, print the result.
void finish_run(const TrainCommandOptions& o, Trainer& trainer, const DataSplit& split, nlohmann::json metadata,
                double seconds, ProgressPrinter& printer) {
  const TrainOptions& run = trainer.options();
  const Evaluation test = evaluate(trainer.graph(), run.backend, split.test, run.eval_batch_size);
  metadata["finished"] = now_iso8601();
  metadata["epochs"] = run.epochs;
  metadata["train_seconds_this_session"] = seconds;
  metadata["test_accuracy"] = test.accuracy();
  metadata["test_loss"] = test.loss;
  metadata["test_images"] = test.count;
  if (!trainer.history().empty() && std::isfinite(trainer.history().back().val_accuracy))
    metadata["validation_accuracy"] = trainer.history().back().val_accuracy;
  metadata["training"] = to_json(run);
  metadata["training"].erase("model_description");  // stored in its own section
  metadata["history"] = to_json(trainer.history());
  save_model_file(o.out, trainer.model_record(metadata));
  printer.note("model saved to " + o.out + " (checkpoint " + run.checkpoint_path + ")");

  if (!o.no_report) {
    const std::string curves = report_path(o.out, "curves.png"), errors = report_path(o.out, "errors.png"),
                      confusion = report_path(o.out, "confusion.png");
    write_learning_curves(curves, trainer.history());
    write_misclassified_grid(errors, split.test, test.predictions);
    write_confusion_matrix(confusion, confusion_matrix(split.test, test.predictions), split.test.classes);
    printer.note("report: " + curves + ", " + errors + ", " + confusion);
  }
  std::cout << "test accuracy: " << percent(test.accuracy()) << " (" << format_count(double(test.correct)) << " / "
            << format_count(double(test.count)) << " " << split.name << " test images), loss " << test.loss
            << ", trained in " << format_duration(seconds) << "\n";
}

// Applies the recipe as defaults: each of its options that the command line did not give is set as if
// it had been given, through the option itself, so the same checks apply.
Recipe apply_recipe(TrainCommandOptions& o, const std::string& dataset_name) {
  if (o.recipe == "none") return {};
  const std::string path = o.recipe.empty() ? builtin_recipe_for(dataset_name) : find_recipe(o.recipe);
  if (path.empty()) return {};
  Recipe recipe = read_recipe(path);
  for (const RecipeSetting& s : recipe.settings) {
    CLI::Option* option = o.command->get_option("--" + s.option);
    if (option->count() > 0) continue;  // the command line wins
    try {
      option->clear();
      option->add_result(s.value);
      option->run_callback();
    } catch (const CLI::Error& e) {
      fail(path, ":", s.line, ": ", s.option, " ", s.value, ": ", e.what());
    }
  }
  return recipe;
}

// Sets both GPU backends' math mode from --math, and says how the run computes. TF32 asked of a run on the
// CPU is an error rather than a silent float32 run.
std::string apply_math_mode(const TrainCommandOptions& o, const Placement& placement) {
  const bool tf32 = tf32_requested(o.math, placement.device);
  set_gpu_tf32(tf32);
  if (!tf32) return placement.device.is_cpu() ? "float32" : "strict float32";
  if (placement.backend == Backend::Cuda && !custom_tf32_available())
    return "tf32 asked, but the custom kernels were compiled for a GPU before sm_80: strict float32";
  return "TF32 tensor cores in convolutions and dense layers (float32 accumulation)";
}

// --plan: what the run would be, as JSON on stdout: the data split, the recipe, the resolved settings, the
// network as built and every step's learning rate (engine/train_plan.h). Nothing is trained or written.
int print_plan(const TrainCommandOptions& o, const std::string& command_line, const DataSplit& split,
               const Dataset& validation, const Recipe& recipe, const std::vector<std::string>& overridden,
               const std::string& model_source, Trainer& trainer) {
  nlohmann::json plan = train_plan_json(trainer);
  nlohmann::json data = data_json(o.data, split, o.val_split);
  data["class_names"] = split.train.classes;
  data["image_shape"] = {1, split.train.rows, split.train.cols};
  data["train_images"] = split.train.size();  // after the validation images were taken out
  data["validation_images"] = validation.size();
  data["test_images"] = split.test.size();
  data["validation_rule"] =
      o.val_split > 0 ? "every " + std::to_string(o.val_split) + "-th training image (indices k-1, 2k-1, ... of the "
                            "limited training set, k = val_split) is held out for validation"
                      : std::string("none: every training image is trained on");
  nlohmann::json recipe_json = nullptr;
  if (!recipe.path.empty()) {
    recipe_json = {{"path", recipe.path},
                   {"settings", nlohmann::json::object()},
                   {"overridden_by_command_line", nlohmann::json::array()}};
    for (const RecipeSetting& s : recipe.settings) {
      recipe_json["settings"][s.option] = s.value;
      if (std::find(overridden.begin(), overridden.end(), "--" + s.option) != overridden.end())
        recipe_json["overridden_by_command_line"].push_back("--" + s.option);
    }
  }
  nlohmann::json out = {{"quill_plan", 1},
                        {"command_line", command_line},
                        {"data", data},
                        {"recipe", recipe_json},
                        {"model_source", model_source},
                        {"model_description", trainer.options().model_description},
                        {"training", plan["training"]},
                        {"network", plan["network"]},
                        {"learning_rates", plan["learning_rates"]}};
  std::cout << out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return 0;
}

int run_train(TrainCommandOptions& o, const std::string& command_line) {
  ProgressPrinter printer;
  ModelRecord checkpoint;
  const bool resuming = !o.resume.empty();
  QUILL_CHECK(!(o.plan && resuming), "--plan describes a new run; it cannot be combined with --resume");
  // A plan builds the network on the CPU whatever the device: nothing runs.
  const Placement placement = o.plan ? Placement{} : choose_placement(o.device, o.backend);
  const std::string math = o.plan ? std::string() : apply_math_mode(o, placement);
  if (resuming) {
    for (CLI::Option* opt : o.run_defining)
      QUILL_CHECK(opt->count() == 0, opt->get_name(), " cannot be changed when resuming: the run keeps its ",
                  "checkpoint's settings (only --epochs, --device, --backend, --math, --cuda-graph, --data-dir, --out and --stop-after may be given)");
    checkpoint = load_model_file(o.resume);
    QUILL_CHECK(checkpoint.checkpoint.has_value(), "'", o.resume,
                "' is a finished model, not a checkpoint (checkpoints are written as <out>.ckpt)");
    data_options_from_checkpoint(checkpoint, o, o.resume);
  }

  // The output folder is made now, so a path that can't be written fails at once rather than at the
  // first checkpoint, an epoch later.
  const std::filesystem::path out_dir = o.plan ? std::filesystem::path() : std::filesystem::path(o.out).parent_path();
  std::error_code made, ec;
  if (!out_dir.empty()) std::filesystem::create_directories(out_dir, made);
  QUILL_CHECK(out_dir.empty() || std::filesystem::is_directory(out_dir, ec), "--out '", o.out,
              "': cannot create folder '", out_dir.string(), "'", made ? " (" + made.message() + ")" : std::string());

  DataSplit split = load_data(o.data);
  if (!o.plan) printer.note("dataset: " + split.description);
  // A command line overriding a recipe option marks it given (count() > 0) before the recipe applies.
  std::vector<std::string> overridden;
  if (!resuming)
    for (const std::string& name : recipe_options())
      if (o.command->get_option("--" + name)->count() > 0) overridden.push_back("--" + name);
  const Recipe recipe = resuming ? Recipe{} : apply_recipe(o, split.name);
  if (!recipe.path.empty() && !o.plan) {
    std::string line = "recipe: " + recipe.path + " (" + describe(recipe) + ")";
    for (const std::string& given : overridden) line += (given == overridden.front() ? "; from the command line: " : ", ") + given;
    printer.note(line);
  }
  Dataset validation = split_validation(split.train, o.val_split);
  if (validation.size() > 0 && !o.plan)
    printer.note("validation: 1 in " + std::to_string(o.val_split) + " training images held out (" +
                 format_count(double(validation.size())) + "), training on " + format_count(double(split.train.size())));

  std::string model_source;
  TrainOptions options;
  if (resuming) {
    options = checkpoint_train_options(checkpoint.checkpoint->training, o.resume);
    const auto source = checkpoint.metadata.find("model_source");
    model_source = source != checkpoint.metadata.end() && source->is_string() ? source->get<std::string>()
                                                                             : std::string("(checkpoint)");
    const int64_t stored_epochs = options.epochs;
    if (o.epochs > 0 && o.epochs != stored_epochs) {  // o.epochs is 0 unless --epochs was given
      options.epochs = o.epochs;
      if (options.schedule.kind != "constant")
        printer.note("note: --epochs " + std::to_string(o.epochs) + " re-plans the " + options.schedule.kind +
                     " schedule (the checkpoint planned " + std::to_string(stored_epochs) +
                     " epochs); the result will differ from an uninterrupted run");
    }
  } else {
    const int64_t batches = (split.train.size() + o.batch - 1) / o.batch;
    options = options_from_command_line(o, batches, model_source);
  }
  options.device = placement.device;
  options.backend = placement.backend;
  options.cuda_graph = use_cuda_graph(o.cuda_graph, placement);
  options.checkpoint_path = o.out + ".ckpt";

  Trainer trainer(options, split.train, validation.size() > 0 ? &validation : nullptr);
  if (o.plan) return print_plan(o, command_line, split, validation, recipe, overridden, model_source, trainer);
  if (!resuming && !o.init_from.empty()) {
    trainer.start_from(load_model_file(o.init_from), o.init_from);
    printer.note("starting from the weights of " + o.init_from);
  }
  if (resuming) {
    trainer.restore(checkpoint, o.resume);
    printer.note("resuming " + o.resume + " at epoch " + std::to_string(trainer.epochs_done() + 1) + ", step " +
                 std::to_string(trainer.step()));
  }
  if (o.stop_after > 0) {
    // A rehearsed interruption: stop after --stop-after more epochs, leaving the checkpoint.
    const int64_t stop_epoch = std::min(trainer.options().epochs, trainer.epochs_done() + o.stop_after);
    trainer.set_stop_after_steps(stop_epoch * trainer.batches_per_epoch());
  }

  nlohmann::json metadata = {{"data", data_json(o.data, split, o.val_split)},
                             {"model_source", model_source},
                             {"out", o.out},
                             {"seed", options.seed},
                             {"command_line", command_line},
                             {"started", now_iso8601()},
                             {"device", placement.str()},
                             {"math", o.math}};
  if (!recipe.path.empty()) metadata["recipe"] = recipe.path;
  if (resuming) {  // the run's origin stays; how it was continued is added
    for (const char* key : {"started", "command_line"})
      if (checkpoint.metadata.contains(key)) metadata[key] = checkpoint.metadata[key];
    metadata["resumed_with"] = command_line;
  }
  trainer.set_metadata(metadata);

  printer.note("model: " + model_source + " (" + format_count(double(trainer.graph().num_params())) +
               " parameters) on " + placement.str() + ", " + math);
  printer.note(describe_plan(trainer));

  TrainObserver observer;
  observer.on_step = [&](const StepReport& r) { printer.step(r); };
  observer.on_epoch = [&](const EpochRecord& r) { printer.epoch(r, trainer.options().epochs); };
  const auto start = std::chrono::steady_clock::now();
  bool finished = false;
  {
    const InterruptHandler interrupt_handler;
    trainer.set_interrupt_flag(&g_interrupted);
    finished = trainer.run(observer);
    trainer.set_interrupt_flag(nullptr);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!finished && g_interrupted.load()) {
    const std::string signal_name = g_signal.load() == SIGTERM ? "SIGTERM" : "Ctrl-C";
    if (trainer.step() > 0)  // a checkpoint of this position was written (or, resumed without a step, read)
      printer.note("interrupted (" + signal_name + ") in epoch " + std::to_string(trainer.epochs_done() + 1) +
                   " at step " + std::to_string(trainer.step()) + "; checkpoint " + options.checkpoint_path +
                   "; continue with: quill train --resume " + options.checkpoint_path);
    else
      printer.note("interrupted (" + signal_name + ") before the first step; nothing was saved");
    return 128 + g_signal.load();
  }
  if (!finished) {
    printer.note("stopped after epoch " + std::to_string(trainer.epochs_done()) + " (step " +
                 std::to_string(trainer.step()) + "); checkpoint " + options.checkpoint_path +
                 "; continue with: quill train --resume " + options.checkpoint_path);
    return 0;
  }

  finish_run(o, trainer, split, metadata, seconds, printer);
  return 0;
}

}  // namespace

Command add_train_command(CLI::App& quill) {
  auto o = std::make_shared<TrainCommandOptions>();
  CLI::App* cmd = quill.add_subcommand("train", "Train a model on a dataset and save it with a report");
  o->command = cmd;
  add_data_options(cmd, o->data);
  o->data_dir_option = cmd->get_option("--data-dir");
  auto& rd = o->run_defining;
  rd.push_back(cmd->get_option("--dataset"));
  rd.push_back(cmd->get_option("--emnist-set"));
  rd.push_back(cmd->get_option("--test-limit"));
  rd.push_back(cmd->add_option("--train-limit", o->data.train_limit, "Use only the first N training images (0: all)")
                   ->check(non_negative_number()));
  rd.push_back(cmd->add_option("--val-split", o->val_split,
                               "Hold out every K-th training image for per-epoch validation (0: none)")
                   ->capture_default_str());
  CLI::Option* init_from = cmd->add_option("--init-from", o->init_from,
                                           "Start from a trained model's weights and description (.quill or .onnx): fine-tuning");
  rd.push_back(init_from);
  CLI::Option* model = cmd->add_option("--model", o->model, "Model description file, or a built-in name (cnn, small)")
                   ->capture_default_str();
  rd.push_back(model);
  init_from->excludes(model);
  cmd->add_option("--epochs", o->epochs, "Epochs to train (when resuming: the run's new total)")
      ->check(positive_number())
      ->capture_default_str();
  rd.push_back(cmd->add_option("--batch", o->batch, "Mini-batch size")->check(positive_number())->capture_default_str());
  rd.push_back(cmd->add_option("--optimizer", o->optimizer, "sgd (Nesterov momentum 0.9), adam or adamw")
                   ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
                   ->capture_default_str());
  rd.push_back(cmd->add_option("--lr", o->lr, "Learning rate, the peak for onecycle (default: 0.05 sgd, 0.003 adam/adamw)")
                   ->check(positive_number()));
  rd.push_back(cmd->add_option("--weight-decay", o->weight_decay,
                               "Weight decay (default: 5e-4 sgd, 0 adam, 0.01 adamw decoupled)")
                   ->check(non_negative_number()));
  rd.push_back(cmd->add_option("--schedule", o->schedule, "Learning-rate schedule: constant, step, cosine or onecycle")
                   ->check(CLI::IsMember({"constant", "step", "cosine", "onecycle"}))
                   ->capture_default_str());
  rd.push_back(cmd->add_option("--label-smoothing", o->label_smoothing, "Label smoothing in [0, 1)")
                   ->check(CLI::Range(0.0, 0.99))
                   ->capture_default_str());
  rd.push_back(cmd->add_option("--augment", o->augment,
                               "Training augmentation: none; shift (whole pixels, up to 2, no resampling); shift-stroke (shift, "
                               "then strokes up to half a pixel thicker or thinner); shift-reframe (shift, half the EMNIST samples "
                               "first framed as a photo is); affine "
                               "(rotation, scale, shift, shear); or elastic (affine and an elastic distortion)")
                   ->check(CLI::IsMember(augmentation_names()))
                   ->capture_default_str());
  rd.push_back(cmd->add_option("--seed", o->seed, "Seed of every random choice (initialisation, order, augmentation, dropout)")
                   ->capture_default_str());
  rd.push_back(cmd->add_option("--recipe", o->recipe,
                               "Training recipe whose settings are the defaults: a file, a built-in name (models/recipes/), "
                               "or none (default: the dataset's built-in recipe, where there is one)"));
  add_device_options(cmd, o->device, o->backend);
  add_cuda_graph_option(cmd, o->cuda_graph);
  cmd->add_option("--math", o->math,
                  "GPU math: fp32 (strict float32) or tf32 (convolutions and dense layers on TF32 tensor cores, "
                  "float32 accumulation; both GPU backends). The CPU computes in float32 only: --math tf32 with "
                  "a CPU run is an error")
      ->check(CLI::IsMember({"fp32", "tf32"}))
      ->capture_default_str();
  o->out_option = cmd->add_option("--out", o->out, "Model file to write; the checkpoint is <out>.ckpt, report images beside it")
                      ->capture_default_str();
  cmd->add_option("--resume", o->resume, "Continue the run saved in this checkpoint exactly where it stopped");
  cmd->add_option("--stop-after", o->stop_after, "Stop (with a checkpoint) after this many more epochs")
      ->check(positive_number());
  cmd->add_flag("--no-report", o->no_report, "Skip the report images (OUT.curves, .errors and .confusion, PNG and SVG)");
  cmd->add_flag("--plan", o->plan,
                "Print the run as JSON on stdout and exit without training: the data split, the recipe, every "
                "resolved setting, the network as built (each layer's settings, shapes and parameters) and the "
                "learning rate of every step (read by bench/torch_accuracy.py)");
  return {cmd, [o, cmd](const std::string& command_line) {
            if (!o->resume.empty() && cmd->get_option("--epochs")->count() == 0) o->epochs = 0;  // keep the run's
            return run_train(*o, command_line);
          }};
}

}  // namespace quill
