#include "engine/evaluate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/batch_tensors.h"
#include "data/loader.h"
#include "layers/loss.h"
#include "runtime/text.h"

namespace quill {

ClassFold fold_classes(const std::vector<std::string>& model_classes, const std::vector<std::string>& data_classes) {
  ClassFold fold(model_classes.size(), -1);
  std::vector<bool> reached(data_classes.size(), false);
  for (size_t k = 0; k < model_classes.size(); ++k) {
    const auto exact = std::find(data_classes.begin(), data_classes.end(), model_classes[k]);
    if (exact != data_classes.end()) {
      fold[k] = int32_t(exact - data_classes.begin());
    } else {
      for (size_t d = 0; d < data_classes.size(); ++d)
        if (lowercase(data_classes[d]) == lowercase(model_classes[k])) fold[k] = int32_t(d);
    }
    QUILL_CHECK(fold[k] >= 0, "the model's class '", model_classes[k],
                "' has no counterpart among the dataset's classes, so it can't be scored on this dataset");
    reached[size_t(fold[k])] = true;
  }
  for (size_t d = 0; d < data_classes.size(); ++d)
    QUILL_CHECK(reached[d], "the model has no class for the dataset's class '", data_classes[d],
                "', so it can't be scored on this dataset");
  return fold;
}

Evaluation evaluate(Graph& graph, Backend backend, const Dataset& data, int batch_size, const ClassFold* fold) {
  Evaluation ev;
  if (data.size() == 0) return ev;
  LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.shuffle = false;
  BatchLoader loader(data, lo);
  loader.start_epoch(0);
  SoftmaxCrossEntropy loss;
  BatchTensors tensors;
  Context ctx;
  ctx.backend = backend;
  ctx.training = false;
  const int classes = int(graph.output_shape().numel());
  ev.predictions.reserve(size_t(data.size()));
  ev.confidences.reserve(size_t(data.size()));
  double loss_sum = 0;
  Batch batch;
  while (loader.next(batch)) {
    tensors.upload(batch, graph.dtype(), graph.device());
    const Tensor& logits = graph.forward(ctx, tensors.images());
    if (fold) {
      // The dataset's labels are not model classes, so the loss op can't take them: score on the host.
      const Tensor host = logits.view(Shape{batch.n, classes}).to(Device::cpu()).cast(DType::F64);
      for (int i = 0; i < batch.n; ++i) {
        const double* row = host.data<double>() + size_t(i) * classes;
        const int best = int(std::max_element(row, row + classes) - row);
        double sum = 0, true_sum = 0;
        for (int k = 0; k < classes; ++k) {
          const double e = std::exp(row[k] - row[best]);
          sum += e;
          if ((*fold)[size_t(k)] == batch.labels[size_t(i)]) true_sum += e;
        }
        loss_sum += -std::log(true_sum / sum);
        const int32_t predicted = (*fold)[size_t(best)];
        ev.predictions.push_back(predicted);
        ev.confidences.push_back(float(1.0 / sum));
        ev.correct += predicted == batch.labels[size_t(i)];
      }
      ev.count += batch.n;
      continue;
    }
    loss.forward(backend, logits.view(Shape{batch.n, classes}), tensors.labels());
    loss_sum += loss.value() * batch.n;
    const Tensor probs = loss.probs().to(Device::cpu()).cast(DType::F64);
    const double* p = probs.data<double>();
    for (int i = 0; i < batch.n; ++i) {
      const double* row = p + size_t(i) * classes;
      const int best = int(std::max_element(row, row + classes) - row);
      ev.predictions.push_back(best);
      ev.confidences.push_back(float(row[best]));
      ev.correct += best == batch.labels[size_t(i)];
    }
    ev.count += batch.n;
  }
  ev.loss = loss_sum / double(ev.count);
  return ev;
}

ConfusionMatrix confusion_matrix(const Dataset& data, const std::vector<int32_t>& predictions) {
  const int k = data.num_classes();
  ConfusionMatrix m(size_t(k), std::vector<int64_t>(size_t(k), 0));
  QUILL_CHECK(int64_t(predictions.size()) == data.size(), "confusion matrix: ", predictions.size(),
              " predictions for ", data.size(), " samples");
  for (size_t i = 0; i < predictions.size(); ++i) {
    const int32_t t = data.labels[i], p = predictions[i];
    QUILL_CHECK(t >= 0 && t < k && p >= 0 && p < k, "confusion matrix: class out of range");
    ++m[size_t(t)][size_t(p)];
  }
  return m;
}

std::vector<double> per_class_accuracy(const ConfusionMatrix& matrix) {
  std::vector<double> out;
  for (size_t t = 0; t < matrix.size(); ++t) {
    int64_t total = 0;
    for (int64_t c : matrix[t]) total += c;
    out.push_back(total ? double(matrix[t][t]) / double(total) : std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

std::vector<ConfusedPair> most_confused(const ConfusionMatrix& matrix, size_t how_many) {
  std::vector<ConfusedPair> pairs;
  for (size_t t = 0; t < matrix.size(); ++t)
    for (size_t p = 0; p < matrix[t].size(); ++p)
      if (t != p && matrix[t][p] > 0) pairs.push_back({int(t), int(p), matrix[t][p]});
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const ConfusedPair& a, const ConfusedPair& b) { return a.count > b.count; });
  if (pairs.size() > how_many) pairs.resize(how_many);
  return pairs;
}

}  // namespace quill
