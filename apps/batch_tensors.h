#pragma once
// Loader batches as tensors on the model's device: images [n, 1, rows, cols] in the model's dtype,
// labels int32 [n]. The tensors are reused from step to step while the batch size stays the same.
#include "data/loader.h"
#include "runtime/tensor.h"

namespace quill {

class BatchTensors {
 public:
  void upload(const Batch& batch, DType dtype, Device device);
  const Tensor& images() const { return device_images_.defined() ? device_images_ : host_images_; }
  const Tensor& labels() const { return device_labels_.defined() ? device_labels_ : host_labels_; }

 private:
  Tensor host_images_, host_labels_;      // on the CPU
  Tensor device_images_, device_labels_;  // only for GPU models
};

}  // namespace quill
