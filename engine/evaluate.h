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

// How a model's classes score on a dataset with coarser labels: fold[k] is the dataset class of model
// class k. Used to score a 62-class EMNIST ByClass model on the 47 merged classes (c -> C, ...).
using ClassFold = std::vector<int32_t>;

// Model class k goes to the dataset class of the same name, else to the one whose name matches ignoring
// case (so ByClass 'c' scores as merged 'C'). Throws unless every model class has a dataset class and every
// dataset class receives one.
ClassFold fold_classes(const std::vector<std::string>& model_classes, const std::vector<std::string>& data_classes);

// Runs the graph in evaluation mode over `data` in order. With a fold, predictions are the folded arg-max
// of the model's classes, and the loss is -log of the summed probability of the model classes that fold
// into the true class.
Evaluation evaluate(Graph& graph, Backend backend, const Dataset& data, int batch_size = 256,
                    const ClassFold* fold = nullptr);

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
