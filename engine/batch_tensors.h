#pragma once
// Loader batches as tensors on the model's device: images [n, 1, rows, cols] in the model's dtype,
// labels int32 [n]. The tensors are reused from step to step while the batch size stays the same (a step
// replayed from a CUDA graph relies on it: engine/train_step.h).
//
// For a GPU model a batch is written into page-locked staging memory and copied to the device
// asynchronously on the device's stream (runtime/host_staging.h), in two slots used in turn: upload()
// returns as soon as the copies are queued, and the host can prepare the next batch in the other slot while
// the device still computes on this one. A slot is refilled only after the device has read it (an event).
// The device tensors are single buffers: an upload is queued behind the work of the previous step, so it
// cannot overwrite a batch still in use.
#include <memory>

#include "data/loader.h"
#include "runtime/host_staging.h"
#include "runtime/tensor.h"

namespace quill {

class BatchTensors {
 public:
  void upload(const Batch& batch, DType dtype, Device device);
  const Tensor& images() const { return device_images_.defined() ? device_images_ : host_images_; }
  const Tensor& labels() const { return device_labels_.defined() ? device_labels_ : host_labels_; }

 private:
  Tensor host_images_, host_labels_;      // only for CPU models
  Tensor device_images_, device_labels_;  // only for GPU models
  std::unique_ptr<HostStaging> staging_;  // only for GPU models
};

}  // namespace quill
