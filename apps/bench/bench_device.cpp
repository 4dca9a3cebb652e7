#include "apps/bench/bench_device.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/gpu_bench_tools.h"
#include "runtime/error.h"
#include "runtime/storage.h"

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

constexpr int kGemmSide = 1024;  // the CPU's float32 peak at the start: Quill's GEMM on square matrices
// The float32 peak each op is set against: a product whose calls are as short as the ops' own (0.5 ms). On
// a shared machine a 1024 product (20-40 ms) is interrupted on every call where a 1 ms op is not: on 2 busy
// cores, 384 ran at 210 GFLOP/s and 1024 at 58 (on one thread, 110 and 99), and convolutions at 180.
constexpr int kReferenceGemmSide = 384;
// Copies of this many bytes or more are split over the threads, as the element-wise kernels split 32,768
// float32 elements and more (kernels/cpu/elementwise.cpp); smaller ones run on one thread, as they do.
constexpr size_t kThreadedCopyMin = size_t(32768) * sizeof(float);
constexpr size_t kCopyChunks = 64;
// A copy's rate no longer changes once it is far beyond the caches: larger ops are compared with this much.
constexpr size_t kMaxReferenceCopy = size_t(256) << 20;
constexpr int kReferenceRuns = 5;  // the best of this many calls is one reference measurement

void copy_bytes(unsigned char* dst, const unsigned char* src, size_t bytes) {
  if (bytes < kThreadedCopyMin) {
    std::memcpy(dst, src, bytes);
    return;
  }
  const size_t chunk = (bytes + kCopyChunks - 1) / kCopyChunks;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < kCopyChunks; ++i) {
    const size_t begin = std::min(bytes, i * chunk);
    std::memcpy(dst + begin, src + begin, std::min(bytes, begin + chunk) - begin);
  }
}

class CpuBenchDevice final : public BenchDevice {
 public:
  std::string name() const override {
    const int threads = cpu_threads();
    return cpu_model() + " (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
  }
  std::string timing() const override {
    return "steady_clock around each call, caches not flushed";
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
    p.fp32_gflops = gemm_gflops(kGemmSide, 1, 5);
    p.fp32_method = "Quill's float32 GEMM, 1024x1024x1024, best of 5";
    // A large copy split over the threads, as the element-wise kernels are.
    p.copy_gbs = copy_gbs(size_t(64) << 20, 5);
    p.copy_method = "memcpy of 64 MiB over the threads, read + write, best of 5";
    return p;
  }

  double reference_rate(bool flops, double bytes) override {
    return flops ? gemm_gflops(kReferenceGemmSide, 1, kReferenceRuns)
                 : copy_gbs(std::clamp(size_t(bytes / 2), size_t(1), kMaxReferenceCopy), kReferenceRuns);
  }
  std::string reference_method() const override {
    const std::string side = std::to_string(kReferenceGemmSide);
    return "Quill's float32 GEMM " + side + "x" + side + "x" + side +
           ", or a copy of the op's own bytes (warm, as its tensors are; over the threads from 128 KiB), the best of " +
           std::to_string(kReferenceRuns) + " calls right before and right after the op's runs";
  }

 private:
  // GFLOP/s of Quill's float32 GEMM on square matrices of side n.
  double gemm_gflops(int n, int warmup, int runs) {
    const size_t elements = size_t(n) * n;
    if (gemm_a_.size() < elements) gemm_a_.assign(elements, 0.5f), gemm_b_.assign(elements, 0.25f), gemm_c_.assign(elements, 0.0f);
    const double ms = best(time_calls(
        [&] { cpu::gemm<float>(false, false, n, n, n, 1.0f, gemm_a_.data(), n, gemm_b_.data(), n, 0.0f, gemm_c_.data(), n); },
        warmup, runs));
    return 2.0 * double(n) * n * n / (ms * 1e-3) / 1e9;
  }
  // GB/s of copying `bytes`, counting each byte read and written; the first call warms the buffers.
  double copy_gbs(size_t bytes, int runs) {
    if (copy_src_.size() < bytes) copy_src_.assign(bytes, 1), copy_dst_.assign(bytes, 0);
    const double ms = best(time_calls([&] { copy_bytes(copy_dst_.data(), copy_src_.data(), bytes); }, 1, runs));
    return 2.0 * double(bytes) / (ms * 1e-3) / 1e9;
  }

  std::vector<float> gemm_a_, gemm_b_, gemm_c_;
  std::vector<unsigned char> copy_src_, copy_dst_;
};

class CudaBenchDevice final : public BenchDevice {
 public:
  explicit CudaBenchDevice(const GpuBenchTools& tools) : tools_(tools) {}
  std::string name() const override { return tools_.device_name(); }
  std::string timing() const override {
    return "CUDA events around each call, the L2 cache flushed before each (" +
           std::to_string(tools_.flush_bytes() >> 20) + " MiB written, untimed)";
  }
  std::vector<double> time_calls(const std::function<void()>& call, int warmup, int runs) override {
    return tools_.time_flushed(call, warmup, runs);
  }
  std::vector<double> time_blocks(const std::function<void()>& call, int warmup, int runs) override {
    return tools_.time_unflushed(call, warmup, runs);
  }
  DevicePeaks measure_peaks() override {
    DevicePeaks p;
    p.fp32_gflops = tools_.fma_gflops();
    p.fp32_method = "float32 FMA chains in every thread of a full wave (no tensor cores), best of 5";
    p.copy_gbs = tools_.copy_gbs();
    p.copy_method = "cudaMemcpyAsync device to device of 256 MiB, read + write, best of 10";
    measured_ = p;
    return p;
  }
  double reference_rate(bool flops, double) override {
    if (measured_.fp32_gflops == 0) measure_peaks();
    return flops ? measured_.fp32_gflops : measured_.copy_gbs;
  }
  std::string reference_method() const override { return "the peaks above, measured at the start"; }

 private:
  const GpuBenchTools& tools_;
  DevicePeaks measured_;
};

}  // namespace

std::unique_ptr<BenchDevice> make_bench_device(Device device) {
  if (device.is_cpu()) return std::make_unique<CpuBenchDevice>();
  const GpuBenchTools* tools = gpu_bench_tools();
  QUILL_CHECK(tools != nullptr, "this build has no CUDA backend, so ", device.str(), " cannot be timed");
  QUILL_CHECK(device_available(DeviceType::Cuda), "no CUDA device is available to time: ",
              device_unavailable_reason(DeviceType::Cuda));
  // The emulation runs each block's threads one after another on one CPU core: its times say nothing of a
  // GPU's, so none is reported as one.
  QUILL_CHECK(!device_description(DeviceType::Cuda).emulated, device.str(),
              " is the CPU emulation of CUDA (a -DQUILL_CUDA_EMULATION=ON build), which checks the kernels' "
              "results, not their speed: it gives no GPU timings (time the cpu with --device cpu, or build for a GPU)");
  return std::make_unique<CudaBenchDevice>(*tools);
}

}  // namespace quill
