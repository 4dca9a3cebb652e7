#include "engine/training_history.h"

#include <cmath>
#include <limits>

namespace quill {
namespace {

// JSON has no NaN: a missing figure is stored as null.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? std::numeric_limits<double>::quiet_NaN() : it->get<double>();
}

}  // namespace

nlohmann::json to_json(const std::vector<EpochRecord>& history) {
  nlohmann::json out = nlohmann::json::array();
  for (const EpochRecord& e : history)
    out.push_back({{"epoch", e.epoch},
                   {"train_loss", number(e.train_loss)},
                   {"train_accuracy", number(e.train_accuracy)},
                   {"val_loss", number(e.val_loss)},
                   {"val_accuracy", number(e.val_accuracy)},
                   {"learning_rate", number(e.learning_rate)},
                   {"seconds", number(e.seconds)},
                   {"images_per_second", number(e.images_per_second)}});
  return out;
}

std::vector<EpochRecord> history_from_json(const nlohmann::json& j) {
  std::vector<EpochRecord> out;
  for (const nlohmann::json& e : j) {
    EpochRecord r;
    r.epoch = e.at("epoch").get<int64_t>();
    r.train_loss = number(e, "train_loss");
    r.train_accuracy = number(e, "train_accuracy");
    r.val_loss = number(e, "val_loss");
    r.val_accuracy = number(e, "val_accuracy");
    r.learning_rate = number(e, "learning_rate");
    r.seconds = number(e, "seconds");
    r.images_per_second = number(e, "images_per_second");
    out.push_back(r);
  }
  return out;
}

}  // namespace quill
