#pragma once
// A trained model applied to single characters: user images preprocessed the way the model's training
// set was framed, then classified with class probabilities. Shared by `quill predict` and `quill read`.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/inference_plan.h"
#include "engine/model_file.h"
#include "kernels/placement.h"
#include "data/image.h"
#include "data/preprocess.h"

namespace quill {

struct ClassScore {
  int label = 0;
  std::string name;
  double probability = 0;
};

class Classifier {
 public:
  Classifier(const std::string& model_path, const Placement& placement);
  ~Classifier();

  const ModelRecord& record() const { return record_; }
  // Preprocessing options matching the model's training set (its framing convention and, unless
  // fit_stroke_width is false, its range of stroke widths).
  PreprocessOptions preprocess_options(bool fit_stroke_width = true) const;

  // Class probabilities of each 28x28 sample (MNIST convention: 255 = ink), in one batch.
  std::vector<std::vector<double>> probabilities(const std::vector<std::vector<uint8_t>>& samples);

  // The k most probable classes of one probability vector, most probable first.
  std::vector<ClassScore> top(const std::vector<double>& probabilities, int k) const;

 private:
  ModelRecord record_;
  Placement placement_;
  std::unique_ptr<Graph> graph_;
  std::unique_ptr<InferencePlan> plan_;  // on the CPU: the graph's forward with batch norms folded, ReLUs fused
};

// A 28x28 image used as is: dataset-style files with dark ink on light paper are inverted, bright ink
// on dark (as `predict --save-input` writes) is taken directly; which one is decided by the border.
std::vector<uint8_t> raw_sample(const Image& image, const std::string& name);

}  // namespace quill
