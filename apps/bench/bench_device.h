#pragma once
// What the op benchmark (`quill bench --ops`) needs from a device: its name, timing of op calls, and the
// peaks each op is reported against, measured once. One implementation per device type, chosen at run
// time: the CPU's (steady_clock; Quill's GEMM; memcpy) and, in builds with CUDA, the GPU's (CUDA events
// with the L2 cache flushed before each call; an FMA-chain kernel; a device-to-device copy).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/device.h"

namespace quill {

struct DevicePeaks {
  double fp32_gflops = 0;  // float32 arithmetic, GFLOP/s (a multiply-add counts 2)
  std::string fp32_method;
  double copy_gbs = 0;  // memory copy, GB/s counting bytes read plus bytes written
  std::string copy_method;
};

class BenchDevice {
 public:
  virtual ~BenchDevice() = default;
  virtual std::string name() const = 0;    // "NVIDIA H100 80GB HBM3 (132 SMs, L2 50 MiB)"
  virtual std::string timing() const = 0;  // how time_calls measures, for the report
  // Calls `call` `warmup` times untimed, then `runs` times timed; the milliseconds of each timed call
  // (on a GPU: until the work the call queued has finished).
  virtual std::vector<double> time_calls(const std::function<void()>& call, int warmup, int runs) = 0;
  // Like time_calls, but caches are left as the calls leave them: for whole training steps, timed in
  // blocks (on a GPU, CUDA events around all the work a call queued).
  virtual std::vector<double> time_blocks(const std::function<void()>& call, int warmup, int runs) = 0;
  virtual DevicePeaks measure_peaks() = 0;
  // The peak rate an op is reported against, taken under the conditions of the op's own timed calls:
  // float32 GFLOP/s when `flops`, else the GB/s (read + written) of a copy of the op's `bytes`. The CPU
  // measures it on each call, since another process's load on a shared machine comes and goes, and an op
  // whose tensors stay in cache between its calls must be set against a copy that does too. The GPU gives
  // its measure_peaks() figures: its op calls start from DRAM (the L2 is flushed) on an unshared device.
  virtual double reference_rate(bool flops, double bytes) = 0;
  virtual std::string reference_method() const = 0;  // how reference_rate measures, for the report
};

// The device's implementation; throws when this build cannot time that device type.
std::unique_ptr<BenchDevice> make_bench_device(Device device);

}  // namespace quill
