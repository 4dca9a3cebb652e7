#include "kernels/gpu_math.h"

#include "runtime/error.h"

// Set for the quill_backends library by kernels/CMakeLists.txt when the build has those backends.
#if QUILL_HAVE_CUDA
#include "kernels/cuda/settings.h"
#include "runtime/storage.h"
#endif
#if QUILL_HAVE_CUDNN
#include "kernels/cudnn/version.h"
#include "kernels/cudnn/settings.h"
#endif

namespace quill {

bool tf32_requested(const std::string& math, Device device) {
  const bool tf32 = math == "tf32";
  QUILL_CHECK(!tf32 || !device.is_cpu(),
              "--math tf32 needs a CUDA device; this run is on the CPU, which computes in float32 only");
  return tf32;
}

void set_gpu_tf32(bool on) {
#if QUILL_HAVE_CUDA
  cuda::Settings custom = cuda::backend_settings()->get();
  custom.tf32 = on;
  cuda::backend_settings()->set(custom);
#endif
#if QUILL_HAVE_CUDNN
  cudnn::Settings s = cudnn::backend_settings()->get();
  s.tf32 = on;
  cudnn::backend_settings()->set(s);
#endif
  (void)on;
}

bool gpu_tf32() {
#if QUILL_HAVE_CUDA  // cuDNN's switch moves with it (a cuDNN build always has the custom backend)
  return cuda::backend_settings()->get().tf32;
#else
  return false;
#endif
}

void set_cudnn_timed_search(bool timed) {
#if QUILL_HAVE_CUDNN
  cudnn::Settings s = cudnn::backend_settings()->get();
  s.timed_search = timed;
  cudnn::backend_settings()->set(s);
#endif
  (void)timed;
}

bool cudnn_timed_search() {
#if QUILL_HAVE_CUDNN
  return cudnn::backend_settings()->get().timed_search;
#else
  return true;
#endif
}

std::string cudnn_library_version() {
#if QUILL_HAVE_CUDNN
  return cudnn::loaded_version();
#else
  return "";
#endif
}

bool custom_tf32_available() {
#if QUILL_HAVE_CUDA
  return device_available(DeviceType::Cuda) && cuda::tf32_tensor_cores();
#else
  return false;
#endif
}

}  // namespace quill
