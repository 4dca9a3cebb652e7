#pragma once
// The subcommands of `quill`, one file each (cmd_*.cpp). Each adds itself to the CLI11 app with its
// options and returns how to run it once the command line is parsed.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace quill {

struct DataOptions;

struct Command {
  CLI::App* app = nullptr;
  // Runs the command after parsing; returns the exit status. `command_line` is stored in metadata.
  std::function<int(const std::string& command_line)> run;
};

Command add_train_command(CLI::App& quill);
Command add_eval_command(CLI::App& quill);
Command add_predict_command(CLI::App& quill);
Command add_read_command(CLI::App& quill);
Command add_info_command(CLI::App& quill);
Command add_bench_command(CLI::App& quill);
Command add_gradcheck_command(CLI::App& quill);
Command add_serve_command(CLI::App& quill);
Command add_export_command(CLI::App& quill);
Command add_import_command(CLI::App& quill);

// Validators with short, readable messages ("--batch: must be a positive number, got '0'").
CLI::Validator positive_number();
CLI::Validator non_negative_number();

// Options several commands share.
void add_device_options(CLI::App* cmd, std::string& device, std::string& backend);
// --cuda-graph on|off (default off) for the commands that train (train, bench); use_cuda_graph
// (kernels/placement.h) turns the value into the setting.
void add_cuda_graph_option(CLI::App* cmd, std::string& value);
void add_data_options(CLI::App* cmd, DataOptions& data);

}  // namespace quill
