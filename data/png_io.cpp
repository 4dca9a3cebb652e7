#include "data/png_io.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sys/stat.h>

#include "runtime/error.h"

namespace quill {

namespace {

constexpr size_t kMaxPngFileBytes = size_t(1) << 30;

// ---- libpng glue ---------------------------------------------------------------------------------
// libpng reports errors by longjmp. Everything between setjmp and the libpng calls below lives in
// plain structs and C-style functions, so the jump never skips a C++ destructor; the C++ code around
// them turns a failed call into a quill::Error.

struct PngDecodeState {
  png_structp png;
  png_infop info;
  const uint8_t* data;
  size_t size;
  size_t pos;
  int truncated;       // the reader ran past the end of the data
  char error[256];     // libpng's message
  png_uint_32 width, height;
  int channels, bit_depth;
  size_t rowbytes;
};

void record_error(char* dst, size_t cap, const char* msg) {
  std::snprintf(dst, cap, "%s", msg ? msg : "unknown libpng error");
}

void on_decode_error(png_structp png, png_const_charp msg) {
  PngDecodeState* st = static_cast<PngDecodeState*>(png_get_error_ptr(png));
  record_error(st->error, sizeof st->error, msg);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // benign (e.g. unknown chunks): ignore

void on_read(png_structp png, png_bytep out, png_size_t n) {
  PngDecodeState* st = static_cast<PngDecodeState*>(png_get_io_ptr(png));
  if (n > st->size - st->pos) {
    st->truncated = 1;
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, st->data + st->pos, n);
  st->pos += n;
}

// Reads the header up to the first image data: the size, for the caller to check before anything of that
// size is allocated. Returns 0 on a libpng error.
int png_decode_header(PngDecodeState* st) {
  if (setjmp(png_jmpbuf(st->png))) return 0;
  png_set_user_limits(st->png, 0x7fffffffL, 0x7fffffffL);  // decode_png applies its max_side itself
  png_set_read_fn(st->png, st, on_read);
  png_read_info(st->png, st->info);
  st->width = png_get_image_width(st->png, st->info);
  st->height = png_get_image_height(st->png, st->info);
  return 1;
}

// Sets transforms to 1-4 channels of 8 or 16 bits (libpng allocates its row buffers here). Returns 0 on a
// libpng error.
int png_decode_layout(PngDecodeState* st) {
  if (setjmp(png_jmpbuf(st->png))) return 0;
  png_set_expand(st->png);  // palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha
  png_set_interlace_handling(st->png);
  png_read_update_info(st->png, st->info);
  st->channels = png_get_channels(st->png, st->info);
  st->bit_depth = png_get_bit_depth(st->png, st->info);
  st->rowbytes = png_get_rowbytes(st->png, st->info);
  return 1;
}

int png_decode_rows(PngDecodeState* st, png_bytep* rows) {
  if (setjmp(png_jmpbuf(st->png))) return 0;
  png_read_image(st->png, rows);
  png_read_end(st->png, nullptr);
  return 1;
}

struct PngEncodeState {
  png_structp png;
  png_infop info;
  uint8_t* data;  // malloc'd output
  size_t size, capacity;
  char error[256];
};

void on_encode_error(png_structp png, png_const_charp msg) {
  PngEncodeState* st = static_cast<PngEncodeState*>(png_get_error_ptr(png));
  record_error(st->error, sizeof st->error, msg);
  png_longjmp(png, 1);
}

void on_write(png_structp png, png_bytep in, png_size_t n) {
  PngEncodeState* st = static_cast<PngEncodeState*>(png_get_io_ptr(png));
  if (n > st->capacity - st->size) {
    size_t capacity = std::max(st->capacity * 2, st->size + n + 4096);
    uint8_t* grown = static_cast<uint8_t*>(std::realloc(st->data, capacity));
    if (!grown) png_error(png, "out of memory");
    st->data = grown;
    st->capacity = capacity;
  }
  std::memcpy(st->data + st->size, in, n);
  st->size += n;
}

void on_flush(png_structp) {}

int png_encode_rows(PngEncodeState* st, png_uint_32 width, png_uint_32 height, int color_type, png_bytep* rows) {
  if (setjmp(png_jmpbuf(st->png))) return 0;
  png_set_write_fn(st->png, st, on_write, on_flush);
  png_set_IHDR(st->png, st->info, width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(st->png, st->info);
  png_write_image(st->png, rows);
  png_write_end(st->png, nullptr);
  return 1;
}

// ---- C++ side --------------------------------------------------------------------------------------

struct DecodeGuard {
  PngDecodeState* st;
  ~DecodeGuard() { png_destroy_read_struct(&st->png, st->info ? &st->info : nullptr, nullptr); }
};

struct EncodeGuard {
  PngEncodeState* st;
  ~EncodeGuard() {
    png_destroy_write_struct(&st->png, st->info ? &st->info : nullptr);
    std::free(st->data);
  }
};

[[noreturn]] void fail_decode(const PngDecodeState& st, const std::string& name) {
  if (st.truncated) fail(name, ": truncated PNG (the data ends after ", st.size, " bytes)");
  fail(name, ": invalid PNG: ", st.error);
}

// Luminance from 1-4 channels of samples scaled to 0..1, composited over white.
float to_luminance(const float* s, int channels) {
  switch (channels) {
    case 1: return s[0];
    case 2: return s[1] * s[0] + (1.0f - s[1]);
    case 3: return 0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2];
    default: {
      const float lum = 0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2];
      return s[3] * lum + (1.0f - s[3]);
    }
  }
}

std::vector<uint8_t> encode(png_uint_32 width, png_uint_32 height, int color_type, const uint8_t* pixels,
                            size_t row_bytes, const char* what) {
  QUILL_CHECK(width >= 1 && height >= 1, "encode PNG: empty ", what, " image");
  PngEncodeState st{};
  EncodeGuard guard{&st};
  st.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, on_encode_error, on_warning);
  if (!st.png) fail("encode PNG: cannot create libpng writer");
  st.info = png_create_info_struct(st.png);
  if (!st.info) fail("encode PNG: cannot create libpng info");
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = const_cast<png_bytep>(pixels + y * row_bytes);
  if (!png_encode_rows(&st, width, height, color_type, rows.data())) fail("encode PNG: ", st.error);
  return std::vector<uint8_t>(st.data, st.data + st.size);
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail(path, ": cannot create: ", std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) fail(path, ": write failed: ", std::strerror(errno));
}

}  // namespace

Image decode_png(const uint8_t* data, size_t size, const std::string& name, int max_side) {
  max_side = std::clamp(max_side, 1, kMaxPngSide);
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) fail(name, ": not a PNG file (bad signature)");
  PngDecodeState st{};
  st.data = data;
  st.size = size;
  DecodeGuard guard{&st};
  st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, on_decode_error, on_warning);
  if (!st.png) fail(name, ": cannot create libpng reader");
  st.info = png_create_info_struct(st.png);
  if (!st.info) fail(name, ": cannot create libpng info");
  if (!png_decode_header(&st)) fail_decode(st, name);
  if (st.width > png_uint_32(max_side) || st.height > png_uint_32(max_side))
    throw PngTooLarge(name + ": image is " + std::to_string(st.width) + "x" + std::to_string(st.height) +
                      ", larger than the " + std::to_string(max_side) + "x" + std::to_string(max_side) + " limit");
  if (!png_decode_layout(&st)) fail_decode(st, name);
  if (st.channels < 1 || st.channels > 4 || (st.bit_depth != 8 && st.bit_depth != 16))
    fail(name, ": unsupported PNG layout: ", st.channels, " channels of ", st.bit_depth, " bits");

  std::vector<uint8_t> buffer(st.rowbytes * st.height);
  std::vector<png_bytep> rows(st.height);
  for (png_uint_32 y = 0; y < st.height; ++y) rows[y] = buffer.data() + y * st.rowbytes;
  if (!png_decode_rows(&st, rows.data())) fail_decode(st, name);

  Image image(int(st.width), int(st.height));
  const int channels = st.channels;
  const bool wide = st.bit_depth == 16;
  const float scale = wide ? 1.0f / 65535.0f : 1.0f / 255.0f;
  float samples[4];
  for (png_uint_32 y = 0; y < st.height; ++y) {
    const uint8_t* row = rows[y];
    for (png_uint_32 x = 0; x < st.width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const size_t i = size_t(x) * channels + c;
        const unsigned v = wide ? (unsigned(row[2 * i]) << 8) | row[2 * i + 1] : row[i];  // PNG is big-endian
        samples[c] = float(v) * scale;
      }
      image.at(int(x), int(y)) = std::clamp(to_luminance(samples, channels), 0.0f, 1.0f);
    }
  }
  return image;
}

Image read_png(const std::string& path, int max_side) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(path, ": cannot open: ", std::strerror(errno));
  struct stat info {};
  if (::fstat(::fileno(f), &info) == 0 && S_ISDIR(info.st_mode)) {  // opens, then every read fails
    std::fclose(f);
    fail(path, ": is a folder, not a PNG file (to use the images in it, give them: ", path, "/*.png)");
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[65536];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (bytes.size() > kMaxPngFileBytes) {
      std::fclose(f);
      fail(path, ": PNG file is larger than ", kMaxPngFileBytes, " bytes");
    }
  }
  const bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (read_error) fail(path, ": read error");
  return decode_png(bytes.data(), bytes.size(), path, max_side);
}

std::vector<uint8_t> encode_png(const Image& image) {
  QUILL_CHECK(image.pixels.size() == size_t(image.width) * image.height, "encode PNG: image has ",
              image.pixels.size(), " pixels for ", image.width, "x", image.height);
  std::vector<uint8_t> gray(image.pixels.size());
  for (size_t i = 0; i < gray.size(); ++i)
    gray[i] = uint8_t(std::lround(std::clamp(image.pixels[i], 0.0f, 1.0f) * 255.0f));
  return encode(png_uint_32(image.width), png_uint_32(image.height), PNG_COLOR_TYPE_GRAY, gray.data(),
                size_t(image.width), "grayscale");
}

std::vector<uint8_t> encode_png(const RgbImage& image) {
  QUILL_CHECK(image.rgb.size() == size_t(image.width) * image.height * 3, "encode PNG: RGB image has ",
              image.rgb.size(), " bytes for ", image.width, "x", image.height);
  return encode(png_uint_32(image.width), png_uint_32(image.height), PNG_COLOR_TYPE_RGB, image.rgb.data(),
                size_t(image.width) * 3, "RGB");
}

void write_png(const std::string& path, const Image& image) {
  std::vector<uint8_t> bytes;
  try {
    bytes = encode_png(image);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  write_file(path, bytes);
}

void write_png(const std::string& path, const RgbImage& image) {
  std::vector<uint8_t> bytes;
  try {
    bytes = encode_png(image);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  write_file(path, bytes);
}

}  // namespace quill
