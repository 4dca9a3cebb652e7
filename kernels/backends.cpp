#include "kernels/backends.h"

#include <mutex>

#include "kernels/gpu_bench_tools.h"
#if QUILL_HAVE_CUDA
#include "kernels/cuda/bench_tools.h"
#endif

namespace quill {

void init_backends() {
  static std::once_flag once;
  std::call_once(once, [] {
    define_op_contracts();
    register_cpu_ops();
#if QUILL_HAVE_CUDA  // the build's backends, set by kernels/CMakeLists.txt for this library only (with gpu_math.cpp)
    register_cuda_ops();
#endif
#if QUILL_HAVE_CUDNN
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
