#include "kernels/placement.h"

#include "runtime/error.h"
#include "runtime/ops.h"
#include "runtime/storage.h"

namespace quill {

std::string Placement::str() const {
  if (device.is_cpu()) return "cpu";
  if (device_description(device.type).emulated)  // never to be taken for a GPU, in a log or a result file
    return device.str() + " (custom CUDA kernels on the CPU emulation of CUDA, not a GPU)";
  return device.str() + (backend == Backend::Cudnn ? " (cuDNN)" : " (custom CUDA kernels)");
}

bool gpu_usable() { return device_available(DeviceType::Cuda) && ops::conv2d_forward.has(Backend::Cuda); }

bool gpu_for_auto() { return gpu_usable() && !device_description(DeviceType::Cuda).emulated; }

Placement choose_placement(const std::string& device, const std::string& backend) {
  QUILL_CHECK(device == "auto" || device == "cpu" || device == "cuda", "unknown device '", device,
              "' (expected auto, cpu or cuda)");
  QUILL_CHECK(backend == "custom" || backend == "cudnn", "unknown backend '", backend,
              "' (expected custom or cudnn)");
  if (device == "cuda")
    QUILL_CHECK(gpu_usable(), "--device cuda: no CUDA device is available: ",
                device_unavailable_reason(DeviceType::Cuda));
  Placement p;
  if (device == "cpu" || (device == "auto" && !gpu_for_auto())) {
    QUILL_CHECK(backend != "cudnn", "--backend cudnn needs a CUDA device; none is in use");
    return p;
  }
  p.device = Device::cuda(0);
  p.backend = backend == "cudnn" ? Backend::Cudnn : Backend::Cuda;
  QUILL_CHECK(p.backend != Backend::Cudnn || ops::conv2d_forward.has(Backend::Cudnn),
              "--backend cudnn: this build has no cuDNN backend");
  return p;
}

bool use_cuda_graph(const std::string& option, const Placement& placement) {
  QUILL_CHECK(option == "on" || option == "off", "--cuda-graph: expected on or off, got '", option, "'");
  if (option == "off") return false;
  QUILL_CHECK(!placement.device.is_cpu(), "--cuda-graph on needs the CUDA device; this run is on the CPU");
  return true;
}

}  // namespace quill
