// quill info: what a model file holds: architecture, classes, preprocessing, training metadata.
#include <cmath>
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "apps/model_file.h"
#include "apps/training_history.h"

namespace quill {
namespace {

void print_if(const nlohmann::json& meta, const char* key, const char* label) {
  if (!meta.contains(key)) return;
  const nlohmann::json& v = meta[key];
  std::printf("  %-20s %s\n", label, v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
}

void print_history(const nlohmann::json& history) {
  const std::vector<EpochRecord> h = history_from_json(history);
  if (h.empty()) return;
  std::printf("\nhistory:\n  epoch  train loss  train acc  val loss  val acc   seconds\n");
  for (const EpochRecord& e : h) {
    std::printf("  %5lld  %10.4f  %8.2f%%", (long long)e.epoch, e.train_loss, 100 * e.train_accuracy);
    if (std::isfinite(e.val_accuracy))
      std::printf("  %8.4f  %6.2f%%", e.val_loss, 100 * e.val_accuracy);
    else
      std::printf("  %8s  %7s", "-", "-");
    std::printf("  %8.1f\n", e.seconds);
  }
}

int run_info(const std::string& path) {
  const ModelRecord r = load_model_file(path);
  std::unique_ptr<Graph> graph = build_model(r, Device::cpu(), path);
  std::printf("%s: quill %s, format version %u\n\n", path.c_str(), r.checkpoint ? "training checkpoint" : "model",
              kModelFormatVersion);
  std::printf("architecture (input %s, %s):\n%s\n", r.input_shape.str().c_str(), dtype_name(r.dtype),
              graph->summary().c_str());
  std::printf("classes (%zu):", r.classes.size());
  for (const std::string& c : r.classes) std::printf(" %s", c.c_str());
  std::printf("\npreprocessing: %s\n", framing_summary(r.framing).c_str());

  const nlohmann::json& m = r.metadata;
  std::printf("\ntraining:\n");
  if (m.contains("data")) {
    std::printf("  %-20s %s\n", "dataset", m["data"].value("description", std::string("?")).c_str());
  }
  print_if(m, "model_source", "description from");
  print_if(m, "epochs", "epochs");
  if (m.contains("test_accuracy"))
    std::printf("  %-20s %.2f%% (loss %.4f, %lld images)\n", "test accuracy", 100 * m["test_accuracy"].get<double>(),
                m.value("test_loss", 0.0), (long long)m.value("test_images", 0));
  if (m.contains("validation_accuracy"))
    std::printf("  %-20s %.2f%%\n", "validation accuracy", 100 * m["validation_accuracy"].get<double>());
  print_if(m, "seed", "seed");
  print_if(m, "device", "device");
  print_if(m, "math", "math");
  print_if(m, "started", "started");
  print_if(m, "finished", "finished");
  print_if(m, "command_line", "command line");
  if (m.contains("training")) std::printf("  %-20s %s\n", "settings", m["training"].dump().c_str());
  if (r.checkpoint) {
    const nlohmann::json& t = r.checkpoint->training;
    if (t.contains("position"))
      std::printf("  %-20s epoch %lld, batch %lld, step %lld (optimizer step %lld)\n", "resumes at",
                  (long long)t["position"].value("epoch", 0) + 1, (long long)t["position"].value("batch", 0),
                  (long long)t["position"].value("step", 0), (long long)r.checkpoint->optimizer_steps);
    if (t.contains("history")) print_history(t["history"]);
  } else if (m.contains("history")) {
    print_history(m["history"]);
  }
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& quill) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = quill.add_subcommand("info", "Show a model file's architecture, classes and training metadata");
  cmd->add_option("--model", *path, "Model or checkpoint file (.quill)")->required();
  return {cmd, [path](const std::string&) { return run_info(*path); }};
}

}  // namespace quill
