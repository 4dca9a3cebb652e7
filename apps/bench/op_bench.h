#pragma once
// The per-op comparison benchmark (`quill bench --ops`): every op call of one training step of a model,
// at one or more batch sizes, timed on each backend side by side (median of `runs` calls after warm-up),
// with its rate against the device's peak measured alongside it and the largest difference between the
// backends' outputs. Math modes (kernels/gpu_math.h): strict float32, and TF32 (cuDNN's convolutions; the custom
// kernels' convolutions and dense layers where they were compiled for sm_80 or later; the CPU says it ran
// float32).
#include <string>
#include <vector>

#include "apps/bench/bench_device.h"
#include "apps/bench/op_cases.h"

namespace quill {

struct OpBenchOptions {
  std::string model = "cnn";  // a description file or a built-in name
  std::vector<int> batches{128};
  std::vector<std::string> backends;  // cpu, custom (or cuda), cudnn; empty: those of the device
  std::string device = "auto";        // auto, cpu, cuda: where the default backends run
  std::string math = "auto";          // fp32, tf32, both; auto: both when cudnn is benchmarked, else fp32
  int runs = 20, warmup = 5;
  int classes = 10;
  uint64_t seed = 1;      // the model's weights (the shapes are what matter)
  bool cpu_check = true;  // also compare GPU backends with the CPU reference
};

// A backend as benchmarked: its label in the report ("custom", "cudnn", "cpu"; "cpu#2" for a repeat).
struct BenchBackend {
  std::string label;
  Backend backend = Backend::Cpu;
  Device device;
  size_t device_index = 0;  // into OpBenchReport::devices
};

struct BenchDeviceInfo {
  std::string device;  // "cpu", "cuda:0"
  std::string name, timing;
  DevicePeaks peaks;           // measured once, at the start
  std::string peak_alongside;  // how the peak each op is reported against is measured (reference_method)
};

struct Timing {
  std::vector<double> runs_ms;
  double median_ms = 0, min_ms = 0, max_ms = 0;
  std::string math;  // what the backend ran: "fp32" or "tf32"
  // The device's peak (GFLOP/s or GB/s, as the op's rate) measured right before and right after the op's
  // runs (BenchDevice::reference_rate): the op is reported against the higher; 0 when not measured.
  double peak_before = 0, peak_after = 0;
};

// How far a "% of peak" figure can be taken at its word.
enum class PeakFigure {
  Plain,      // as measured
  Noisy,      // the op's runs, or the peak measured before and after them, differ by more than kNoisySpread
  AbovePeak,  // faster than the peak measured alongside, which a float32 op cannot be: no figure is given
};
constexpr double kNoisySpread = 2.0;

// How far a backend's outputs are from a reference backend's, over every element of every output:
// max_rel = max |a - r| / max |r|; rel_l2 = the largest ||a - r|| / ||r|| of the outputs.
struct Comparison {
  std::string backend, reference;
  double max_rel = 0, rel_l2 = 0;
};

struct CaseResult {
  std::string layer, pass, op, shape;
  WorkKind kind = WorkKind::Bytes;
  double work = 0;
  std::vector<Timing> timings;  // one per backend, in OpBenchReport::backends order
  std::vector<Comparison> comparisons;
  std::string label() const { return layer + " " + pass; }
};

struct ModeResult {
  std::string math;  // fp32 or tf32
  int batch = 0;
  std::vector<std::string> notes;
  std::vector<CaseResult> cases;
};

struct OpBenchReport {
  std::string model, date, commit, command_line;
  int runs = 0, warmup = 0;
  std::vector<BenchBackend> backends;
  std::vector<BenchDeviceInfo> devices;
  std::vector<ModeResult> results;
};

// Checks the options and picks the backends (errors are one line: an unknown backend, a GPU backend
// without a usable GPU). Call init_backends() first.
std::vector<BenchBackend> choose_bench_backends(const OpBenchOptions& o);
// The math modes the options ask for, in order ("fp32", "tf32").
std::vector<std::string> choose_math_modes(const OpBenchOptions& o, const std::vector<BenchBackend>& backends);

// Runs the benchmark; progress goes to stderr.
OpBenchReport run_op_bench(const OpBenchOptions& o, const std::string& command_line);

// Median, min and max of the runs.
Timing summarize(std::vector<double> runs_ms);
// Rate of one call: GFLOP/s or GB/s.
double rate_of(const CaseResult& c, const Timing& t);
// Its fraction of the peak measured alongside it (the device's matching start-of-run peak when none was).
double fraction_of_peak(const CaseResult& c, const Timing& t, const DevicePeaks& peaks);
// Whether that fraction is plain, noisy, or above the peak. TF32 is measured against the float32 peak and
// may pass it (the notes say so); that is not flagged.
PeakFigure judge_peak_figure(const CaseResult& c, const Timing& t, const DevicePeaks& peaks);
const char* peak_figure_name(PeakFigure f);  // "plain", "noisy", "above peak"

}  // namespace quill
