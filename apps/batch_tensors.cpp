#include "apps/batch_tensors.h"

#include <cstring>

namespace quill {

void BatchTensors::upload(const Batch& batch, DType dtype, Device device) {
  const Shape image_shape{batch.n, 1, batch.rows, batch.cols};
  ensure(host_images_, image_shape, dtype, Device::cpu());
  if (dtype == DType::F32) {
    std::memcpy(host_images_.data<float>(), batch.images.data(), batch.images.size() * sizeof(float));
  } else {
    double* dst = host_images_.data<double>();
    for (size_t i = 0; i < batch.images.size(); ++i) dst[i] = batch.images[i];
  }
  ensure(host_labels_, Shape{batch.n}, DType::I32, Device::cpu());
  std::memcpy(host_labels_.data<int32_t>(), batch.labels.data(), batch.labels.size() * sizeof(int32_t));
  if (device.is_cpu()) {
    device_images_ = device_labels_ = Tensor();
    return;
  }
  ensure(device_images_, image_shape, dtype, device);
  ensure(device_labels_, Shape{batch.n}, DType::I32, device);
  device_images_.copy_from(host_images_);
  device_labels_.copy_from(host_labels_);
}

}  // namespace quill
