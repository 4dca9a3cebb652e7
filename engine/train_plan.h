#pragma once
// The machine-readable plan of a training run: the network as built (every node with its kind, inputs,
// settings, output shape and parameters), the run's settings and the learning rate of every step, computed
// by the engine's own code. `quill train --plan` prints it; bench/torch_accuracy.py builds its PyTorch copy
// of the network and recipe from it, so the two cannot drift apart.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "engine/trainer.h"
#include "layers/graph.h"
#include "layers/schedule.h"

namespace quill {

// The built graph: {"input_shape", "output_shape", "parameters" (the total), "layers": [...]}, the layers in
// the order of the description (the order of the flat parameter buffer), each
// {"index", "name", "kind", "description", "inputs", "input_shapes", "output_shape", "attributes",
//  "parameters", "params": [{"name", "shape", "init", "fan_in", "fan_out"}], "buffers"}.
// (Non-const: layers list their parameters and buffers through non-const calls; nothing is changed.)
nlohmann::json network_to_json(Graph& graph);

// The learning rate of each of the run's `total_steps` steps, as the trainer sets it (LrSchedule::at).
nlohmann::json learning_rates_json(const ScheduleConfig& schedule, int64_t total_steps);

// The trainer's plan: {"training": to_json(options) without the description, plus "batches_per_epoch" and
// "total_steps"; "network": network_to_json; "learning_rates": learning_rates_json}.
nlohmann::json train_plan_json(Trainer& trainer);

}  // namespace quill
