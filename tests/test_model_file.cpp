// The .quill model file: lossless round trips, and clear one-line errors for every way a file can be
// damaged; saving is atomic.
#include <doctest/doctest.h>

#include "tests/temp_files.h"
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/atomic_file.h"
#include "engine/byte_io.h"
#include "engine/model_file.h"
#include "layers/model_description.h"

using namespace quill;
namespace fs = std::filesystem;

namespace {

using test_files::TempDir;

const char* kDescription =
    "# a small model with every kind of stored state\n"
    "conv 4 k3 p1\nbn\nrelu\nmaxpool 2\ndense 12\nbn\nrelu\ndropout 0.2\ndense classes\n";

// A fresh folder per test under the system's temporary directory.

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A built graph whose weights and batch-norm statistics are all distinct, non-default values.
std::unique_ptr<Graph> make_graph(const std::string& description = kDescription) {
  auto g = std::make_unique<Graph>();
  add_to_graph(parse_model_description(description), 3, *g);
  g->build(Shape{1, 8, 8}, DType::F32, Device::cpu(), 42);
  float* w = g->flat_values().data<float>();
  for (int64_t i = 0; i < g->num_params(); ++i) w[i] = 0.001f * float(i % 997) - 0.3f;
  int k = 0;
  for (Tensor* b : g->buffers()) {
    float* p = b->data<float>();
    for (int64_t i = 0; i < b->numel(); ++i) p[i] = 0.5f + 0.01f * float(k++);
  }
  return g;
}

ModelRecord make_record(Graph& g) {
  ModelRecord r = capture_model(g, kDescription, {"a", "b", "c"}, FramingConvention::Emnist);
  r.metadata = {{"dataset", "test"}, {"accuracy", 0.987654321}, {"seed", 7}, {"command_line", "quill train --x"}};
  return r;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

std::vector<uint8_t> read_bytes(const std::string& path) { return read_file_bytes(path, "file"); }
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) { write_file_atomically(path, bytes); }

void recompute_crc(std::vector<uint8_t>& bytes) {
  const uint32_t crc = uint32_t(crc32(crc32(0L, Z_NULL, 0), bytes.data(), uInt(bytes.size() - 4)));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
}

}  // namespace

TEST_CASE("model file: round trip keeps weights, buffers, classes, framing and metadata") {
  TempDir dir("roundtrip");
  auto g = make_graph();
  const ModelRecord saved = make_record(*g);
  const std::string path = dir.file("m.quill");
  save_model_file(path, saved);
  CHECK_FALSE(fs::exists(path + ".tmp"));
  const ModelRecord loaded = load_model_file(path);
  CHECK(loaded.description == saved.description);
  CHECK(loaded.input_shape == Shape{1, 8, 8});
  CHECK(loaded.dtype == DType::F32);
  CHECK(loaded.classes == std::vector<std::string>{"a", "b", "c"});
  CHECK(loaded.framing == FramingConvention::Emnist);
  CHECK(loaded.metadata == saved.metadata);
  CHECK(same_bytes(loaded.weights, saved.weights));
  REQUIRE(loaded.buffers.size() == 4);  // two batch norms: running mean and variance each
  for (size_t i = 0; i < loaded.buffers.size(); ++i) CHECK(same_bytes(loaded.buffers[i], saved.buffers[i]));
  CHECK_FALSE(loaded.checkpoint.has_value());
  // Encoding is deterministic: the same record gives the same bytes.
  CHECK(encode_model_file(loaded) == read_bytes(path));
}

TEST_CASE("model file: a rebuilt model computes exactly what the original did") {
  TempDir dir("rebuild");
  auto g = make_graph();
  save_model_file(dir.file("m.quill"), make_record(*g));
  std::unique_ptr<Graph> rebuilt = build_model(load_model_file(dir.file("m.quill")), Device::cpu(), "m.quill");
  Tensor x = Tensor::empty(Shape{2, 1, 8, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float((i * 37) % 101) / 101.0f;
  Context ctx;
  const Tensor a = g->forward(ctx, x).clone();
  const Tensor b = rebuilt->forward(ctx, x).clone();
  CHECK(same_bytes(a, b));
}

TEST_CASE("model file: checkpoints round-trip optimizer state and training state") {
  TempDir dir("checkpoint");
  auto g = make_graph();
  ModelRecord saved = make_record(*g);
  CheckpointState c;
  c.optimizer_steps = 123;
  c.optimizer_state = {saved.weights.clone(), saved.weights.clone()};
  c.optimizer_state[1].data<float>()[0] = 9.5f;
  c.training = {{"position", {{"epoch", 2}, {"batch", 5}, {"step", 77}}}, {"seed", 18446744073709551615ull}};
  saved.checkpoint = c;
  save_model_file(dir.file("c.quill"), saved);
  const ModelRecord loaded = load_model_file(dir.file("c.quill"));
  REQUIRE(loaded.checkpoint.has_value());
  CHECK(loaded.checkpoint->optimizer_steps == 123);
  REQUIRE(loaded.checkpoint->optimizer_state.size() == 2);
  CHECK(same_bytes(loaded.checkpoint->optimizer_state[1], c.optimizer_state[1]));
  CHECK(loaded.checkpoint->training == c.training);
}

TEST_CASE("model file: truncated files are refused, naming the file") {
  TempDir dir("truncated");
  auto g = make_graph();
  const std::string path = dir.file("m.quill");
  save_model_file(path, make_record(*g));
  const std::vector<uint8_t> full = read_bytes(path);
  for (size_t keep : {size_t(0), size_t(5), size_t(20), full.size() / 2, full.size() - 1}) {
    CAPTURE(keep);
    write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + long(keep)));
    const std::string e = error_of([&] { load_model_file(path); });
    CHECK(e.find(path) != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
    if (keep == 0)
      CHECK(e.find("not a quill model") != std::string::npos);
    else
      CHECK(e.find("truncated") != std::string::npos);
  }
}

TEST_CASE("model file: tensor shapes whose element count overflows are refused") {
  // Each dimension within the reader's 2^40 limit, their product 2^64: it wrapped to 0 in the reader's
  // count, which passed the length check, and overflowed Shape::numel (found by tests/fuzz/fuzz_model_file).
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{int64_t(1) << 40, int64_t(1) << 24, 0},
                                          std::vector<int64_t>{int64_t(1) << 32, int64_t(1) << 32, 2, 3}}) {
    ByteWriter w;
    w.u8(uint8_t(DType::F32));
    w.u8(uint8_t(dims.size()));
    for (int64_t d : dims) w.i64(d);
    ByteReader r(w.bytes().data(), w.bytes().size(), "model file 'm.quill'");
    CHECK_THROWS_WITH_AS(r.tensor(), doctest::Contains("model file 'm.quill' is malformed: tensor shape"), Error);
  }
}

TEST_CASE("model file: a flipped byte fails the checksum") {
  TempDir dir("flipped");
  auto g = make_graph();
  const std::string path = dir.file("m.quill");
  save_model_file(path, make_record(*g));
  std::vector<uint8_t> bytes = read_bytes(path);
  for (size_t at : {size_t(30), bytes.size() / 2, bytes.size() - 5}) {
    std::vector<uint8_t> damaged = bytes;
    damaged[at] ^= 0x10;
    write_bytes(path, damaged);
    const std::string e = error_of([&] { load_model_file(path); });
    CAPTURE(at);
    CHECK(e == "model file '" + path + "' is corrupt (checksum mismatch)");
  }
}

TEST_CASE("model file: wrong magic and future versions are refused") {
  TempDir dir("magic");
  auto g = make_graph();
  const std::string path = dir.file("m.quill");
  save_model_file(path, make_record(*g));
  const std::vector<uint8_t> bytes = read_bytes(path);

  std::vector<uint8_t> png = bytes;
  std::memcpy(png.data(), "\x89PNG\r\n\x1a\n", 8);
  write_bytes(path, png);
  CHECK(error_of([&] { load_model_file(path); }) ==
        "model file '" + path + "' is not a quill model (wrong magic bytes)");

  std::vector<uint8_t> future = bytes;
  const uint32_t version = kModelFormatVersion + 1;
  std::memcpy(future.data() + 8, &version, 4);
  recompute_crc(future);
  write_bytes(path, future);
  const std::string e = error_of([&] { load_model_file(path); });
  CHECK(e.find("format version " + std::to_string(version)) != std::string::npos);
  CHECK(e.find("newer") != std::string::npos);

  CHECK(error_of([&] { load_model_file(dir.file("missing.quill")); })
            .find("cannot open model file '" + dir.file("missing.quill") + "'") == 0);
}

TEST_CASE("model file: a description that does not match the weights is refused") {
  TempDir dir("mismatch");
  auto g = make_graph();
  ModelRecord r = make_record(*g);
  r.description = "conv 4 k3 p1\nbn\nrelu\nmaxpool 2\ndense 13\nbn\nrelu\ndropout 0.2\ndense classes\n";
  save_model_file(dir.file("m.quill"), r);
  const std::string e = error_of([&] { build_model(load_model_file(dir.file("m.quill")), Device::cpu(), "m.quill"); });
  CHECK(e.find("weights but its model description has") != std::string::npos);
}

TEST_CASE("model file: NaN or infinite weights or buffers are refused when the model is built") {
  TempDir dir("nonfinite");
  auto g = make_graph();
  ModelRecord r = make_record(*g);
  r.weights.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  save_model_file(dir.file("w.quill"), r);
  const std::string e = error_of([&] { build_model(load_model_file(dir.file("w.quill")), Device::cpu(), "w.quill"); });
  CHECK(e == "model file 'w.quill' holds NaN or infinite weights (from a training run that diverged)");

  ModelRecord b = make_record(*g);
  REQUIRE(b.buffers.size() > 1);
  b.buffers[1].data<float>()[0] = std::numeric_limits<float>::infinity();
  save_model_file(dir.file("b.quill"), b);
  const std::string eb = error_of([&] { build_model(load_model_file(dir.file("b.quill")), Device::cpu(), "b.quill"); });
  CHECK(eb.find("holds NaN or infinite values in buffer 1") != std::string::npos);

  // The finite original still builds.
  save_model_file(dir.file("ok.quill"), make_record(*g));
  CHECK(build_model(load_model_file(dir.file("ok.quill")), Device::cpu(), "ok.quill") != nullptr);
}

TEST_CASE("model file: a failed save leaves the previous file intact") {
  TempDir dir("atomic");
  auto g = make_graph();
  const std::string path = dir.file("m.quill");
  const ModelRecord first = make_record(*g);
  save_model_file(path, first);
  ModelRecord second = first;
  second.metadata["accuracy"] = 0.1;
  fs::create_directory(path + ".tmp");  // the temporary file cannot be created
  const std::string e = error_of([&] { save_model_file(path, second); });
  CHECK(e.find("cannot write '" + path + "'") == 0);
  CHECK(e.find('\n') == std::string::npos);
  CHECK(load_model_file(path).metadata == first.metadata);
  fs::remove(path + ".tmp");
  save_model_file(path, second);
  CHECK(load_model_file(path).metadata == second.metadata);
}
