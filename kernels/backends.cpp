#include "kernels/backends.h"

#include <mutex>

#include "kernels/gpu_bench_tools.h"
#include "runtime/ops.h"
#if QUILL_HAVE_CUDA
#include "kernels/cuda/bench_tools.h"
#endif

namespace quill {
namespace {

// Ops a GPU backend runs as a sequence of its other ops: the fused convolution + ReLU of CPU inference is the
// convolution, then the ReLU in place. Defined before the backend registers, so a backend that later gets
// another's kernels for its missing ops (cuDNN) keeps its own convolution here.
[[maybe_unused]] void compose_ops(Backend b) {
  ops::conv2d_forward_relu.define(
      b, [b](const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
        ops::conv2d_forward(b, g, x, w, bias, y);
        ops::activation_forward(b, Activation::Relu, 0.0, y, y);
      });
}

}  // namespace

void init_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    define_op_contracts();
    register_cpu_ops();
#if QUILL_HAVE_CUDA  // the build's backends, set by kernels/CMakeLists.txt for this library only (with gpu_math.cpp)
    compose_ops(Backend::Cuda);
    register_cuda_ops();
#endif
#if QUILL_HAVE_CUDNN
    compose_ops(Backend::Cudnn);
    register_cudnn_ops();
#endif
  });
}

std::string backends_summary() {
  std::string out = "cpu";
#if QUILL_HAVE_CUDA
  out += ", cuda (custom kernels)";
#endif
#if QUILL_HAVE_CUDNN
  out += ", cudnn";
#endif
  return out;
}

const GpuBenchTools* gpu_bench_tools() {
#if QUILL_HAVE_CUDA
  static const GpuBenchTools tools{
      [] {
        const cuda::BenchDeviceDescription d = cuda::bench_device_description();
        return d.name + " (" + std::to_string(d.multiprocessors) + " SMs, L2 " + std::to_string(d.l2_bytes >> 20) +
               " MiB)";
      },
      [] { return cuda::bench_device_description().flush_bytes; },
      &cuda::time_with_events,
      &cuda::time_with_events_unflushed,
      &cuda::measure_fma_gflops,
      &cuda::measure_copy_gbs};
  return &tools;
#else
  return nullptr;
#endif
}

}  // namespace quill
