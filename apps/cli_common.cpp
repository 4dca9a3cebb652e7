// Options shared by several subcommands.
#include "apps/commands.h"
#include "data/data_sources.h"

namespace quill {
namespace {

CLI::Validator number_at_least(double lowest, bool inclusive, const std::string& what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double v = std::stod(text, &used);
          if (used == text.size() && (inclusive ? v >= lowest : v > lowest)) return "";
        } catch (const std::exception&) {
        }
        return "must be " + what + ", got '" + text + "'";
      },
      inclusive ? "NONNEGATIVE" : "POSITIVE");
}

}  // namespace

CLI::Validator positive_number() { return number_at_least(0, false, "a positive number"); }
CLI::Validator non_negative_number() { return number_at_least(0, true, "a number >= 0"); }

void add_device_options(CLI::App* cmd, std::string& device, std::string& backend) {
  cmd->add_option("--device", device, "Where to compute: auto (CUDA when available, else CPU), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--backend", backend, "GPU op implementation: custom (Quill's CUDA kernels) or cudnn")
      ->check(CLI::IsMember({"custom", "cudnn"}))
      ->capture_default_str();
}

void add_cuda_graph_option(CLI::App* cmd, std::string& value) {
  // Default off until the graph path has been verified on a GPU (tests/test_cuda_graph.cpp).
  cmd->add_option("--cuda-graph", value,
                  "on: record the training step once as a CUDA graph (train: once per epoch) and replay it, cutting the "
                  "launch overhead of ~100 kernels per step (same results as off). Needs the GPU. Off by default: not "
                  "yet verified on a GPU")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
}

void add_data_options(CLI::App* cmd, DataOptions& data) {
  cmd->add_option("--dataset", data.dataset,
                  "mnist, emnist, mnist-offline or folder:PATH (default: mnist when found in the data folder, "
                  "else mnist-offline)");
  cmd->add_option("--data-dir", data.data_dir, "Data folder (default: $QUILL_DATA, else ./data-cache, where scripts/get-data.sh puts it)");
  cmd->add_option("--emnist-set", data.emnist_set, "EMNIST label set: byclass, merged, letters or digits")
      ->check(CLI::IsMember({"byclass", "merged", "bymerge", "balanced", "letters", "digits"}))
      ->capture_default_str();
  cmd->add_option("--test-limit", data.test_limit, "Use only the first N test images (0: all)")
      ->check(non_negative_number());
}

}  // namespace quill
