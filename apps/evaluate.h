#pragma once
// A model's figures on a labelled dataset: loss, accuracy, every prediction, the confusion matrix.
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "layers/graph.h"

namespace quill {

struct Evaluation {
  int64_t count = 0, correct = 0;
  double loss = 0;                   // mean cross-entropy (no label smoothing)
  std::vector<int32_t> predictions;  // arg-max class per sample, in dataset order
  std::vector<float> confidences;    // its probability
  double accuracy() const { return count ? double(correct) / double(count) : 0.0; }
};

// Runs the graph in evaluation mode over `data` in order.
Evaluation evaluate(Graph& graph, Backend backend, const Dataset& data, int batch_size = 256);

// matrix[true][predicted] counts.
using ConfusionMatrix = std::vector<std::vector<int64_t>>;
ConfusionMatrix confusion_matrix(const Dataset& data, const std::vector<int32_t>& predictions);

// Accuracy of each true class (NaN for a class without samples).
std::vector<double> per_class_accuracy(const ConfusionMatrix& matrix);

struct ConfusedPair {
  int true_class = 0, predicted_class = 0;
  int64_t count = 0;
};
// The largest off-diagonal cells, largest first.
std::vector<ConfusedPair> most_confused(const ConfusionMatrix& matrix, size_t how_many);

}  // namespace quill
