// quill eval: a saved model's loss and accuracy on a test set, per class, its most confused pairs and
// optionally a confusion-matrix heat map and a sheet of misclassified images.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "data/data_sources.h"
#include "engine/evaluate.h"
#include "engine/model_file.h"
#include "kernels/placement.h"
#include "apps/progress.h"
#include "apps/report.h"

namespace quill {
namespace {

struct EvalOptions {
  std::string model;
  DataOptions data;
  std::string device = "auto", backend = "custom";
  int batch = 256;
  int top_pairs = 10;
  std::string confusion, errors;
};

// Without --dataset, the data the model was trained on (as far as the metadata tells).
void default_to_training_data(const ModelRecord& record, EvalOptions& o) {
  if (!o.data.dataset.empty() || !record.metadata.contains("data")) return;
  const nlohmann::json& d = record.metadata["data"];
  o.data.dataset = d.value("dataset", std::string());
  if (o.data.emnist_set == "byclass") o.data.emnist_set = d.value("emnist_set", o.data.emnist_set);
  const char* env = std::getenv("QUILL_DATA");
  if (o.data.data_dir.empty() && !(env && *env)) o.data.data_dir = d.value("data_dir", std::string());
}

int run_eval(EvalOptions& o) {
  const Placement placement = choose_placement(o.device, o.backend);
  const ModelRecord record = load_model_file(o.model);
  default_to_training_data(record, o);
  std::unique_ptr<Graph> graph = build_model(record, placement.device, o.model);
  const DataSplit split = load_data(o.data, /*need_train=*/false);
  std::cerr << "dataset: " << split.description << "\n";
  QUILL_CHECK(split.test.size() > 0, "the test set is empty");
  // A model with finer classes than the dataset (EMNIST ByClass on merged labels) is scored by folding.
  ClassFold fold;
  if (split.test.classes != record.classes) {
    try {
      fold = fold_classes(record.classes, split.test.classes);
    } catch (const Error& e) {
      fail("the model's ", record.classes.size(), " classes don't match the dataset's ", split.test.num_classes(),
           " (", split.name, "): ", e.what());
    }
    std::string folded;
    for (size_t k = 0; k < fold.size(); ++k)
      if (record.classes[k] != split.test.classes[size_t(fold[k])])
        folded += " " + record.classes[k] + "->" + split.test.classes[size_t(fold[k])];
    std::cerr << "scoring the model's " << record.classes.size() << " classes as the dataset's "
              << split.test.num_classes() << ":" << folded << "\n";
  }
  const std::vector<std::string>& names = split.test.classes;

  const Evaluation ev = evaluate(*graph, placement.backend, split.test, o.batch, fold.empty() ? nullptr : &fold);
  const ConfusionMatrix matrix = confusion_matrix(split.test, ev.predictions);
  std::printf("model: %s on %s\n", o.model.c_str(), placement.str().c_str());
  std::printf("test set: %s, %s images\n", split.name.c_str(), format_count(double(ev.count)).c_str());
  std::printf("loss: %.4f\naccuracy: %.2f%% (%s / %s)\n\n", ev.loss, 100 * ev.accuracy(),
              format_count(double(ev.correct)).c_str(), format_count(double(ev.count)).c_str());

  std::printf("per-class accuracy:\n");
  const std::vector<double> per_class = per_class_accuracy(matrix);
  for (size_t c = 0; c < per_class.size(); ++c) {
    int64_t total = 0;
    for (int64_t n : matrix[c]) total += n;
    if (std::isfinite(per_class[c]))
      std::printf("  %-6s %6.2f%%  (%lld images)\n", names[c].c_str(), 100 * per_class[c], (long long)total);
    else
      std::printf("  %-6s      -   (no images)\n", names[c].c_str());
  }
  std::printf("\nmost confused (true -> predicted):\n");
  const std::vector<ConfusedPair> pairs = most_confused(matrix, size_t(o.top_pairs));
  for (const ConfusedPair& p : pairs)
    std::printf("  %-6s -> %-6s %lld\n", names[size_t(p.true_class)].c_str(),
                names[size_t(p.predicted_class)].c_str(), (long long)p.count);
  if (pairs.empty()) std::printf("  none\n");
  if (!o.confusion.empty()) {
    write_confusion_matrix(o.confusion, matrix, names);
    std::printf("\nconfusion matrix: %s\n", o.confusion.c_str());
  }
  if (!o.errors.empty()) {
    const int drawn = write_misclassified_grid(o.errors, split.test, ev.predictions);
    std::printf("misclassified images (%d): %s\n", drawn, o.errors.c_str());
  }
  return 0;
}

}  // namespace

Command add_eval_command(CLI::App& quill) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = quill.add_subcommand("eval", "Evaluate a saved model on a test set");
  cmd->add_option("--model", o->model, "Model file (.quill)")->required();
  add_data_options(cmd, o->data);
  add_device_options(cmd, o->device, o->backend);
  cmd->add_option("--batch", o->batch, "Evaluation batch size")->check(positive_number())->capture_default_str();
  cmd->add_option("--top-pairs", o->top_pairs, "How many confused pairs to list")
      ->check(non_negative_number())
      ->capture_default_str();
  cmd->add_option("--confusion", o->confusion, "Write the confusion matrix as a PNG heat map to FILE (and an SVG beside it)");
  cmd->add_option("--errors", o->errors, "Write a sheet of misclassified images as PNG to FILE (and an SVG beside it)");
  return {cmd, [o](const std::string&) { return run_eval(*o); }};
}

}  // namespace quill
