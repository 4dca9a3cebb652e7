// ONNX import (engine/onnx_import.h):
// - Quill -> export -> import returns the same model bit for bit (description, weights, buffers, classes,
//   framing), for both shipped descriptions and a residual one with every layer kind; read without Quill's
//   metadata (as any other producer's graph), the network computes the same logits bit for bit;
// - a model nobody here wrote: the default CNN defined and trained briefly in PyTorch and exported by
//   torch.onnx.export (tests/onnx/torch_export.py) gives PyTorch's probabilities within 1e-5 in Quill, on every
//   backend of the build;
// - fine-tuning an imported model (`quill train --init-from M.onnx`) trains the model Quill exported, dropout
//   included;
// - hostile files (truncated, random, cycles, unknown ops, external data, huge dims, two inputs) are a one-line
//   quill::Error, and `quill import` exits non-zero with one line.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "engine/atomic_file.h"
#include "engine/model_file.h"
#include "engine/model_lookup.h"
#include "engine/onnx_export.h"
#include "engine/onnx_import.h"
#include "kernels/backends.h"
#include "layers/graph.h"
#include "layers/model_description.h"
#include "runtime/ops.h"
#include "tests/child_process.h"
#include "tests/gpu_backends.h"
#include "tests/real_data.h"
#include "tests/skip.h"
#include "tests/temp_files.h"

using namespace quill;
using quill::test::run_command;
namespace fs = std::filesystem;

namespace {

const char* kEveryKind =
    "conv 6 k3 p1 as stem\n"
    "bn\n"
    "relu as a\n"
    "conv 6 k3 p1 nobias\n"
    "bn\n"
    "leaky 0.2\n"
    "add as sum1 from a\n"
    "avgpool 3 s2 p1\n"
    "conv 8 k3 s2 p1\n"
    "tanh as t\n"
    "maxpool 3 s1 p1 as m\n"
    "add from t m\n"
    "flatten\n"
    "dense 24 nobias xavier\n"
    "bn\n"
    "sigmoid\n"
    "dropout 0.2\n"
    "dense classes   # the classifier\n";

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A model of `description` from a fixed seed, with batch-norm statistics as training leaves them (not 0 and 1).
ModelRecord seeded_model(const std::string& description, uint64_t seed) {
  Graph g;
  add_to_graph(parse_model_description(description), 10, g);
  g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), seed);
  std::mt19937 rng{uint32_t(seed)};
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (Tensor* b : g.buffers())
    for (int64_t i = 0; i < b->numel(); ++i) b->data<float>()[i] = 0.2f + u(rng);
  std::vector<std::string> classes;
  for (int c = 0; c < 10; ++c) classes.push_back("class" + std::to_string(c));
  return capture_model(g, description, classes, FramingConvention::Emnist);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

Tensor random_images(int n, uint32_t seed) {
  Tensor x = Tensor::empty(Shape{n, 1, 28, 28});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
  return x;
}

Tensor logits_of(const ModelRecord& record, const Tensor& images, Backend backend = Backend::Cpu) {
  const Device device = backend == Backend::Cpu ? Device::cpu() : Device::cuda(0);
  std::unique_ptr<Graph> g = build_model(record, device, "model");
  Context ctx;
  ctx.backend = backend;
  return g->forward(ctx, images.to(device)).to(Device::cpu());
}

Tensor softmax_of(const Tensor& logits, Backend backend) {
  const Device device = backend == Backend::Cpu ? Device::cpu() : Device::cuda(0);
  const Tensor l = logits.to(device);
  Tensor labels = Tensor::zeros(Shape{l.dim(0)}, DType::I32).to(device);
  Tensor probs = Tensor::empty(l.shape(), l.dtype(), device), loss = Tensor::empty(Shape{1}, l.dtype(), device);
  ops::softmax_xent_forward(backend, l, labels, 0.0, probs, loss);
  return probs.to(Device::cpu());
}

std::vector<uint8_t> bytes_of(const onnx::ModelProto& m) {
  std::string s;
  REQUIRE(m.SerializeToString(&s));
  return std::vector<uint8_t>(s.begin(), s.end());
}

onnx::ModelProto parsed(const std::vector<uint8_t>& bytes) {
  onnx::ModelProto m;
  REQUIRE(m.ParseFromArray(bytes.data(), int(bytes.size())));
  return m;
}

void check_round_trip(const std::string& description) {
  const ModelRecord original = seeded_model(description, 11);
  const std::vector<uint8_t> onnx_bytes = export_onnx(original, "original.quill");

  // With Quill's metadata: the same model, bit for bit.
  const OnnxImport back = import_onnx(onnx_bytes, "exported.onnx");
  CHECK(back.quill_description);
  CHECK(back.record.description == original.description);
  CHECK(same_bits(back.record.weights, original.weights));
  REQUIRE(back.record.buffers.size() == original.buffers.size());
  for (size_t i = 0; i < original.buffers.size(); ++i) CHECK(same_bits(back.record.buffers[i], original.buffers[i]));
  CHECK(back.record.classes == original.classes);
  CHECK(back.record.framing == original.framing);
  CHECK(back.record.input_shape == original.input_shape);

  // As any producer's graph (no quill.description): a description read from the nodes, the same logits.
  onnx::ModelProto stripped = parsed(onnx_bytes);
  stripped.clear_metadata_props();
  const OnnxImport generic = import_onnx(bytes_of(stripped), "stripped.onnx");
  CHECK_FALSE(generic.quill_description);
  CHECK(generic.output_function == OnnxOutputFunction::Softmax);
  CHECK(generic.record.weights.numel() == original.weights.numel());
  const Tensor images = random_images(7, 5);
  CHECK(same_bits(logits_of(generic.record, images), logits_of(original, images)));

  // A changed graph is not taken for Quill's own (its weights may change: they are the file's anyway).
  onnx::ModelProto edited = parsed(onnx_bytes);
  for (onnx::NodeProto& n : *edited.mutable_graph()->mutable_node())
    if (n.op_type() == "Relu") {
      n.set_op_type("Sigmoid");
      break;
    }
  CHECK_FALSE(import_onnx(bytes_of(edited), "edited.onnx").quill_description);
}

// The message of the quill::Error that importing `bytes` throws ("" if none).
std::string import_error(const std::vector<uint8_t>& bytes) {
  try {
    import_onnx(bytes, "hostile.onnx");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("onnx import: export then import gives the same model, bit for bit (cnn, small, every layer kind)") {
  for (const std::string name : {"cnn", "small"}) {
    CAPTURE(name);
    check_round_trip(read_text(find_model_description(name)));
  }
  check_round_trip(kEveryKind);
}

// Per-axis kernels and strides, padding that differs per side, ceil_mode that changes the size (the
// first maxpool's height, the first avgpool's width) and count_include_pad: the ONNX attributes carry them both ways.
TEST_CASE("onnx import: export then import keeps per-axis windows, asymmetric pads, ceil_mode and count_include_pad") {
  check_round_trip(
      "conv 6 k3x5 s1x2 pt0 pb1 pl2 pr1\n"  // 28x28 -> 27x14
      "relu\n"
      "maxpool 2 ceil\n"  // -> 14x7; rounded down 13x7
      "conv 4 k3 p1\n"
      "tanh\n"
      "avgpool 3 s2 pt0 pb1 pl1 pr0 ceil countpad\n"  // -> 7x4; rounded down 7x3
      "avgpool 3x2 s1 p1x0\n"  // -> 7x3
      "dense classes\n");
  // An average that counts padding keeps ceil_mode, which ONNX readers take two ways where a last window
  // would start in the padding (here the rows': 15 or 14); that has no portable form.
  CHECK_THROWS_WITH_AS(export_onnx(seeded_model("avgpool 3 s2 pt0 pb2 pl0 pr0 ceil countpad\ndense classes\n", 11),
                                   "ambiguous.quill"),
                       doctest::Contains("no portable ONNX form"), Error);
}

// A global pooling over a non-square input is a pooling layer with an HxW window.
TEST_CASE("onnx import: GlobalMaxPool and GlobalAveragePool over a non-square input") {
  for (const std::string kind : {"maxpool", "avgpool"}) {
    CAPTURE(kind);
    const ModelRecord original = seeded_model("conv 4 k1x3\n" + kind + " 28x26\ndense classes\n", 5);
    onnx::ModelProto m = parsed(export_onnx(original, "original.quill"));
    m.clear_metadata_props();
    for (onnx::NodeProto& n : *m.mutable_graph()->mutable_node())
      if (n.op_type() == "MaxPool" || n.op_type() == "AveragePool") {
        n.set_op_type(n.op_type() == "MaxPool" ? "GlobalMaxPool" : "GlobalAveragePool");
        n.clear_attribute();
      }
    const OnnxImport imported = import_onnx(bytes_of(m), "global.onnx");
    CHECK(imported.record.description.find(kind + " 28x26") != std::string::npos);
    const Tensor images = random_images(3, 9);
    CHECK(same_bits(logits_of(imported.record, images), logits_of(original, images)));
  }
}

TEST_CASE("onnx import: PyTorch's export of the default CNN gives PyTorch's probabilities within 1e-5") {
  std::string python;
  for (const char* p : {"python3", "/usr/bin/python3"})
    if (run_command(std::string(p) + " -c 'import torch, numpy' 2>/dev/null").status == 0) {
      python = p;
      break;
    }
  if (python.empty()) {
    test::skip_test_case("python3 has no torch (scripts/install-deps.sh installs python3-torch)");
    return;
  }
  test_files::TempDir dir;
  // Trained on real MNIST when QUILL_DATA has it, else on seeded noise (the comparison holds for any weights).
  const std::string mnist = !test::data_root().empty() && fs::exists(test::data_root() + "/mnist")
                                ? test::data_root() + "/mnist" : "";
  const test::CommandResult r = run_command(python + " '" + QUILL_SOURCE_DIR + "/tests/onnx/torch_export.py' '" +
                                            dir.path().string() + "' '" + mnist + "' 2>&1");
  REQUIRE_MESSAGE(r.status == 0, r.out);
  const int count = std::stoi(r.out.substr(r.out.find_last_of('\n', r.out.size() - 2) + 1));
  REQUIRE(count == 1000);
  MESSAGE("PyTorch CNN trained on " << std::string(mnist.empty() ? "seeded noise (no QUILL_DATA)" : "MNIST"));

  const std::string onnx_path = (dir.path() / "torch_cnn.onnx").string();
  const OnnxImport imported = import_onnx(read_file_bytes(onnx_path, "onnx"), onnx_path);
  CHECK(imported.output_function == OnnxOutputFunction::Softmax);
  CHECK(imported.record.classes.size() == 10);
  const std::vector<uint8_t> image_bytes = read_file_bytes((dir.path() / "images.f32").string(), "images");
  const std::vector<uint8_t> prob_bytes = read_file_bytes((dir.path() / "probabilities.f32").string(), "probs");
  REQUIRE(image_bytes.size() == size_t(count) * 784 * 4);
  REQUIRE(prob_bytes.size() == size_t(count) * 10 * 4);
  Tensor images = Tensor::empty(Shape{count, 1, 28, 28});
  std::memcpy(images.raw(), image_bytes.data(), image_bytes.size());

  std::vector<Backend> backends = {Backend::Cpu};
  for (Backend b : test_gpu::gpu_backends(test_gpu::WithoutCuda::SkipGpuPart)) backends.push_back(b);
  for (Backend backend : backends) {
    const std::string backend_text = backend_name(backend);
    CAPTURE(backend_text);
    // Every image on the CPU; the first 16 on a GPU backend (the emulation runs each kernel on the CPU, slowly).
    const int n = backend == Backend::Cpu ? count : 16;
    const Tensor batch = backend == Backend::Cpu ? images : images.slice(0, n);
    const Tensor probs = softmax_of(logits_of(imported.record, batch, backend), backend);
    double worst = 0;
    for (int64_t i = 0; i < int64_t(n) * 10; ++i) {
      float want;
      std::memcpy(&want, prob_bytes.data() + i * 4, 4);
      worst = std::max(worst, double(std::abs(probs.data<float>()[i] - want)));
    }
    MESSAGE(backend_text << ": max |Quill - PyTorch| over " << n << " images: " << worst);
    CHECK(worst <= 1e-5);
  }
}

TEST_CASE("onnx import: a model exported from Quill fine-tunes after import (quill train --init-from)") {
  const test::TrainData data = test::real_digits_train_data_or_skip();
  if (data.empty()) return;
  test_files::TempDir dir;
  const std::string model = (dir.path() / "small.quill").string(), onnx_file = (dir.path() / "small.onnx").string(),
                    tuned = (dir.path() / "tuned.quill").string();
  const std::string common = " " + data.options() +
                             " --train-limit 512 --batch 32 --epochs 1 --recipe none --val-split 0 --test-limit 64 "
                             "--no-report --device cpu --seed 3 --out ";
  test::CommandResult r = run_command(std::string(QUILL_BINARY) + " train --model small" + common + "'" + model + "' 2>&1");
  REQUIRE_MESSAGE(r.status == 0, r.out);
  r = run_command(std::string(QUILL_BINARY) + " export --model '" + model + "' --onnx '" + onnx_file + "' 2>&1");
  REQUIRE_MESSAGE(r.status == 0, r.out);
  r = run_command(std::string(QUILL_BINARY) + " train --init-from '" + onnx_file + "'" + common + "'" + tuned + "' 2>&1");
  REQUIRE_MESSAGE(r.status == 0, r.out);
  CHECK(r.out.find("starting from the weights of") != std::string::npos);
  const ModelRecord before = load_model_file(model), after = load_model_file(tuned);
  CHECK(after.description == before.description);  // the exported description, dropout and comments included
  CHECK(after.weights.numel() == before.weights.numel());
  CHECK_FALSE(same_bits(after.weights, before.weights));  // it trained
  // --init-from names the model; --model with it is refused.
  r = run_command(std::string(QUILL_BINARY) + " train --model cnn --init-from '" + onnx_file + "'" + common + "'" + tuned + "' 2>&1");
  CHECK(r.status != 0);
}

TEST_CASE("onnx import: hostile files are a one-line error") {
  const ModelRecord record = seeded_model(read_text(find_model_description("small")), 2);
  const std::vector<uint8_t> good = export_onnx(record, "small.quill");
  auto check_error = [](const std::string& message, const std::string& expected) {
    CAPTURE(message);
    CHECK(message.find(expected) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  };

  check_error(import_error({}), "not an ONNX model");
  for (size_t cut : {size_t(1), size_t(50), good.size() / 2, good.size() - 3}) {
    CAPTURE(cut);
    const std::string message = import_error(std::vector<uint8_t>(good.begin(), good.begin() + long(cut)));
    CHECK_FALSE(message.empty());
    CHECK(message.find('\n') == std::string::npos);
  }
  std::mt19937 rng(9);
  for (int trial = 0; trial < 50; ++trial) {  // random bytes and random corruptions: an error or a model, no crash
    std::vector<uint8_t> bytes = good;
    for (int k = 0; k < 8; ++k) bytes[rng() % bytes.size()] = uint8_t(rng());
    const std::string message = import_error(bytes);
    CHECK(message.find('\n') == std::string::npos);
  }

  onnx::ModelProto m = parsed(good);
  {  // an unknown op
    onnx::ModelProto u = m;
    u.mutable_graph()->mutable_node(0)->set_op_type("FancyConv");
    check_error(import_error(bytes_of(u)), "op 'FancyConv' is not one Quill has");
  }
  {  // a cycle: the first node reads the last node's output
    onnx::ModelProto c = m;
    onnx::GraphProto* g = c.mutable_graph();
    g->mutable_node(0)->set_input(0, g->node(g->node_size() - 2).output(0));
    check_error(import_error(bytes_of(c)), "cycle");
  }
  {  // external data
    onnx::ModelProto e = m;
    onnx::TensorProto* t = e.mutable_graph()->mutable_initializer(0);
    t->clear_raw_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    onnx::StringStringEntryProto* where = t->add_external_data();
    where->set_key("location");
    where->set_value("/etc/passwd");
    check_error(import_error(bytes_of(e)), "external file");
  }
  {  // huge dims
    onnx::ModelProto h = m;
    onnx::TensorProto* t = h.mutable_graph()->mutable_initializer(0);
    t->clear_dims();
    for (int i = 0; i < 4; ++i) t->add_dims(int64_t(1) << 40);
    check_error(import_error(bytes_of(h)), "more than");
  }
  {  // dims that disagree with the data
    onnx::ModelProto d = m;
    d.mutable_graph()->mutable_initializer(0)->set_dims(0, 3);
    check_error(import_error(bytes_of(d)), "bytes for");
  }
  {  // a huge input
    onnx::ModelProto i = m;
    i.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(2)->set_dim_value(int64_t(1) << 40);
    check_error(import_error(bytes_of(i)), "dimension");
  }
  {  // a second input
    onnx::ModelProto two = m;
    *two.mutable_graph()->add_input() = two.graph().input(0);
    two.mutable_graph()->mutable_input(1)->set_name("other");
    check_error(import_error(bytes_of(two)), "more than one input");
  }
  {  // a node reading a tensor nothing defines
    onnx::ModelProto n = m;
    n.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
    check_error(import_error(bytes_of(n)), "not defined");
  }

  // The command line: one line on stderr, a non-zero exit, nothing written.
  test_files::TempDir dir;
  const std::string bad = (dir.path() / "bad.onnx").string(), out = (dir.path() / "out.quill").string();
  {
    std::ofstream f(bad, std::ios::binary);
    f.write(reinterpret_cast<const char*>(good.data()), long(good.size() / 2));
  }
  const test::CommandResult r = run_command(std::string(QUILL_BINARY) + " import --onnx '" + bad + "' --out '" + out + "' 2>&1");
  CHECK(r.status != 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  CHECK_FALSE(fs::exists(out));
  const test::CommandResult missing = run_command(std::string(QUILL_BINARY) + " eval --model '" + bad + "' 2>&1");
  CHECK(missing.status != 0);
}
