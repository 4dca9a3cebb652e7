// quill info: what a model file holds: architecture, classes, preprocessing, training metadata; without a
// model, what this build computes with.
#include <cmath>
#include <cstdio>
#include <memory>

#include <zlib.h>

#include "apps/commands.h"
#include "engine/model_file.h"
#include "engine/training_history.h"
#include "kernels/backends.h"
#include "runtime/storage.h"

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

// A checksum of the parameters and buffers (batch-norm statistics): two files that print the same one hold
// the same bits, whatever their metadata (dates, command lines). How runs are compared for determinism.
std::string weights_fingerprint(const ModelRecord& r) {
  uLong crc = crc32(0L, Z_NULL, 0);
  auto add = [&](const Tensor& t) { crc = crc32(crc, static_cast<const Bytef*>(t.raw()), uInt(t.bytes())); };
  add(r.weights);
  for (const Tensor& b : r.buffers) add(b);
  char text[64];
  std::snprintf(text, sizeof text, "crc32 %08lx of their bytes and the buffers'", (unsigned long)crc);
  return text;
}

// Without a model: what this build computes with, so that nobody takes an emulated device for a GPU.
int run_build_info() {
  std::printf("quill %s\n", QUILL_VERSION);
  std::printf("backends: %s\n", backends_summary().c_str());
  const DeviceDescription cuda = device_description(DeviceType::Cuda);
  if (device_available(DeviceType::Cuda))
    std::printf("cuda device: %s%s\n", cuda.name.c_str(),
                cuda.emulated ? " (runs every custom kernel on the CPU for correctness; --device auto does not pick "
                                "it, --device cuda does)"
                              : "");
  else
    std::printf("cuda device: none (%s)\n", device_unavailable_reason(DeviceType::Cuda).c_str());
  return 0;
}

int run_info(const std::string& path) {
  const ModelRecord r = load_model_file(path);
  std::unique_ptr<Graph> graph = build_model(r, Device::cpu(), path);
  const bool onnx_file = path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
  std::string origin;
  if (r.metadata.contains("onnx_opset"))
    origin = "ONNX opset " + r.metadata["onnx_opset"].dump() + ", made by " + r.metadata.value("producer", std::string("?"));
  if (onnx_file)
    std::printf("%s: ONNX model (%s), read as a quill model\n\n", path.c_str(), origin.c_str());
  else
    std::printf("%s: quill %s, format version %u%s\n\n", path.c_str(), r.checkpoint ? "training checkpoint" : "model",
                kModelFormatVersion, origin.empty() ? "" : (", imported from " + origin).c_str());
  std::printf("architecture (input %s, %s):\n%s\n", r.input_shape.str().c_str(), dtype_name(r.dtype),
              graph->summary().c_str());
  std::printf("classes (%zu):", r.classes.size());
  for (const std::string& c : r.classes) std::printf(" %s", c.c_str());
  std::printf("\npreprocessing: %s\n", framing_summary(r.framing).c_str());
  std::printf("weights: %lld parameters, %s\n", (long long)r.weights.numel(), weights_fingerprint(r).c_str());

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
  CLI::App* cmd = quill.add_subcommand("info", "Show a model file's architecture, classes and training metadata; without --model, the build's backends and devices");
  cmd->add_option("--model", *path, "Model or checkpoint file (.quill); without it, the build's backends and devices");
  return {cmd, [path](const std::string&) { return path->empty() ? run_build_info() : run_info(*path); }};
}

}  // namespace quill
