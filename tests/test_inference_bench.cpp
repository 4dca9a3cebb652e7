// The inference benchmark (`quill bench --inference`): a run on a tiny model, from a description and from a
// .quill file with an images file, reports sane figures (finite, positive, as many as asked for, the batch
// it was given), writes probabilities that are probabilities, and its JSON; errors are one line. No timing
// thresholds.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/bench/inference_bench.h"
#include "engine/model_file.h"
#include "kernels/backends.h"
#include "layers/model_description.h"
#include "tests/temp_files.h"

using namespace quill;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void check_sane(const Spread& s, size_t count) {
  REQUIRE(s.runs.size() == count);
  for (double v : s.runs) CHECK((std::isfinite(v) && v > 0));
  CHECK(s.min > 0);
  CHECK(s.min <= s.p10);
  CHECK(s.p10 <= s.median);
  CHECK(s.median <= s.p90);
  CHECK(s.p90 <= s.max);
}

std::vector<float> read_floats(const std::string& path) {
  const std::vector<uint8_t> bytes = test_files::read_bytes(path);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace

TEST_CASE("inference bench: median and percentiles as numpy.percentile gives them") {
  const Spread s = spread_of({5, 1, 4, 2, 3});
  CHECK(s.median == 3);
  CHECK(s.min == 1);
  CHECK(s.max == 5);
  CHECK(s.p10 == doctest::Approx(1.4));
  CHECK(s.p25 == doctest::Approx(2));
  CHECK(s.p90 == doctest::Approx(4.6));
  CHECK(s.runs == std::vector<double>{5, 1, 4, 2, 3});  // in the order measured
  CHECK(spread_of({2, 4}).median == 3);
  CHECK(spread_of({7}).p90 == 7);
  CHECK_THROWS(spread_of({}));
}

TEST_CASE("inference bench: a tiny model from its description, synthetic images") {
  test_files::TempDir dir("inference_bench");
  InferenceBenchOptions o;
  o.model = std::string(QUILL_SOURCE_DIR) + "/models/small.txt";
  o.batch = 5;
  o.warmup = 1, o.repeats = 3;
  o.latency_warmup = 1, o.latency_calls = 7;
  o.threads = 1;
  o.probabilities = dir.file("probs.f32");
  const InferenceBenchResult r = run_inference_bench(o);
  CHECK(r.batch == 5);
  CHECK(r.threads == 1);
  CHECK(r.classes == 10);
  CHECK(r.parameters > 0);
  CHECK(r.images == "synthetic");
  CHECK(r.model_kind == "description (seeded weights)");
  check_sane(r.images_per_second, 3);
  check_sane(r.batch_ms, 3);
  check_sane(r.latency_ms, 7);
  // Each call's images/s is the batch over its time.
  for (size_t i = 0; i < 3; ++i) CHECK(r.images_per_second.runs[i] == doctest::Approx(5 / (r.batch_ms.runs[i] * 1e-3)));

  const std::vector<float> p = read_floats(o.probabilities);
  REQUIRE(p.size() == 5 * 10);
  for (int i = 0; i < 5; ++i) {
    double sum = 0;
    for (int c = 0; c < 10; ++c) {
      CHECK((p[size_t(i * 10 + c)] >= 0 && p[size_t(i * 10 + c)] <= 1));
      sum += p[size_t(i * 10 + c)];
    }
    CHECK(sum == doctest::Approx(1).epsilon(1e-5));
  }

  const nlohmann::json j = inference_bench_json(r, "quill bench --inference");
  for (const char* key : {"engine", "model", "parameters", "threads", "batch", "images_per_second", "batch_ms",
                          "latency_ms", "latency_calls", "repeats", "device_name", "date", "command_line"})
    CHECK_MESSAGE(j.contains(key), key);
  CHECK(j["batch"] == 5);
  CHECK(j["latency_batch"] == 1);
  CHECK(j["images_per_second"]["runs"].size() == 3);
  CHECK(j["latency_ms"]["runs"].size() == 7);
  CHECK(j["latency_ms"]["median"].get<double>() > 0);
  const std::string summary = inference_bench_summary(r);
  CHECK(summary.find("batch 5: median") != std::string::npos);
  CHECK(summary.find("batch 1: median") != std::string::npos);
}

TEST_CASE("inference bench: a .quill model file on an images file with fewer images than the batch") {
  init_backends();
  test_files::TempDir dir("inference_bench_file");
  const std::string description = slurp(std::string(QUILL_SOURCE_DIR) + "/models/small.txt");
  Graph graph;
  add_to_graph(parse_model_description(description), 3, graph);
  graph.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 7);
  const std::string model = dir.file("tiny.quill");
  save_model_file(model, capture_model(graph, description, {"a", "b", "c"}, FramingConvention::Mnist));
  // Two images, the second the first's negative: cycled to a batch of 4, rows 0 and 2 (1 and 3) are equal.
  std::vector<float> pixels(2 * 784);
  for (int i = 0; i < 784; ++i) pixels[size_t(i)] = float(i % 29) / 28.0f, pixels[size_t(784 + i)] = 1.0f - pixels[size_t(i)];
  const std::string images = dir.file("images.f32");
  test_files::write_bytes(images, std::vector<uint8_t>(reinterpret_cast<uint8_t*>(pixels.data()),
                                                       reinterpret_cast<uint8_t*>(pixels.data() + pixels.size())));
  InferenceBenchOptions o;
  o.model = model;
  o.images = images;
  o.batch = 4;
  o.warmup = 0, o.repeats = 2;
  o.latency_warmup = 0, o.latency_calls = 3;
  o.probabilities = dir.file("probs.f32");
  const InferenceBenchResult r = run_inference_bench(o);
  CHECK(r.model_kind == "model file");
  CHECK(r.classes == 3);
  CHECK(r.batch == 4);
  CHECK(r.images == images);
  check_sane(r.images_per_second, 2);
  check_sane(r.latency_ms, 3);
  const std::vector<float> p = read_floats(o.probabilities);
  REQUIRE(p.size() == 4 * 3);
  for (int c = 0; c < 3; ++c) {
    CHECK(p[size_t(c)] == p[size_t(6 + c)]);
    CHECK(p[size_t(3 + c)] == p[size_t(9 + c)]);
  }

  // An images file that is not whole images is a one-line error.
  test_files::write_bytes(dir.file("bad.f32"), std::vector<uint8_t>(784 * 4 + 4));
  o.images = dir.file("bad.f32");
  CHECK_THROWS_WITH_AS(run_inference_bench(o), doctest::Contains("are not whole float32 images"), std::exception);
}

TEST_CASE("inference bench: the command prints both figures and writes the JSON") {
  test_files::TempDir dir("inference_bench_cli");
  const std::string json_path = dir.file("inference.json");
  const std::string command = std::string("timeout 120 ") + QUILL_BINARY +
                              " bench --inference --model small --batch 3 --repeats 2 --warmup 0 --latency-calls 4 "
                              "--threads 1 --json " + json_path + " >" + dir.file("stdout") + " 2>" +
                              dir.file("stderr") + " </dev/null";
  const int raw = std::system(command.c_str());
  INFO("stderr: ", slurp(dir.file("stderr")));
  REQUIRE(WIFEXITED(raw));
  REQUIRE(WEXITSTATUS(raw) == 0);
  const std::string out = slurp(dir.file("stdout"));
  CHECK(out.find("batch 3: median") != std::string::npos);
  CHECK(out.find("batch 1: median") != std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(slurp(json_path));
  CHECK(j["mode"] == "inference");
  CHECK(j["batch"] == 3);
  CHECK(j["threads"] == 1);
  CHECK(j["repeats"] == 2);
  CHECK(j["images_per_second"]["runs"].size() == 2);
  CHECK(j["latency_ms"]["runs"].size() == 4);

  // Options of the training modes are refused with --inference.
  for (const char* args : {"--steps 3", "--ops", "--device cuda", "--backend cudnn"}) {
    CAPTURE(args);
    const std::string bad = std::string("timeout 60 ") + QUILL_BINARY + " bench --inference --model small " + args +
                            " >/dev/null 2>" + dir.file("err") + " </dev/null";
    const int status = std::system(bad.c_str());
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
  }
}

TEST_CASE("inference bench: the CPU's chunked inference gives each sample the bits it gets alone") {
  init_backends();
  Graph graph;
  add_to_graph(read_model_description(std::string(QUILL_SOURCE_DIR) + "/models/small.txt"), 10, graph);
  graph.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 3);
  const int64_t chunk = graph.inference_chunk();
  CHECK(chunk >= 1);
  const int n = int(2 * chunk + 3);  // two whole chunks and a short one
  const Tensor x = synthetic_images(n, 5);
  Context ctx;
  ctx.training = false;
  const Tensor all = graph.forward(ctx, x).clone();
  REQUIRE(all.shape() == Shape{n, 10});
  for (int i = 0; i < n; i += 7) {
    const Tensor one = graph.forward(ctx, x.slice(i, i + 1));
    CAPTURE(i);
    CHECK(std::memcmp(one.data<float>(), all.data<float>() + i * 10, 10 * sizeof(float)) == 0);
  }
}
