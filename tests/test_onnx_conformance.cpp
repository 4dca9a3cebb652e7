// ONNX's own backend node tests, which nobody here wrote (Debian's libonnx-testdata: under
// /usr/share/libonnx-testdata/data/node, each a small model.onnx with test_data_set_*/input_*.pb and the
// expected output_*.pb), run through Quill's importer (engine/onnx_import.h) and Quill's layers on every backend
// of the build: the CPU, the CUDA kernels (or their CPU emulation) and cuDNN where there is a GPU.
//
// A test counts when every op of its graph is one the importer knows (onnx_importable_ops). It then passes
// (every backend, every data set within ONNX's tolerance), is refused (OnnxUnsupported: the message names the
// attribute or form Quill lacks) or fails; no test may fail. The tolerance is the one ONNX's own backend runner
// uses, |quill - expected| <= 1e-7 + 1e-3 |expected| (onnx/backend/test/case/node: rtol 1e-3, atol 1e-7).
// The weights of these tests are graph inputs, bound here as constants (OnnxImportOptions::bound_inputs).
//
// The table of passed / refused / failed per op is printed, and written to $QUILL_ONNX_CONFORMANCE_REPORT
// (markdown) when set; the README's table comes from it.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "engine/atomic_file.h"
#include "engine/onnx_import.h"
#include "kernels/backends.h"
#include "runtime/ops.h"
#include "tests/gpu_backends.h"
#include "tests/skip.h"

using namespace quill;
namespace fs = std::filesystem;

namespace {

constexpr double kRtol = 1e-3, kAtol = 1e-7;

std::string testdata_dir() {
  const char* dir = std::getenv("QUILL_ONNX_TESTDATA");
  return dir ? dir : "/usr/share/libonnx-testdata/data/node";
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A float32 or float64 TensorProto as a CPU tensor of `dtype` (its first dim the batch); "" on success, else why not.
std::string tensor_from_proto(const std::string& bytes, DType dtype, Tensor& out, std::vector<int64_t>& dims) {
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes)) return "does not parse";
  dims.assign(t.dims().begin(), t.dims().end());
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  if (dims.empty() || dims.size() > size_t(Shape::kMaxRank)) return "rank " + std::to_string(dims.size());
  std::vector<double> values(static_cast<size_t>(n), 0.0);
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    if (t.has_raw_data()) {
      if (t.raw_data().size() != size_t(n) * 4) return "raw_data size";
      for (int64_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, t.raw_data().data() + i * 4, 4);
        values[size_t(i)] = v;
      }
    } else {
      if (t.float_data_size() != n) return "float_data size";
      for (int64_t i = 0; i < n; ++i) values[size_t(i)] = t.float_data(int(i));
    }
  } else if (t.data_type() == onnx::TensorProto::DOUBLE) {
    if (t.has_raw_data()) {
      if (t.raw_data().size() != size_t(n) * 8) return "raw_data size";
      std::memcpy(values.data(), t.raw_data().data(), size_t(n) * 8);
    } else {
      if (t.double_data_size() != n) return "double_data size";
      for (int64_t i = 0; i < n; ++i) values[size_t(i)] = t.double_data(int(i));
    }
  } else {
    return "type " + std::to_string(t.data_type());
  }
  Tensor f = Tensor::empty(Shape(dims.begin(), dims.end()), DType::F64);
  std::copy(values.begin(), values.end(), f.data<double>());
  out = f.cast(dtype);
  return "";
}

enum class Outcome { Passed, Refused, Failed };

struct Result {
  std::string test, op;
  Outcome outcome = Outcome::Passed;
  std::string reason;
};

// Runs the imported network on `backend` and compares with the expected output; "" when within tolerance.
std::string run_on_backend(const OnnxImport& imported, const std::string& path, Backend backend, const Tensor& input,
                           const Tensor& expected) {
  const Device device = backend == Backend::Cpu ? Device::cpu() : Device::cuda(0);
  std::unique_ptr<Graph> graph;
  Tensor x = input.to(device), y;
  if (!imported.record.description.empty()) {
    graph = build_model(imported.record, device, path);
    Context ctx;
    ctx.backend = backend;
    y = graph->forward(ctx, x);
  } else {
    y = x;
  }
  if (imported.output_function == OnnxOutputFunction::Softmax) {
    const Tensor logits = y.view(Shape{y.dim(0), y.numel() / y.dim(0)});
    Tensor labels = Tensor::zeros(Shape{y.dim(0)}, DType::I32).to(device);
    Tensor probs = Tensor::empty(logits.shape(), logits.dtype(), device), loss = Tensor::empty(Shape{1}, logits.dtype(), device);
    ops::softmax_xent_forward(backend, logits, labels, 0.0, probs, loss);
    y = probs;
  }
  const Tensor got = y.to(Device::cpu()).cast(DType::F64), want = expected.cast(DType::F64);
  if (got.numel() != want.numel())
    return std::string(backend_name(backend)) + ": " + std::to_string(got.numel()) + " values, expected " + std::to_string(want.numel());
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.data<double>()[i], w = want.data<double>()[i];
    const double excess = std::abs(g - w) - (kAtol + kRtol * std::abs(w));
    if (!(excess <= 0)) worst = std::max(worst, std::isnan(excess) ? INFINITY : std::abs(g - w));
  }
  if (worst > 0) return std::string(backend_name(backend)) + ": max |difference| " + std::to_string(worst) + " beyond tolerance";
  return "";
}

Result run_test(const fs::path& dir, const std::vector<Backend>& backends) {
  Result result;
  result.test = dir.filename().string();
  const std::string path = (dir / "model.onnx").string();
  const std::string bytes = read_text(path);
  onnx::ModelProto model;
  REQUIRE_MESSAGE(model.ParseFromString(bytes), path);
  const std::vector<std::string>& known = onnx_importable_ops();
  for (const onnx::NodeProto& n : model.graph().node())
    if (std::find(known.begin(), known.end(), n.op_type()) == known.end()) {
      result.op.clear();  // not a test of Quill's ops
      return result;
    }
  if (model.graph().node_size() == 0) return result;
  result.op = model.graph().node(model.graph().node_size() - 1).op_type();

  std::set<std::string> initializers;
  for (const onnx::TensorProto& t : model.graph().initializer()) initializers.insert(t.name());
  std::vector<std::string> inputs;
  for (const onnx::ValueInfoProto& v : model.graph().input())
    if (!initializers.count(v.name())) inputs.push_back(v.name());

  std::vector<fs::path> sets;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  REQUIRE_MESSAGE(!sets.empty(), dir.string());

  const std::vector<uint8_t> model_bytes(bytes.begin(), bytes.end());
  for (const fs::path& set : sets) {
    OnnxImportOptions options;
    options.allow_no_layers = true;
    for (size_t i = 1; i < inputs.size(); ++i)
      options.bound_inputs[inputs[i]] = read_text(set / ("input_" + std::to_string(i) + ".pb"));
    OnnxImport imported;
    try {
      imported = import_onnx(model_bytes, result.test, options);
    } catch (const OnnxUnsupported& e) {
      result.outcome = Outcome::Refused;
      result.reason = e.what();
      return result;
    } catch (const Error& e) {
      result.outcome = Outcome::Failed;
      result.reason = std::string("import: ") + e.what();
      return result;
    }
    Tensor input, expected;
    std::vector<int64_t> input_dims, expected_dims;
    std::string problem = tensor_from_proto(read_text(set / "input_0.pb"), imported.record.dtype, input, input_dims);
    if (problem.empty()) problem = tensor_from_proto(read_text(set / "output_0.pb"), DType::F64, expected, expected_dims);
    if (!problem.empty()) {
      result.outcome = Outcome::Failed;
      result.reason = set.filename().string() + ": " + problem;
      return result;
    }
    for (Backend backend : backends) {
      try {
        const std::string mismatch = run_on_backend(imported, result.test, backend, input, expected);
        if (!mismatch.empty()) {
          result.outcome = Outcome::Failed;
          result.reason = set.filename().string() + ": " + mismatch;
          return result;
        }
      } catch (const Error& e) {
        result.outcome = Outcome::Failed;
        result.reason = std::string(backend_name(backend)) + ": " + e.what();
        return result;
      }
    }
  }
  return result;
}

std::string report(const std::vector<Result>& results, const std::vector<Backend>& backends) {
  std::map<std::string, std::array<int, 3>> per_op;
  for (const Result& r : results) per_op[r.op][int(r.outcome)] += 1;
  std::ostringstream os;
  os << "ONNX backend node tests (libonnx-testdata) through quill's importer, backends:";
  for (Backend b : backends) os << " " << backend_name(b);
  os << "\n\n| op | passed | refused | failed |\n|---|---|---|---|\n";
  std::array<int, 3> total{};
  for (const auto& [op, counts] : per_op) {
    os << "| " << op << " | " << counts[0] << " | " << counts[1] << " | " << counts[2] << " |\n";
    for (int i = 0; i < 3; ++i) total[size_t(i)] += counts[size_t(i)];
  }
  os << "| all | " << total[0] << " | " << total[1] << " | " << total[2] << " |\n\nRefused and failed:\n\n";
  for (const Result& r : results)
    if (r.outcome != Outcome::Passed)
      os << "- " << (r.outcome == Outcome::Failed ? "FAILED " : "") << r.test << ": "
         << (r.reason.rfind(r.test + ": ", 0) == 0 ? r.reason.substr(r.test.size() + 2) : r.reason) << "\n";
  return os.str();
}

}  // namespace

TEST_CASE("onnx conformance: ONNX's node tests of Quill's ops pass or are refused by name, on every backend") {
  const std::string root = testdata_dir();
  if (!fs::is_directory(root)) {
    test::skip_test_case("ONNX's node tests are not installed (" + root + "; scripts/install-deps.sh installs libonnx-testdata)");
    return;
  }
  init_backends();
  std::vector<Backend> backends = {Backend::Cpu};
  for (Backend b : test_gpu::gpu_backends(test_gpu::WithoutCuda::SkipGpuPart)) backends.push_back(b);

  std::vector<fs::path> dirs;
  for (const fs::directory_entry& e : fs::directory_iterator(root))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  REQUIRE(dirs.size() > 100);

  std::vector<Result> results;
  for (const fs::path& dir : dirs) {
    Result r = run_test(dir, backends);
    if (!r.op.empty()) results.push_back(r);
  }
  const std::string table = report(results, backends);
  MESSAGE(table);
  if (const char* out = std::getenv("QUILL_ONNX_CONFORMANCE_REPORT")) {
    std::ofstream f(out);
    f << table;
  }
  int passed = 0;
  for (const Result& r : results) {
    CHECK_MESSAGE(r.outcome != Outcome::Failed, r.test, ": ", r.reason);
    passed += r.outcome == Outcome::Passed;
  }
  CHECK(passed >= 40);  // the tests of the ops every CNN has (Conv, pooling, Relu, Gemm, ...) run, not only refuse
}
