// `quill export --onnx` (engine/onnx_export.h): the exported graph passes ONNX's own Python checker
// (full_check), and ONNX Runtime (onnxruntime-node, tests/onnx/) gives the class probabilities Quill's
// classifier gives, within 1e-5, for both shipped descriptions and for a residual description with every
// layer kind. The models are trained briefly on real MNIST when QUILL_DATA is set (so the batch-norm
// running statistics are real ones), else initialised from a fixed seed with random running statistics.
// Also `quill export` on bad input: one line on stderr and a non-zero exit.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/classifier.h"
#include "engine/model_file.h"
#include "engine/model_lookup.h"
#include "engine/onnx_export.h"
#include "kernels/backends.h"
#include "layers/graph.h"
#include "layers/model_description.h"
#include "tests/child_process.h"
#include "tests/real_data.h"
#include "tests/skip.h"
#include "tests/temp_files.h"

using namespace quill;
using quill::test::run_command;
namespace fs = std::filesystem;

namespace {

const std::string kOnnxDir = std::string(QUILL_SOURCE_DIR) + "/tests/onnx";

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// A Python with the onnx module: python3, else Debian's (/usr/bin/python3, which python3-onnx installs into,
// when python3 is another one, such as pyenv's); "" if none.
std::string python_with_onnx() {
  for (const char* python : {"python3", "/usr/bin/python3"})
    if (run_command(std::string(python) + " -c 'import onnx'").status == 0) return python;
  return "";
}

// What the comparison needs and is missing here, or "".
std::string missing_tools() {
  if (python_with_onnx().empty())
    return "python3's onnx module is missing (scripts/install-deps.sh installs python3-onnx)";
  if (run_command("command -v node").status != 0) return "node is missing (scripts/install-deps.sh npm)";
  if (!fs::exists(kOnnxDir + "/node_modules/onnxruntime-node"))
    return "onnxruntime-node is not installed (cd tests/onnx && npm ci --ignore-scripts; .ci/run does)";
  return "";
}

// A residual description with every layer kind and every activation: padded avgpool (which divides by the
// in-image pixels), maxpool, conv with and without bias, bn on channels and on units, dropout, flatten, add.
const char* kResidualDescription =
    "conv 6 k3 p1 as stem\n"
    "bn\n"
    "relu as a\n"
    "conv 6 k3 p1 nobias\n"
    "bn\n"
    "leaky 0.2\n"
    "add as sum1 from a\n"
    "avgpool 3 s2 p1\n"      // 28 -> 14, the border windows partly padding
    "conv 8 k3 s2 p1\n"      // 14 -> 7
    "tanh as t\n"
    "maxpool 3 s1 p1 as m\n"
    "add from t m\n"
    "flatten\n"
    "dense 24 nobias xavier\n"
    "bn\n"
    "sigmoid\n"
    "dropout 0.2\n"
    "dense classes\n";

std::vector<std::string> digit_classes() { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }

// The model to export: trained with `quill train` on real digits for `steps` steps of 16 when QUILL_DATA
// is set, else built from a fixed seed with random batch-norm statistics. Returns how it was made.
std::string make_model(const std::string& model, const std::string& out, int steps) {
  if (!quill::test::data_root().empty()) {
    const quill::test::TrainData data = quill::test::real_digits_train_data_or_skip();
    if (data.empty()) return "";
    const std::string command = std::string(QUILL_BINARY) + " train --model " + quoted(model) + " " + data.options() +
                                " --train-limit " + std::to_string(16 * steps) + " --batch 16 --epochs 1 --lr 0.01 " +
                                "--recipe none --val-split 0 --test-limit 16 --no-report --device cpu --seed 7 --out " +
                                quoted(out);
    const quill::test::CommandResult r = run_command(command);
    REQUIRE_MESSAGE(r.status == 0, r.out);
    return "trained " + std::to_string(steps) + " steps of 16 on " + data.dataset;
  }
  const std::string text = [&] {
    std::ifstream f(find_model_description(model));
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }();
  Graph g;
  add_to_graph(parse_model_description(text), 10, g);
  g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 7);
  // Running statistics as training leaves them, not the initial 0 and 1: means in [-0.5, 0.5], small
  // variances (1e-4 to 1e-3, so that batch norm's eps of 1e-5 matters), and gamma scaled by the running
  // standard deviation so that activations stay of order 1.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (size_t i = 0; i < g.size(); ++i) {
    if (g.layer(i).kind() != "bn") continue;
    const std::vector<Tensor*> stats = g.layer(i).buffers();
    float* mean = stats[0]->data<float>();
    float* var = stats[1]->data<float>();
    float* gamma = g.layer(i).params()[0].value.data<float>();
    float* beta = g.layer(i).params()[1].value.data<float>();
    for (int64_t c = 0; c < stats[0]->numel(); ++c) {
      mean[c] = u(rng) - 0.5f;
      var[c] = 1e-4f + 9e-4f * u(rng);
      gamma[c] = std::sqrt(var[c]) * (0.5f + u(rng));
      beta[c] = 0.2f * (u(rng) - 0.5f);
    }
  }
  save_model_file(out, capture_model(g, text, digit_classes(), FramingConvention::Mnist));
  return "initialised from seed 7, random batch-norm statistics and scales";
}

// `count` images: real test digits when QUILL_DATA is set, else random pixels.
std::vector<std::vector<uint8_t>> make_images(int64_t count) {
  std::vector<std::vector<uint8_t>> images;
  if (!quill::test::data_root().empty()) {
    const Dataset d = quill::test::real_digits_or_skip(quill::test::DigitsPart::Test, count);
    for (int64_t i = 0; i < d.size(); ++i) images.emplace_back(d.image(i), d.image(i) + 28 * 28);
    return images;
  }
  std::mt19937 rng(11);
  for (int64_t i = 0; i < count; ++i) {
    std::vector<uint8_t> image(28 * 28);
    for (uint8_t& p : image) p = uint8_t(rng() & 255);
    images.push_back(image);
  }
  return images;
}

// Exports `model_path` with the quill binary, checks it with ONNX's Python checker, runs ONNX Runtime on
// `images` and compares its probabilities with the classifier's. Returns the largest difference.
double compare_with_onnx_runtime(const std::string& model_path, const std::vector<std::vector<uint8_t>>& images,
                                 const test_files::TempDir& dir) {
  const std::string onnx_path = dir.file("model.onnx");
  const quill::test::CommandResult exported =
      run_command(std::string(QUILL_BINARY) + " export --model " + quoted(model_path) + " --onnx " + quoted(onnx_path));
  REQUIRE_MESSAGE(exported.status == 0, exported.out);

  // ONNX's own checker, the full one (with shape inference), and the metadata as written.
  const quill::test::CommandResult checked = run_command(
      python_with_onnx() + " -c \"import json, sys, onnx; m = onnx.load(sys.argv[1]); "
      "onnx.checker.check_model(m, full_check=True); "
      "print(json.dumps({p.key: p.value for p in m.metadata_props}))\" " + quoted(onnx_path));
  REQUIRE_MESSAGE(checked.status == 0, checked.out);
  const nlohmann::json meta = nlohmann::json::parse(checked.out);
  const ModelRecord record = load_model_file(model_path);
  CHECK(nlohmann::json::parse(meta.at("quill.classes").get<std::string>()) == nlohmann::json(record.classes));
  CHECK(meta.at("quill.framing") == framing_name(record.framing));
  CHECK(meta.at("quill.description") == record.description);
  CHECK(meta.contains("quill.version"));
  CHECK(meta.contains("quill.input"));

  // The pixels as the classifier feeds them: byte / 255, rounded to float32.
  std::vector<float> pixels;
  for (const std::vector<uint8_t>& image : images)
    for (uint8_t p : image) pixels.push_back(float(p / 255.0));
  const std::string raw = dir.file("images.f32");
  {
    std::ofstream f(raw, std::ios::binary);
    f.write(reinterpret_cast<const char*>(pixels.data()), std::streamsize(pixels.size() * sizeof(float)));
  }
  const quill::test::CommandResult ran = run_command("node " + quoted(kOnnxDir + "/run_onnx.mjs") + " " +
                                                     quoted(onnx_path) + " " + quoted(raw) + " " +
                                                     std::to_string(images.size()));
  REQUIRE_MESSAGE(ran.status == 0, ran.out);

  init_backends();
  Classifier classifier(model_path, Placement{});
  const std::vector<std::vector<double>> expected = classifier.probabilities(images);
  std::istringstream lines(ran.out);
  double worst = 0;
  int64_t argmax_differs = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    std::string line;
    REQUIRE_MESSAGE(std::getline(lines, line), "ONNX Runtime printed ", i, " lines for ", images.size(), " images");
    std::istringstream values(line);
    std::vector<double> got;
    for (double v; values >> v;) got.push_back(v);
    REQUIRE(got.size() == expected[i].size());
    for (size_t c = 0; c < got.size(); ++c) worst = std::max(worst, std::abs(got[c] - expected[i][c]));
    argmax_differs += std::max_element(got.begin(), got.end()) - got.begin() !=
                      std::max_element(expected[i].begin(), expected[i].end()) - expected[i].begin();
  }
  MESSAGE(argmax_differs, " of ", images.size(), " images have another top class in ONNX Runtime");
  return worst;
}

void check_description(const std::string& model, int steps, int64_t count) {
  if (const std::string missing = missing_tools(); !missing.empty()) {
    quill::test::skip_test_case(missing);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  test_files::TempDir dir("onnx");
  const std::string model_path = dir.file("model.quill");
  const std::string how = make_model(model, model_path, steps);
  if (how.empty()) return;  // skipped: QUILL_DATA without digits
  const std::vector<std::vector<uint8_t>> images = make_images(count);
  if (images.empty()) return;
  const double worst = compare_with_onnx_runtime(model_path, images, dir);
  MESSAGE(model, " (", how, "): max |ONNX Runtime - Quill| of the probabilities over ", images.size(),
          " images: ", worst, " (", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          " s)");
  CHECK(worst <= 1e-5);
}

}  // namespace

TEST_CASE("onnx export: the small model's probabilities in ONNX Runtime match Quill's") {
  check_description("small", 300, 1000);
}

TEST_CASE("onnx export: the default cnn's probabilities in ONNX Runtime match Quill's") {
  check_description("cnn", 300, 1000);
}

TEST_CASE("onnx export: a residual model with every layer kind matches in ONNX Runtime") {
  test_files::TempDir descriptions("onnx-desc");
  const std::string path = descriptions.file("residual.txt");
  std::ofstream(path) << kResidualDescription;
  check_description(path, 150, 1000);
}

// ONNX's kernel_shape, strides and pads per axis and side, ceil_mode and count_include_pad, as ONNX Runtime
// computes them.
TEST_CASE("onnx export: per-axis windows, asymmetric padding, ceil and countpad match in ONNX Runtime") {
  test_files::TempDir descriptions("onnx-desc");
  const std::string path = descriptions.file("windows.txt");
  std::ofstream(path) << "conv 6 k3x5 s1x2 pt0 pb1 pl2 pr1\n"  // 28x28 -> 27x14
                         "relu\n"
                         "maxpool 2 ceil\n"  // -> 14x7; rounded down 13x7
                         "conv 4 k3 p1\n"
                         "tanh\n"
                         "avgpool 3 s2 pt0 pb1 pl1 pr0 ceil countpad\n"  // -> 7x4; rounded down 7x3
                         "avgpool 3x2 s1 p1x0\n"  // -> 7x3
                         "dense classes\n";
  check_description(path, 150, 1000);
}

TEST_CASE("onnx export: bad input is a one-line error and a non-zero exit") {
  test_files::TempDir dir("onnx-bad");
  std::string output;  // stdout and stderr of the last run (a failed export prints nothing on stdout)
  auto quill = [&](const std::string& args) {
    const quill::test::CommandResult r = run_command(std::string(QUILL_BINARY) + " " + args);
    output = r.out;
    return r;
  };
  auto err = [&] { return output; };
  auto one_line = [](const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; };

  Graph g;
  const std::string text = "conv 2 k3 p1\nbn\nrelu\nmaxpool 2\ndense classes\n";
  add_to_graph(parse_model_description(text), 10, g);
  g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 1);
  const std::string good = dir.file("tiny.quill");
  save_model_file(good, capture_model(g, text, digit_classes(), FramingConvention::Mnist));

  quill::test::CommandResult r = quill("export --model " + quoted(dir.file("absent.quill")) + " --onnx " + quoted(dir.file("a.onnx")));
  CHECK(r.status != 0);
  CHECK(one_line(err()));
  CHECK(err().find("absent.quill") != std::string::npos);
  CHECK(!fs::exists(dir.file("a.onnx")));

  std::vector<uint8_t> bytes = test_files::read_bytes(good);
  bytes[bytes.size() / 2] ^= 0x40;
  test_files::write_bytes(dir.file("corrupt.quill"), bytes);
  r = quill("export --model " + quoted(dir.file("corrupt.quill")) + " --onnx " + quoted(dir.file("c.onnx")));
  CHECK(r.status != 0);
  CHECK(one_line(err()));
  CHECK(!fs::exists(dir.file("c.onnx")));

  test_files::write_bytes(dir.file("text.quill"), {'n', 'o', 't', ' ', 'a', ' ', 'm', 'o', 'd', 'e', 'l', '\n'});
  r = quill("export --model " + quoted(dir.file("text.quill")) + " --onnx " + quoted(dir.file("t.onnx")));
  CHECK(r.status != 0);
  CHECK(one_line(err()));

  r = quill("export --model " + quoted(good) + " --onnx " + quoted(dir.file("no-such-folder/m.onnx")));
  CHECK(r.status != 0);
  CHECK(one_line(err()));
  CHECK(err().find("no-such-folder") != std::string::npos);

  r = quill("export --model " + quoted(good) + " --onnx " + quoted(dir.file("m.onnx")) + " --opset 9");
  CHECK(r.status == 2);
  CHECK(one_line(err()));
  CHECK(err().find("--opset") != std::string::npos);

  r = quill("export --model " + quoted(good));
  CHECK(r.status == 2);
  CHECK(one_line(err()));
  CHECK(err().find("--onnx") != std::string::npos);

  // And the good one is written, and only it.
  r = quill("export --model " + quoted(good) + " --onnx " + quoted(dir.file("m.onnx")));
  CHECK(r.status == 0);
  CHECK(fs::file_size(dir.file("m.onnx")) > 0);
  CHECK(!fs::exists(dir.file("m.onnx.tmp")));
}

TEST_CASE("onnx export: the library refuses a network that is not a classifier") {
  Graph g;
  const std::string text = "conv 2 k3 p1\nrelu\n";
  add_to_graph(parse_model_description(text), 10, g);
  g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 1);
  const ModelRecord r = capture_model(g, text, digit_classes(), FramingConvention::Mnist);
  CHECK_THROWS_WITH_AS(export_onnx(r, "maps.quill"), doctest::Contains("one logit per class"), Error);
}
