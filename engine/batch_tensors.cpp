#include "engine/batch_tensors.h"

#include <cstring>

namespace quill {
namespace {

// Images as the model's dtype at dst.
void write_images(const Batch& batch, DType dtype, void* dst) {
  if (dtype == DType::F32) {
    std::memcpy(dst, batch.images.data(), batch.images.size() * sizeof(float));
  } else {
    double* d = static_cast<double*>(dst);
    for (size_t i = 0; i < batch.images.size(); ++i) d[i] = batch.images[i];
  }
}

}  // namespace

void BatchTensors::upload(const Batch& batch, DType dtype, Device device) {
  const Shape image_shape{batch.n, 1, batch.rows, batch.cols};
  const size_t label_bytes = batch.labels.size() * sizeof(int32_t);
  if (device.is_cpu()) {
    ensure(host_images_, image_shape, dtype, Device::cpu());
    write_images(batch, dtype, host_images_.raw());
    ensure(host_labels_, Shape{batch.n}, DType::I32, Device::cpu());
    std::memcpy(host_labels_.data<int32_t>(), batch.labels.data(), label_bytes);
    device_images_ = device_labels_ = Tensor();
    staging_.reset();
    return;
  }
  host_images_ = host_labels_ = Tensor();
  ensure(device_images_, image_shape, dtype, device);
  ensure(device_labels_, Shape{batch.n}, DType::I32, device);
  // One staging slot holds the images, then the labels at the next 64-byte boundary.
  const size_t image_bytes = device_images_.bytes(), label_offset = (image_bytes + 63) / 64 * 64;
  if (!staging_ || staging_->device() != device || staging_->bytes() < label_offset + label_bytes)
    staging_ = std::make_unique<HostStaging>(device, label_offset + label_bytes);
  unsigned char* slot = static_cast<unsigned char*>(staging_->next());
  write_images(batch, dtype, slot);
  std::memcpy(slot + label_offset, batch.labels.data(), label_bytes);
  staging_->upload(device_images_.raw(), 0, image_bytes);
  staging_->upload(device_labels_.raw(), label_offset, label_bytes);
  staging_->fence();
}

}  // namespace quill
