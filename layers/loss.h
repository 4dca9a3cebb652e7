#pragma once
// Softmax cross-entropy over logits [n, classes], mean over the batch. The loss stays on the device
// (no synchronisation per step); read it with value() when it is needed.
#include "runtime/ops.h"

namespace quill {

class SoftmaxCrossEntropy {
 public:
  explicit SoftmaxCrossEntropy(double label_smoothing = 0.0) : smoothing_(label_smoothing) {}

  void forward(Backend backend, const Tensor& logits, const Tensor& labels);
  // The gradient of the mean loss with respect to the logits of the last forward.
  const Tensor& backward(Backend backend, const Tensor& labels);
  // Number of correct arg-max predictions of the last forward.
  int64_t correct(Backend backend, const Tensor& labels);
  // The same count left on the device: int32 [1], queued without waiting (a training step's running sums).
  const Tensor& count_correct(Backend backend, const Tensor& labels);

  double value() const { return loss_.item(); }
  const Tensor& loss_tensor() const { return loss_; }  // [1] on the device: the mean loss of the last forward
  const Tensor& probs() const { return probs_; }
  double smoothing() const { return smoothing_; }

 private:
  double smoothing_;
  Tensor probs_, loss_, dlogits_, correct_;
};

}  // namespace quill
