#pragma once
// Measuring the GPU for the op benchmark (`quill bench --ops`): CUDA-event timing of calls with the L2
// cache flushed before each, and the device's float32 rate and copy bandwidth. A host-only header (no
// CUDA headers), so plain C++ can call it; everything runs on quill::cuda::stream().
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace quill::cuda {

struct BenchDeviceDescription {
  std::string name;  // "NVIDIA H100 80GB HBM3"
  int multiprocessors = 0;
  size_t l2_bytes = 0;
  size_t flush_bytes = 0;  // what time_with_events writes before each timed call
};
BenchDeviceDescription bench_device_description();

// Calls `call` `warmup` times untimed, then `runs` times, each preceded by an untimed cudaMemsetAsync of a
// buffer twice the size of the L2 cache and bracketed by CUDA events on stream(). Returns the milliseconds
// between each call's two events.
std::vector<double> time_with_events(const std::function<void()>& call, int warmup, int runs);

// The same without the flushes: for blocks of work that should run as they would in use (whole training
// steps), where each block's own traffic is part of what is measured.
std::vector<double> time_with_events_unflushed(const std::function<void()>& call, int warmup, int runs);

// Float32 rate in GFLOP/s (an FMA counts 2): independent fmaf chains in every thread of one full wave of
// blocks (plain float32 FMA units, no tensor cores); the best of several launches.
double measure_fma_gflops();

// Device-to-device cudaMemcpyAsync of 256 MiB in GB/s, counting the bytes read and the bytes written; the
// best of several copies.
double measure_copy_gbs();

}  // namespace quill::cuda
