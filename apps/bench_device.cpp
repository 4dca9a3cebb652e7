#include "apps/bench_device.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "runtime/error.h"
#include "runtime/storage.h"

#if QUILL_HAVE_CUDA  // the one place the op benchmark names the GPU; set for this file by apps/CMakeLists.txt
#include "kernels/cuda/bench_tools.h"
#endif

namespace quill {
namespace {

int cpu_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return int(std::thread::hardware_concurrency());
#endif
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
  }
  return "CPU";
}

double best(const std::vector<double>& ms) { return *std::min_element(ms.begin(), ms.end()); }

class CpuBenchDevice final : public BenchDevice {
 public:
  std::string name() const override {
    const int threads = cpu_threads();
    return cpu_model() + " (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
  }
  std::string timing() const override {
    return "steady_clock around each call, caches not flushed (ops whose tensors fit in cache can pass 100% of the "
           "copy peak)";
  }

  std::vector<double> time_calls(const std::function<void()>& call, int warmup, int runs) override {
    for (int i = 0; i < warmup; ++i) call();
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      call();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return ms;
  }
  std::vector<double> time_blocks(const std::function<void()>& call, int warmup, int runs) override {
    return time_calls(call, warmup, runs);  // the CPU timer flushes nothing anyway
  }

  DevicePeaks measure_peaks() override {
    DevicePeaks p;
    // Quill's own GEMM on a square product, the kernel under every CPU convolution and dense layer.
    constexpr int n = 1024;
    std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n, 0.0f);
    const double gemm_ms = best(time_calls(
        [&] { cpu::gemm<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); }, 1, 5));
    p.fp32_gflops = 2.0 * n * n * double(n) / (gemm_ms * 1e-3) / 1e9;
    p.fp32_method = "Quill's float32 GEMM, 1024x1024x1024, best of 5";
    // A large copy split over the threads, as the element-wise kernels are.
    constexpr size_t kBytes = size_t(64) << 20, kChunks = 64;
    std::vector<unsigned char> src(kBytes, 1), dst(kBytes, 0);
    const double copy_ms = best(time_calls(
        [&] {
#pragma omp parallel for schedule(static)
          for (size_t i = 0; i < kChunks; ++i)
            std::memcpy(dst.data() + i * (kBytes / kChunks), src.data() + i * (kBytes / kChunks), kBytes / kChunks);
        },
        1, 5));
    p.copy_gbs = 2.0 * double(kBytes) / (copy_ms * 1e-3) / 1e9;
    p.copy_method = "memcpy of 64 MiB over the threads, read + write, best of 5";
    return p;
  }
};

#if QUILL_HAVE_CUDA
class CudaBenchDevice final : public BenchDevice {
 public:
  std::string name() const override {
    const cuda::BenchDeviceDescription d = cuda::bench_device_description();
    return d.name + " (" + std::to_string(d.multiprocessors) + " SMs, L2 " + std::to_string(d.l2_bytes >> 20) +
           " MiB)";
  }
  std::string timing() const override {
    return "CUDA events around each call, the L2 cache flushed before each (" +
           std::to_string(cuda::bench_device_description().flush_bytes >> 20) + " MiB written, untimed)";
  }
  std::vector<double> time_calls(const std::function<void()>& call, int warmup, int runs) override {
    return cuda::time_with_events(call, warmup, runs);
  }
  std::vector<double> time_blocks(const std::function<void()>& call, int warmup, int runs) override {
    return cuda::time_with_events_unflushed(call, warmup, runs);
  }
  DevicePeaks measure_peaks() override {
    DevicePeaks p;
    p.fp32_gflops = cuda::measure_fma_gflops();
    p.fp32_method = "float32 FMA chains in every thread of a full wave (no tensor cores), best of 5";
    p.copy_gbs = cuda::measure_copy_gbs();
    p.copy_method = "cudaMemcpyAsync device to device of 256 MiB, read + write, best of 10";
    return p;
  }
};
#endif

}  // namespace

std::unique_ptr<BenchDevice> make_bench_device(Device device) {
  if (device.is_cpu()) return std::make_unique<CpuBenchDevice>();
#if QUILL_HAVE_CUDA
  QUILL_CHECK(device_available(DeviceType::Cuda), "no CUDA device is available to time: ",
              device_unavailable_reason(DeviceType::Cuda));
  // The emulation runs each block's threads one after another on one CPU core: its times say nothing of a
  // GPU's, so none is reported as one.
  QUILL_CHECK(!device_description(DeviceType::Cuda).emulated, device.str(),
              " is the CPU emulation of CUDA (a -DQUILL_CUDA_EMULATION=ON build), which checks the kernels' "
              "results, not their speed: it gives no GPU timings (time the cpu with --device cpu, or build for a GPU)");
  return std::make_unique<CudaBenchDevice>();
#else
  fail("this build has no CUDA backend, so ", device.str(), " cannot be timed");
#endif
}

}  // namespace quill
