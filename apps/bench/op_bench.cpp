#include "apps/bench/op_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>

#include "kernels/gpu_math.h"
#include "engine/model_lookup.h"
#include "kernels/placement.h"
#include "layers/model_description.h"
#include "runtime/ops.h"
#include "runtime/storage.h"

namespace quill {
namespace {

std::string utc_date() {
  char date[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return date;
}

std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The source tree's git commit ("-dirty" when tracked files differ from it), else "unknown".
std::string source_commit() {
#ifdef QUILL_SOURCE_DIR
  const std::string git = std::string("git -C '") + QUILL_SOURCE_DIR + "' ";
  const std::string head = command_output(git + "rev-parse HEAD 2>/dev/null");
  if (head.size() == 40 && head.find_first_not_of("0123456789abcdef") == std::string::npos) {
    const bool dirty = !command_output(git + "status --porcelain --untracked-files=no 2>/dev/null").empty();
    return head + (dirty ? "-dirty" : "");
  }
#endif
  return "unknown";
}


const char* default_label(Backend b) { return b == Backend::Cpu ? "cpu" : b == Backend::Cuda ? "custom" : "cudnn"; }

// Copies of the outputs on the host (the timed runs that follow overwrite in-place outputs).
std::vector<Tensor> host_copies(const std::vector<Tensor>& outputs) {
  std::vector<Tensor> out;
  for (const Tensor& t : outputs) out.push_back(t.device().is_cpu() ? t.clone() : t.to(Device::cpu()));
  return out;
}

double element(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::F32: return t.data<float>()[i];
    case DType::F64: return t.data<double>()[i];
    case DType::I32: return t.data<int32_t>()[i];
  }
  return 0;
}

Comparison compare(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  QUILL_CHECK(got.size() == want.size(), "op bench: ", got.size(), " outputs compared with ", want.size());
  Comparison c;
  const double inf = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < got.size(); ++k) {
    QUILL_CHECK(got[k].numel() == want[k].numel(), "op bench: output ", k, " has ", got[k].numel(),
                " elements, its reference ", want[k].numel());
    double max_diff = 0, max_ref = 0, diff2 = 0, ref2 = 0;
    for (int64_t i = 0; i < want[k].numel(); ++i) {
      const double a = element(got[k], i), r = element(want[k], i);
      if (std::isfinite(r)) max_ref = std::max(max_ref, std::abs(r)), ref2 += r * r;
      if (a == r || (std::isnan(a) && std::isnan(r))) continue;
      const double d = std::isfinite(a) && std::isfinite(r) ? std::abs(a - r) : inf;
      max_diff = std::max(max_diff, d);
      diff2 += d * d;
    }
    c.max_rel = std::max(c.max_rel, max_diff == 0 ? 0.0 : max_ref > 0 ? max_diff / max_ref : inf);
    c.rel_l2 = std::max(c.rel_l2, diff2 == 0 ? 0.0 : ref2 > 0 ? std::sqrt(diff2 / ref2) : inf);
  }
  return c;
}

// What a backend computes in a math mode: TF32 where it has a TF32 path (cuDNN's convolutions; the custom
// kernels' convolutions, dense layers and gemm, where compiled for sm_80 or later), else float32.
std::string backend_math(const std::string& mode, Backend b) {
  if (mode != "tf32") return "fp32";
  return b == Backend::Cudnn || (b == Backend::Cuda && custom_tf32_available()) ? "tf32" : "fp32";
}

std::vector<std::string> mode_notes(const std::string& math, const std::vector<BenchBackend>& backends) {
  std::vector<std::string> notes;
  bool cudnn = false, custom = false;
  for (const BenchBackend& b : backends) {
    if (b.backend == Backend::Cudnn && !cudnn) {
      cudnn = true;
      notes.push_back(math == "tf32" ? "cudnn: convolutions may use TF32 tensor cores; its % of peak is against the "
                                       "float32 FMA peak, so it can pass 100%"
                                     : "cudnn: strict float32 (no tensor-core conversion)");
      notes.push_back("cudnn: ops cuDNN lacks (max pooling, dense, dropout, the loss, the optimizer, ...) run the "
                      "custom kernels behind the cudnn column, in the same math mode; stderr names them");
    }
    if (math == "tf32" && b.backend == Backend::Cuda && !custom) {
      custom = true;
      notes.push_back(custom_tf32_available()
                          ? b.label + ": convolutions and dense layers on TF32 tensor cores (WMMA, float32 "
                                      "accumulation), the other ops float32; its % of peak is against the float32 "
                                      "FMA peak, so it can pass 100%"
                          : b.label + ": no TF32 kernels here (compiled for a GPU before sm_80): fp32 SIMT");
    }
    if (math == "tf32" && b.backend == Backend::Cpu) notes.push_back(b.label + ": float32 only (no TF32)");
  }
  return notes;
}

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g ms", ms);
  return buf;
}

}  // namespace

std::vector<BenchBackend> choose_bench_backends(const OpBenchOptions& o) {
  QUILL_CHECK(o.device == "auto" || o.device == "cpu" || o.device == "cuda", "unknown device '", o.device,
              "' (expected auto, cpu or cuda)");
  const bool gpu = gpu_usable();
  QUILL_CHECK(o.device != "cuda" || gpu,
              "--device cuda: no CUDA device is available: ", device_unavailable_reason(DeviceType::Cuda));
  std::vector<std::string> names = o.backends;
  if (names.empty()) {
    if (o.device == "cuda" || (o.device == "auto" && gpu_for_auto())) {
      names.push_back("custom");
      if (ops::conv2d_forward.has(Backend::Cudnn)) names.push_back("cudnn");
    } else {
      names.push_back("cpu");
    }
  }
  std::vector<BenchBackend> out;
  std::vector<Device> devices;
  for (const std::string& name : names) {
    BenchBackend b;
    if (name == "cpu")
      b.backend = Backend::Cpu;
    else if (name == "custom" || name == "cuda")
      b.backend = Backend::Cuda;
    else if (name == "cudnn")
      b.backend = Backend::Cudnn;
    else
      fail("--backends: unknown backend '", name, "' (expected cpu, custom or cudnn)");
    if (b.backend != Backend::Cpu) {
      QUILL_CHECK(o.device != "cpu", "--backends ", name, ": --device cpu benchmarks the cpu backend only");
      QUILL_CHECK(gpu, "--backends ", name, " needs a CUDA device; none is in use");
      QUILL_CHECK(b.backend != Backend::Cudnn || ops::conv2d_forward.has(Backend::Cudnn),
                  "--backends cudnn: this build has no cuDNN backend");
    }
    b.device = b.backend == Backend::Cpu ? Device::cpu() : Device::cuda(0);
    int repeats = 0;
    for (const BenchBackend& earlier : out) repeats += earlier.backend == b.backend;
    b.label = std::string(default_label(b.backend)) + (repeats ? "#" + std::to_string(repeats + 1) : "");
    auto it = std::find(devices.begin(), devices.end(), b.device);
    b.device_index = size_t(it - devices.begin());
    if (it == devices.end()) devices.push_back(b.device);
    out.push_back(b);
  }
  return out;
}

std::vector<std::string> choose_math_modes(const OpBenchOptions& o, const std::vector<BenchBackend>& backends) {
  if (o.math == "fp32" || o.math == "tf32") return {o.math};
  if (o.math == "both") return {"fp32", "tf32"};
  QUILL_CHECK(o.math == "auto", "--math: unknown mode '", o.math, "' (expected fp32, tf32, both or auto)");
  for (const BenchBackend& b : backends)
    if (b.backend == Backend::Cudnn) return {"fp32", "tf32"};
  return {"fp32"};
}

Timing summarize(std::vector<double> runs_ms) {
  QUILL_CHECK(!runs_ms.empty(), "op bench: no timed runs");
  Timing t;
  t.runs_ms = runs_ms;
  std::sort(runs_ms.begin(), runs_ms.end());
  const size_t n = runs_ms.size();
  t.median_ms = n % 2 ? runs_ms[n / 2] : 0.5 * (runs_ms[n / 2 - 1] + runs_ms[n / 2]);
  t.min_ms = runs_ms.front();
  t.max_ms = runs_ms.back();
  return t;
}

double rate_of(const CaseResult& c, const Timing& t) {
  return t.median_ms > 0 ? c.work / (t.median_ms * 1e-3) / 1e9 : 0.0;
}

double fraction_of_peak(const CaseResult& c, const Timing& t, const DevicePeaks& peaks) {
  const double alongside = std::max(t.peak_before, t.peak_after);
  const double peak = alongside > 0 ? alongside : c.kind == WorkKind::Flops ? peaks.fp32_gflops : peaks.copy_gbs;
  return peak > 0 ? rate_of(c, t) / peak : 0.0;
}

PeakFigure judge_peak_figure(const CaseResult& c, const Timing& t, const DevicePeaks& peaks) {
  if (t.math == "fp32" && fraction_of_peak(c, t, peaks) > 1.0) return PeakFigure::AbovePeak;
  const double low = std::min(t.peak_before, t.peak_after), high = std::max(t.peak_before, t.peak_after);
  const double start = c.kind == WorkKind::Flops ? peaks.fp32_gflops : peaks.copy_gbs;
  const bool runs_spread = t.max_ms > kNoisySpread * t.min_ms;
  const bool peak_moved = low > 0 && high > kNoisySpread * low;
  // A smaller product, or a copy that fits in cache, is no slower than the start's large ones on a quiet
  // machine: far below them, the op and its peak were both waiting for the processor.
  const bool peak_fell = high > 0 && start > kNoisySpread * high;
  return runs_spread || peak_moved || peak_fell ? PeakFigure::Noisy : PeakFigure::Plain;
}

const char* peak_figure_name(PeakFigure f) {
  return f == PeakFigure::Plain ? "plain" : f == PeakFigure::Noisy ? "noisy" : "above peak";
}

OpBenchReport run_op_bench(const OpBenchOptions& o, const std::string& command_line) {
  QUILL_CHECK(o.runs >= 1, "--runs must be at least 1, got ", o.runs);
  QUILL_CHECK(o.warmup >= 0, "--warmup must be at least 0, got ", o.warmup);
  QUILL_CHECK(!o.batches.empty(), "--batches: no batch size given");
  for (int b : o.batches) QUILL_CHECK(b >= 1, "--batches: batch sizes must be positive, got ", b);
  OpBenchReport r;
  r.backends = choose_bench_backends(o);
  const std::vector<std::string> modes = choose_math_modes(o, r.backends);
  r.model = find_model_description(o.model);
  const ModelDescription desc = read_model_description(r.model);
  Graph graph;
  add_to_graph(desc, o.classes, graph);
  graph.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), o.seed);
  r.date = utc_date();
  r.commit = source_commit();
  r.command_line = command_line;
  r.runs = o.runs;
  r.warmup = o.warmup;

  std::vector<std::unique_ptr<BenchDevice>> timers;
  for (const BenchBackend& b : r.backends) {
    if (b.device_index < timers.size()) continue;
    timers.push_back(make_bench_device(b.device));
    BenchDeviceInfo info;
    info.device = b.device.str();
    info.name = timers.back()->name();
    info.timing = timers.back()->timing();
    std::fprintf(stderr, "bench --ops: measuring the peaks of %s, %s\n", info.device.c_str(), info.name.c_str());
    info.peaks = timers.back()->measure_peaks();
    info.peak_alongside = timers.back()->reference_method();
    std::fprintf(stderr, "  float32 %.1f GFLOP/s (%s)\n  copy %.1f GB/s (%s)\n", info.peaks.fp32_gflops,
                 info.peaks.fp32_method.c_str(), info.peaks.copy_gbs, info.peaks.copy_method.c_str());
    r.devices.push_back(info);
  }
  // GPU backends are also compared with the CPU reference, unless the first backend is the CPU already.
  bool any_gpu = false;
  for (const BenchBackend& b : r.backends) any_gpu |= b.backend != Backend::Cpu;
  const bool cpu_reference = o.cpu_check && any_gpu && r.backends[0].backend != Backend::Cpu;

  for (int batch : o.batches) {
    const std::vector<OpCase> cases = training_step_cases(graph, batch, OptimizerConfig{});
    for (const std::string& math : modes) {
      GpuMathScope scope(math == "tf32");
      ModeResult m;
      m.math = math;
      m.batch = batch;
      m.notes = mode_notes(math, r.backends);
      std::fprintf(stderr, "bench --ops: %s, batch %d: %zu op calls on %zu backend(s), %d warm-up + %d timed runs each\n",
                   math.c_str(), batch, cases.size(), r.backends.size(), o.warmup, o.runs);
      for (const OpCase& c : cases) {
        CaseResult cr;
        cr.layer = c.layer, cr.pass = c.pass, cr.op = c.op, cr.shape = c.shape, cr.kind = c.kind, cr.work = c.work;
        std::vector<std::vector<Tensor>> outputs;
        std::string progress;
        for (const BenchBackend& b : r.backends) {
          PreparedCall call = c.prepare(b.backend);
          call.run();  // the first call: the outputs the backends are compared on (and any one-time set-up)
          outputs.push_back(host_copies(call.outputs));
          // The peak is measured on both sides of the op's runs, so that it sees the load they saw.
          BenchDevice& timer = *timers[b.device_index];
          const bool flops = c.kind == WorkKind::Flops;
          const double peak_before = timer.reference_rate(flops, c.work);
          Timing t = summarize(timer.time_calls(call.run, o.warmup, o.runs));
          t.peak_before = peak_before;
          t.peak_after = timer.reference_rate(flops, c.work);
          t.math = backend_math(math, b.backend);
          progress += "  " + b.label + " " + format_ms(t.median_ms);
          cr.timings.push_back(std::move(t));
        }
        for (size_t i = 1; i < r.backends.size(); ++i) {
          Comparison cmp = compare(outputs[i], outputs[0]);
          cmp.backend = r.backends[i].label;
          cmp.reference = r.backends[0].label;
          cr.comparisons.push_back(cmp);
        }
        if (cpu_reference) {
          PreparedCall ref = c.prepare(Backend::Cpu);
          ref.run();
          const std::vector<Tensor> want = host_copies(ref.outputs);
          for (size_t i = 0; i < r.backends.size(); ++i) {
            if (r.backends[i].backend == Backend::Cpu) continue;
            Comparison cmp = compare(outputs[i], want);
            cmp.backend = r.backends[i].label;
            cmp.reference = "cpu";
            cr.comparisons.push_back(cmp);
          }
        }
        std::fprintf(stderr, "  %-24s%s\n", cr.label().c_str(), progress.c_str());
        m.cases.push_back(std::move(cr));
      }
      r.results.push_back(std::move(m));
    }
  }
  return r;
}

}  // namespace quill
