// PNG reading (every colour type, bit depth, transparency, interlace), writing, bad files, image folders.
#include <doctest/doctest.h>
#include <png.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/data_sources.h"
#include "data/image_folder.h"
#include "data/png_io.h"
#include "runtime/error.h"
#include "tests/error_checks.h"
#include "tests/temp_files.h"

namespace {

using namespace test_files;

namespace fs = std::filesystem;


// A PNG to write with libpng directly, independent of the code under test.
struct TestPng {
  int width = 13, height = 7;  // odd sizes exercise partial Adam7 passes
  int color_type = PNG_COLOR_TYPE_GRAY;
  int bit_depth = 8;
  bool interlace = false;
  std::vector<png_color> palette;
  std::vector<png_byte> palette_alpha;  // tRNS for palette images
  bool has_trns_color = false;          // tRNS for gray / RGB images
  png_color_16 trns_color{};

  int channels() const {
    switch (color_type) {
      case PNG_COLOR_TYPE_GRAY: return 1;
      case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
      case PNG_COLOR_TYPE_RGB: return 3;
      case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
      default: return 1;  // palette index
    }
  }
  unsigned max_value() const { return (1u << bit_depth) - 1; }
  // The stored sample of channel c at (x, y): a pattern that covers the range.
  unsigned sample(int x, int y, int c) const {
    if (color_type == PNG_COLOR_TYPE_PALETTE) return unsigned(x + 3 * y) % unsigned(palette.size());
    const unsigned v = unsigned(x * 7919 + y * 104729 + c * 15485863) * 2654435761u;
    return (v >> 7) % (max_value() + 1);
  }
  // What read_png should give at (x, y).
  double expected(int x, int y) const {
    const double m = max_value();
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
      const unsigned i = sample(x, y, 0);
      const png_color& p = palette[i];
      const double lum = (0.299 * p.red + 0.587 * p.green + 0.114 * p.blue) / 255.0;
      const double a = i < palette_alpha.size() ? palette_alpha[i] / 255.0 : 1.0;
      return a * lum + (1 - a);
    }
    const int ch = channels();
    double s[4];
    for (int c = 0; c < ch; ++c) s[c] = sample(x, y, c) / m;
    if (ch == 1) {
      if (has_trns_color && sample(x, y, 0) == trns_color.gray) return 1.0;
      return s[0];
    }
    if (ch == 2) return s[1] * s[0] + (1 - s[1]);
    const double lum = 0.299 * s[0] + 0.587 * s[1] + 0.114 * s[2];
    if (ch == 3) {
      if (has_trns_color && sample(x, y, 0) == trns_color.red && sample(x, y, 1) == trns_color.green &&
          sample(x, y, 2) == trns_color.blue)
        return 1.0;
      return lum;
    }
    return s[3] * lum + (1 - s[3]);
  }
};

void abort_on_error(png_structp, png_const_charp msg) {
  std::fprintf(stderr, "test PNG writer: %s\n", msg);
  std::abort();  // the test's own PNGs are valid; never longjmp over C++ frames
}

void append_to_vector(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}

std::vector<uint8_t> encode_test_png(const TestPng& t) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, abort_on_error, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, append_to_vector, nullptr);
  png_set_IHDR(png, info, t.width, t.height, t.bit_depth, t.color_type,
               t.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!t.palette.empty()) png_set_PLTE(png, info, t.palette.data(), int(t.palette.size()));
  if (!t.palette_alpha.empty())
    png_set_tRNS(png, info, t.palette_alpha.data(), int(t.palette_alpha.size()), nullptr);
  if (t.has_trns_color) png_set_tRNS(png, info, nullptr, 0, const_cast<png_color_16p>(&t.trns_color));
  png_write_info(png, info);
  if (t.interlace) png_set_interlace_handling(png);
  // Pack rows: low bit depths most significant bits first, 16-bit big-endian.
  const int ch = t.channels();
  const size_t row_bytes = (size_t(t.width) * ch * t.bit_depth + 7) / 8;
  std::vector<std::vector<png_byte>> rows(t.height, std::vector<png_byte>(row_bytes, 0));
  for (int y = 0; y < t.height; ++y) {
    size_t bit = 0;
    for (int x = 0; x < t.width; ++x)
      for (int c = 0; c < ch; ++c) {
        const unsigned v = t.sample(x, y, c);
        if (t.bit_depth == 16) {
          rows[y][bit / 8] = png_byte(v >> 8);
          rows[y][bit / 8 + 1] = png_byte(v);
        } else {
          rows[y][bit / 8] |= png_byte(v << (8 - t.bit_depth - bit % 8));
        }
        bit += t.bit_depth;
      }
  }
  std::vector<png_bytep> row_ptrs;
  for (auto& r : rows) row_ptrs.push_back(r.data());
  png_write_image(png, row_ptrs.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

std::vector<png_color> test_palette(int n) {
  std::vector<png_color> p;
  for (int i = 0; i < n; ++i) p.push_back({png_byte(i * 37), png_byte(255 - i * 11), png_byte(i * 73)});
  return p;
}

void check_decodes(const TestPng& t) {
  const std::vector<uint8_t> bytes = encode_test_png(t);
  const quill::Image img = quill::decode_png(bytes.data(), bytes.size(), "test.png");
  REQUIRE(img.width == t.width);
  REQUIRE(img.height == t.height);
  double worst = 0;
  for (int y = 0; y < t.height; ++y)
    for (int x = 0; x < t.width; ++x) worst = std::max(worst, std::fabs(img.at(x, y) - t.expected(x, y)));
  CHECK(worst < 1e-5);
}

void append_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  auto put32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
  };
  put32(uint32_t(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  out.insert(out.end(), body.begin(), body.end());
  put32(uint32_t(crc32(0, body.data(), uInt(body.size()))));
}

// A valid 8-bit gray PNG header claiming width x height, with an empty image stream: for the size checks,
// which must refuse it before anything of that size is allocated or decoded.
std::vector<uint8_t> gray_png_claiming(uint32_t width, uint32_t height) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  for (uint32_t v : {width, height})
    for (int s = 24; s >= 0; s -= 8) ihdr.push_back(uint8_t(v >> s));
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit gray, no interlace
  append_chunk(png, "IHDR", ihdr);
  append_chunk(png, "IDAT", {0x78, 0x9c, 0x03, 0x00});
  append_chunk(png, "IEND", {});
  return png;
}

}  // namespace

TEST_CASE("data: png reads every color type, bit depth and interlace") {
  struct Kind {
    int color_type;
    std::vector<int> depths;
  };
  const std::vector<Kind> kinds = {
      {PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}}, {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}}, {PNG_COLOR_TYPE_RGB, {8, 16}},
      {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}},     {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}},
  };
  for (const Kind& k : kinds)
    for (int depth : k.depths)
      for (bool interlace : {false, true}) {
        CAPTURE(k.color_type);
        CAPTURE(depth);
        CAPTURE(interlace);
        TestPng t;
        t.color_type = k.color_type;
        t.bit_depth = depth;
        t.interlace = interlace;
        if (k.color_type == PNG_COLOR_TYPE_PALETTE) t.palette = test_palette(std::min(1 << depth, 40));
        check_decodes(t);
      }
}

TEST_CASE("data: png transparency composites over white") {
  SUBCASE("palette with tRNS") {
    for (int depth : {2, 8}) {
      TestPng t;
      t.color_type = PNG_COLOR_TYPE_PALETTE;
      t.bit_depth = depth;
      t.palette = test_palette(4);
      t.palette_alpha = {0, 128, 255};  // index 3 has no entry: opaque
      check_decodes(t);
    }
  }
  SUBCASE("gray with a transparent value") {
    for (int depth : {4, 8, 16}) {
      TestPng t;
      t.bit_depth = depth;
      t.has_trns_color = true;
      t.trns_color.gray = png_uint_16(t.sample(1, 1, 0));
      check_decodes(t);
    }
  }
  SUBCASE("RGB with a transparent colour") {
    TestPng t;
    t.color_type = PNG_COLOR_TYPE_RGB;
    t.has_trns_color = true;
    t.trns_color.red = png_uint_16(t.sample(2, 3, 0));
    t.trns_color.green = png_uint_16(t.sample(2, 3, 1));
    t.trns_color.blue = png_uint_16(t.sample(2, 3, 2));
    check_decodes(t);
  }
  SUBCASE("fully transparent black reads as white paper") {
    TestPng t;
    t.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
    check_decodes(t);  // covers alpha 0 among the pattern
    const std::vector<uint8_t> bytes = encode_test_png(t);
    const quill::Image img = quill::decode_png(bytes.data(), bytes.size(), "t.png");
    for (int y = 0; y < t.height; ++y)
      for (int x = 0; x < t.width; ++x)
        if (t.sample(x, y, 1) == 0) CHECK(img.at(x, y) == doctest::Approx(1.0));
  }
}

TEST_CASE("data: png gray round trip") {
  TempDir tmp("png");
  quill::Image img(17, 5);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) img.at(x, y) = float((x * 5 + y * 31) % 256) / 255.0f;
  const std::string path = tmp.file("gray.png");
  quill::write_png(path, img);
  const std::vector<uint8_t> bytes = read_bytes(path);
  CHECK(bytes[24] == 8);  // IHDR bit depth
  CHECK(bytes[25] == 0);  // IHDR colour type: gray
  const quill::Image back = quill::read_png(path);
  REQUIRE(back.width == img.width);
  REQUIRE(back.height == img.height);
  for (size_t i = 0; i < img.pixels.size(); ++i) CHECK(back.pixels[i] == doctest::Approx(img.pixels[i]).epsilon(1e-6));

  quill::Image wild(2, 1);
  wild.pixels = {-3.0f, 7.0f};  // clamped
  const std::vector<uint8_t> enc = quill::encode_png(wild);
  const quill::Image clamped = quill::decode_png(enc.data(), enc.size(), "mem");
  CHECK(clamped.pixels == std::vector<float>{0.0f, 1.0f});
}

TEST_CASE("data: png RGB write") {
  TempDir tmp("png");
  quill::RgbImage img(4, 3);
  img.set(0, 0, 255, 0, 0);
  img.set(1, 0, 0, 255, 0);
  img.set(2, 0, 0, 0, 255);
  img.set(3, 2, 255, 255, 255);
  const std::string path = tmp.file("rgb.png");
  quill::write_png(path, img);
  const std::vector<uint8_t> bytes = read_bytes(path);
  CHECK(bytes[24] == 8);
  CHECK(bytes[25] == 2);  // RGB
  const quill::Image lum = quill::read_png(path);
  CHECK(lum.at(0, 0) == doctest::Approx(0.299));
  CHECK(lum.at(1, 0) == doctest::Approx(0.587));
  CHECK(lum.at(2, 0) == doctest::Approx(0.114));
  CHECK(lum.at(3, 2) == doctest::Approx(1.0));
  CHECK(lum.at(0, 1) == doctest::Approx(0.0));
  CHECK_THROWS_AS(quill::write_png(tmp.file("empty.png"), quill::RgbImage()), quill::Error);
}

TEST_CASE("data: png bad files give clear errors") {
  TempDir tmp("png");
  const std::string text = tmp.file("notes.png"), empty = tmp.file("empty.png"), missing = tmp.file("missing.png");
  write_bytes(text, {'h', 'e', 'l', 'l', 'o', ' ', 'p', 'n', 'g', '\n'});
  write_bytes(empty, {});
  check_error([&] { quill::read_png(text); }, text, "not a PNG file");
  check_error([&] { quill::read_png(empty); }, empty, "not a PNG file");
  check_error([&] { quill::read_png(missing); }, missing, "cannot open");

  TestPng t;
  t.width = 40;
  t.height = 30;
  const std::vector<uint8_t> good = encode_test_png(t);
  // Cut inside IHDR, inside IDAT, and just before IEND's end.
  for (size_t keep : {size_t(20), good.size() / 2, good.size() - 6}) {
    CAPTURE(keep);
    const std::string cut = tmp.file("cut.png");
    write_bytes(cut, std::vector<uint8_t>(good.begin(), good.begin() + std::ptrdiff_t(keep)));
    check_error([&] { quill::read_png(cut); }, cut, "truncated PNG");
  }

  std::vector<uint8_t> bad_crc = good;
  bad_crc[29] ^= 0xff;  // IHDR's CRC
  const std::string crc = tmp.file("crc.png");
  write_bytes(crc, bad_crc);
  check_error([&] { quill::read_png(crc); }, crc, "invalid PNG");
}

TEST_CASE("data: png huge dimensions are refused before decoding") {
  TempDir tmp("png");
  const std::string path = tmp.file("huge.png");
  write_bytes(path, gray_png_claiming(20000, 20000));
  check_error([&] { quill::read_png(path); }, path, "image is 20000x20000, larger than the 16384x16384 limit");
}

TEST_CASE("data: png width is checked before libpng allocates a row of it") {
  // A 60-byte file whose header claims 2,000,000,000 x 1 pixels: libpng's row buffer alone would take
  // 2 GB. The ASan run of CI caps single allocations at 1 GB (max_allocation_size_mb), so a size check
  // that came after libpng's setup would fail there; found by tests/fuzz/fuzz_png.
  TempDir tmp("png");
  const std::string path = tmp.file("wide.png");
  write_bytes(path, gray_png_claiming(2000000000u, 1u));
  check_error([&] { quill::read_png(path); }, path, "image is 2000000000x1, larger than the 16384x16384 limit");
}

// ---- image folders -------------------------------------------------------------------------------

TEST_CASE("data: image folder loads classes sorted by name") {
  TempDir tmp("png");
  fs::create_directories(tmp.path() / "b");
  fs::create_directories(tmp.path() / "a");
  auto character = [](int ink_x) {
    quill::Image img(28, 28, 1.0f);  // white paper
    img.at(ink_x, 3) = 0.0f;         // one black ink pixel
    return img;
  };
  quill::write_png((tmp.path() / "b" / "2.png").string(), character(2));
  quill::write_png((tmp.path() / "b" / "1.PNG").string(), character(1));
  quill::write_png((tmp.path() / "a" / "x.png").string(), character(5));
  write_bytes((tmp.path() / "a" / "readme.txt").string(), {'h', 'i'});

  const quill::Dataset d = quill::load_image_folder(tmp.path().string());
  CHECK(d.classes == std::vector<std::string>{"a", "b"});
  CHECK(d.labels == std::vector<int32_t>{0, 1, 1});
  REQUIRE(d.size() == 3);
  // Ink bright after inversion; files in name order (1.PNG before 2.png).
  CHECK(d.image(0)[3 * 28 + 5] == 255);
  CHECK(d.image(1)[3 * 28 + 1] == 255);
  CHECK(d.image(2)[3 * 28 + 2] == 255);
  CHECK(d.image(2)[0] == 0);

  // A custom converter replaces the default one.
  int calls = 0;
  const quill::Dataset custom = quill::load_image_folder(tmp.path().string(), [&](const quill::Image&) {
    ++calls;
    return std::vector<uint8_t>(784, 9);
  });
  CHECK(calls == 3);
  CHECK(custom.image(1)[100] == 9);
}

TEST_CASE("data: a folder dataset's first n images (--train-limit) have every class") {
  // Files are read class by class; load_data lets the classes take turns, or the first 6 images of a
  // 3-class folder would be the first class's alone (the npm digits, stored 0s first, had the same fault).
  TempDir tmp("png");
  for (const char* cls : {"a", "b", "c"}) {
    fs::create_directories(tmp.path() / cls);
    for (int i = 0; i < 10; ++i) {
      quill::Image img(28, 28, 1.0f);
      img.at(i + 3, 3) = 0.0f;
      quill::write_png((tmp.path() / cls / (std::to_string(i) + ".png")).string(), img);
    }
  }
  quill::DataOptions o;
  o.dataset = "folder:" + tmp.path().string();
  o.train_limit = 6;
  o.test_limit = 3;
  const quill::DataSplit split = quill::load_data(o, true);
  CHECK(split.train.labels == std::vector<int32_t>{0, 1, 2, 0, 1, 2});
  CHECK(split.test.labels == std::vector<int32_t>{0, 1, 2});
  // Each class keeps its own order: the second "a" in training is the folder's second file (every 5th is test).
  CHECK(split.train.image(3)[3 * 28 + 4] == 255);
}

TEST_CASE("data: image folder errors name the file") {
  TempDir tmp("png");
  fs::create_directories(tmp.path() / "7");
  const std::string wrong = (tmp.path() / "7" / "big.png").string();
  quill::write_png(wrong, quill::Image(30, 28, 1.0f));
  check_error([&] { quill::load_image_folder(tmp.path().string()); }, wrong, "image is 30x28, expected 28x28");
  check_error([&] { quill::load_image_folder(tmp.path().string(), [](const quill::Image&) { return std::vector<uint8_t>(5); }); },
              wrong, "converter returned 5 bytes");
  const std::string nothing = tmp.file("nothing");
  fs::create_directories(nothing);
  check_error([&] { quill::load_image_folder(nothing); }, nothing, "has no class sub-folders");
}
