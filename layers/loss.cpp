#include "layers/loss.h"

namespace quill {

void SoftmaxCrossEntropy::forward(Backend backend, const Tensor& logits, const Tensor& labels) {
  QUILL_CHECK(logits.shape().rank() == 2, "softmax cross-entropy takes [batch, classes] logits, got ",
              logits.shape().str());
  QUILL_CHECK(labels.dtype() == DType::I32 && labels.numel() == logits.dim(0), "softmax cross-entropy: ",
              logits.dim(0), " rows of logits but ", labels.numel(), " labels");
  ensure(probs_, logits.shape(), logits.dtype(), logits.device());
  ensure(loss_, Shape{1}, logits.dtype(), logits.device());
  ops::softmax_xent_forward(backend, logits, labels, smoothing_, probs_, loss_);
}

const Tensor& SoftmaxCrossEntropy::backward(Backend backend, const Tensor& labels) {
  QUILL_CHECK(probs_.defined(), "softmax cross-entropy: backward before forward");
  ensure(dlogits_, probs_.shape(), probs_.dtype(), probs_.device());
  ops::softmax_xent_backward(backend, probs_, labels, smoothing_, dlogits_);
  return dlogits_;
}

int64_t SoftmaxCrossEntropy::correct(Backend backend, const Tensor& labels) {
  return static_cast<int64_t>(count_correct(backend, labels).item());
}

const Tensor& SoftmaxCrossEntropy::count_correct(Backend backend, const Tensor& labels) {
  ensure(correct_, Shape{1}, DType::I32, probs_.device());
  ops::count_correct(backend, probs_, labels, correct_);
  return correct_;
}

}  // namespace quill
