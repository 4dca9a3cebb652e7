#pragma once
// Per-epoch figures of a training run: what learning curves are drawn from and checkpoints carry.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace quill {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;  // NaN without a validation set
  double learning_rate = 0;               // at the epoch's last step
  double seconds = 0;                     // training steps only
  double images_per_second = 0;
};

nlohmann::json to_json(const std::vector<EpochRecord>& history);
std::vector<EpochRecord> history_from_json(const nlohmann::json& j);

}  // namespace quill
