// The GPU side of the op benchmark: event timing with L2 flushes, and the two peaks the benchmark reports
// each op against (float32 FMA rate, device-to-device copy bandwidth).
#include "kernels/cuda/bench_tools.h"

#include <algorithm>

#include "kernels/cuda/cuda_common.cuh"

namespace quill::cuda {
namespace {

// Pairs of CUDA events (start, stop), destroyed with the object.
class EventPairs {
 public:
  EventPairs() = default;
  EventPairs(const EventPairs&) = delete;
  EventPairs& operator=(const EventPairs&) = delete;
  ~EventPairs() {
    for (cudaEvent_t e : events_) (void)cudaEventDestroy(e);
  }
  void create(int pairs) {
    for (int i = 0; i < 2 * pairs; ++i) {
      cudaEvent_t e = nullptr;
      QUILL_CUDA_CHECK(cudaEventCreate(&e));
      events_.push_back(e);
    }
  }
  cudaEvent_t start(int i) const { return events_[size_t(2 * i)]; }
  cudaEvent_t stop(int i) const { return events_[size_t(2 * i + 1)]; }

 private:
  std::vector<cudaEvent_t> events_;
};

// Milliseconds of each of `runs` calls, each bracketed by events; before each, `flush_bytes` of `flush` are
// written (untimed) when flush is given.
std::vector<double> event_times(const std::function<void()>& call, int warmup, int runs, void* flush,
                                size_t flush_bytes) {
  QUILL_CHECK(runs >= 1, "time_with_events: at least one run");
  for (int i = 0; i < warmup; ++i) call();
  EventPairs events;
  events.create(runs);
  for (int i = 0; i < runs; ++i) {
    if (flush != nullptr) QUILL_CUDA_CHECK(cudaMemsetAsync(flush, i & 0xff, flush_bytes, stream()));
    QUILL_CUDA_CHECK(cudaEventRecord(events.start(i), stream()));
    call();
    QUILL_CUDA_CHECK(cudaEventRecord(events.stop(i), stream()));
  }
  QUILL_CUDA_CHECK(cudaEventSynchronize(events.stop(runs - 1)));
  std::vector<double> ms(size_t(runs), 0.0);
  for (int i = 0; i < runs; ++i) {
    float elapsed = 0.0f;
    QUILL_CUDA_CHECK(cudaEventElapsedTime(&elapsed, events.start(i), events.stop(i)));
    ms[size_t(i)] = double(elapsed);
  }
  return ms;
}

int current_device() {
  int device = 0;
  QUILL_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

size_t flush_size(size_t l2_bytes) { return std::max<size_t>(2 * l2_bytes, size_t(8) << 20); }

constexpr int kChains = 8;        // independent FMA chains per thread: hides the FMA latency
constexpr int kUnroll = 16;       // FMA steps per loop iteration: keeps loop overhead out of the issue slots
constexpr int kFmaThreads = 256;

// x <- x * a + b in kChains independent chains; a and b are run-time values, so nothing folds. With a < 1
// the chains converge to b / (1 - a): no overflow, no denormals.
__global__ void __launch_bounds__(kFmaThreads) fma_chains_kernel(float a, float b, int iterations, float* out) {
  float x[kChains];
#pragma unroll
  for (int c = 0; c < kChains; ++c) x[c] = 1e-3f * float(threadIdx.x + c);
  for (int i = 0; i < iterations; i += kUnroll) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int c = 0; c < kChains; ++c) x[c] = fmaf(x[c], a, b);
    }
  }
  float sum = 0.0f;
#pragma unroll
  for (int c = 0; c < kChains; ++c) sum += x[c];
  out[size_t(blockIdx.x) * blockDim.x + threadIdx.x] = sum;  // keeps the chains alive
}

}  // namespace

BenchDeviceDescription bench_device_description() {
  // Queried once (cudaGetDeviceProperties is slow): Quill uses one device.
  static const BenchDeviceDescription description = [] {
    cudaDeviceProp prop;
    QUILL_CUDA_CHECK(cudaGetDeviceProperties(&prop, current_device()));
    BenchDeviceDescription d;
    d.name = prop.name;
    d.multiprocessors = prop.multiProcessorCount;
    d.l2_bytes = size_t(prop.l2CacheSize);
    d.flush_bytes = flush_size(d.l2_bytes);
    return d;
  }();
  return description;
}

std::vector<double> time_with_events(const std::function<void()>& call, int warmup, int runs) {
  const size_t bytes = bench_device_description().flush_bytes;
  DeviceScratch<unsigned char> flush(bytes);
  return event_times(call, warmup, runs, flush.get(), bytes);
}

std::vector<double> time_with_events_unflushed(const std::function<void()>& call, int warmup, int runs) {
  return event_times(call, warmup, runs, nullptr, 0);
}

double measure_fma_gflops() {
  const BenchDeviceDescription d = bench_device_description();
  int blocks_per_sm = 0;
  QUILL_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, fma_chains_kernel, kFmaThreads, 0));
  const int blocks = std::max(1, blocks_per_sm) * std::max(1, d.multiprocessors);  // one full wave
  constexpr int kIterations = 1 << 17;  // about 10 ms on an H100
  DeviceScratch<float> out(size_t(blocks) * kFmaThreads);
  auto run_chains = [&] {
    launch(fma_chains_kernel, blocks, kFmaThreads, 0, stream(), 0.999f, 0.001f, kIterations, out.get());
  };
  const std::vector<double> ms = event_times(run_chains, 1, 5, nullptr, 0);
  const double best_ms = *std::min_element(ms.begin(), ms.end());
  const double flops = 2.0 * kChains * double(kIterations) * double(blocks) * kFmaThreads;
  return flops / (best_ms * 1e-3) / 1e9;
}

double measure_copy_gbs() {
  constexpr size_t kBytes = size_t(256) << 20;
  DeviceScratch<unsigned char> src(kBytes), dst(kBytes);
  QUILL_CUDA_CHECK(cudaMemsetAsync(src.get(), 1, kBytes, stream()));
  auto copy = [&] {
    QUILL_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), kBytes, cudaMemcpyDeviceToDevice, stream()));
  };
  const std::vector<double> ms = event_times(copy, 2, 10, nullptr, 0);
  const double best_ms = *std::min_element(ms.begin(), ms.end());
  return 2.0 * double(kBytes) / (best_ms * 1e-3) / 1e9;
}

}  // namespace quill::cuda
