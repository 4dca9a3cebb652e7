#pragma once
// The GPU's timing tools for the op benchmark (apps/bench/bench_device.cpp): CUDA-event timing with the L2
// cache flushed before each call, the device's float32 rate and its copy bandwidth (kernels/cuda/
// bench_tools.h). The benchmark asks for them here, so it need not know whether the build has the CUDA
// backend: kernels/backends.cpp is where the build's backend set is named.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace quill {

struct GpuBenchTools {
  std::string (*device_name)();  // "NVIDIA H100 80GB HBM3 (132 SMs, L2 50 MiB)"
  size_t (*flush_bytes)();       // what a flushed timing writes before each call
  // Milliseconds of each of `runs` calls after `warmup` untimed ones, with or without the L2 flushes.
  std::vector<double> (*time_flushed)(const std::function<void()>& call, int warmup, int runs);
  std::vector<double> (*time_unflushed)(const std::function<void()>& call, int warmup, int runs);
  double (*fma_gflops)();  // float32 FMA chains over a full wave, GFLOP/s
  double (*copy_gbs)();    // device-to-device copy, GB/s read + written
};

// This build's GPU timing tools, or null where it has no CUDA backend.
const GpuBenchTools* gpu_bench_tools();

}  // namespace quill
