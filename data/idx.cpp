#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

#include "runtime/error.h"

namespace quill {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int kMaxSide = 1024;
constexpr size_t kChunk = size_t(1) << 20;  // bytes read per gzread call

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

void put_big_endian_u32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// A raw or gzip file read as one byte stream (zlib passes non-gzip files through unchanged).
class ByteStream {
 public:
  explicit ByteStream(const std::string& path) : path_(path) {
    std::FILE* probe = std::fopen(path.c_str(), "rb");
    if (!probe) fail(path, ": cannot open: ", std::strerror(errno));
    uint8_t magic[2] = {0, 0};
    gzip_ = std::fread(magic, 1, 2, probe) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    struct stat st;
    if (!gzip_ && fstat(fileno(probe), &st) == 0) raw_size_ = int64_t(st.st_size);
    std::fclose(probe);
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) fail(path, ": cannot open: ", std::strerror(errno));
    gzbuffer(file_, 1 << 17);
  }
  ~ByteStream() { gzclose(file_); }
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  bool gzip() const { return gzip_; }
  // Size of an uncompressed file, or -1 for gzip (its content length is only known by reading it).
  int64_t raw_size() const { return raw_size_; }

  // Reads up to n bytes; fewer only at the end of the data. Corrupt gzip data throws; a gzip stream that
  // merely stops early reads as a short stream, so callers report it as "expected vs got".
  size_t read(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      const unsigned ask = unsigned(std::min(n - got, kChunk));
      const int r = gzread(file_, dst + got, ask);
      if (r < 0) check_error();
      if (r <= 0) break;
      got += size_t(r);
    }
    if (got < n) check_error();
    return got;
  }

  // Counts the bytes left (for the trailing-bytes message) without keeping them.
  int64_t count_rest() {
    std::vector<uint8_t> sink(kChunk);
    int64_t total = 0;
    for (;;) {
      const size_t r = read(sink.data(), sink.size());
      total += int64_t(r);
      if (r < sink.size()) return total;
    }
  }

  // Whether the gzip stream ended before its end-of-stream marker (the data is cut short).
  bool ended_early() const {
    int err = Z_OK;
    gzerror(file_, &err);
    return err == Z_BUF_ERROR;
  }

 private:
  void check_error() {
    int err = Z_OK;
    const char* msg = gzerror(file_, &err);
    if (err == Z_OK || err == Z_BUF_ERROR) return;  // end of data, or a stream cut short
    if (err == Z_ERRNO) fail(path_, ": read error: ", std::strerror(errno));
    fail(path_, ": corrupt gzip data: ", msg ? msg : "unknown zlib error");
  }

  std::string path_;
  gzFile file_ = nullptr;
  bool gzip_ = false;
  int64_t raw_size_ = -1;
};

const char* describe_magic(uint32_t magic) {
  if (magic == kImagesMagic) return " (an IDX images file)";
  if (magic == kLabelsMagic) return " (an IDX labels file)";
  if ((magic >> 16) == 0x1f8b || (magic >> 24) == 0x89) return " (not an IDX file)";
  return "";
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// Reads the header: the magic number, checked first (so a swapped file is named as such), then `ndims`
// big-endian counts.
std::vector<uint32_t> read_header(ByteStream& in, const std::string& path, uint32_t want_magic, int ndims,
                                  const char* what) {
  uint8_t header[16];
  const size_t header_bytes = 4 + 4 * size_t(ndims);
  size_t got = in.read(header, 4);
  if (got == 4) {
    const uint32_t magic = big_endian_u32(header);
    if (magic != want_magic)
      fail(path, ": wrong magic number ", hex32(magic), describe_magic(magic), ", expected ", hex32(want_magic),
           " (IDX ", what, ")");
    got += in.read(header + 4, header_bytes - 4);
  }
  if (got < header_bytes)
    fail(path, ": too short for an IDX ", what, " header: expected ", header_bytes, " bytes, got ", got);
  std::vector<uint32_t> dims(ndims);
  for (int d = 0; d < ndims; ++d) dims[d] = big_endian_u32(header + 4 + 4 * d);
  return dims;
}

// Reads exactly `expected` bytes in chunks, so an absurd count fails at the end of the data instead of
// allocating its whole size up front; then insists the data ends there.
std::vector<uint8_t> read_body(ByteStream& in, const std::string& path, uint64_t expected, size_t header_bytes,
                               const std::string& what) {
  if (in.raw_size() >= 0) {  // uncompressed: the file size tells at once
    const uint64_t have = uint64_t(in.raw_size()) - header_bytes;
    if (have < expected)
      fail(path, ": truncated: expected ", expected, " bytes of ", what, ", got ", have);
    if (have > expected)
      fail(path, ": ", have - expected, " trailing bytes after the ", expected, " bytes of ", what);
  }
  std::vector<uint8_t> data;
  data.reserve(size_t(std::min<uint64_t>(expected, uint64_t(64) << 20)));
  while (data.size() < expected) {
    const size_t old = data.size();
    const size_t want = size_t(std::min<uint64_t>(expected - old, uint64_t(16) << 20));
    data.resize(old + want);
    const size_t got = in.read(data.data() + old, want);
    if (got < want) {
      fail(path, ": truncated: expected ", expected, " bytes of ", what, ", got ", old + got,
           in.ended_early() ? " (the gzip stream ends early)" : "");
    }
  }
  const int64_t rest = in.count_rest();
  if (rest > 0) fail(path, ": ", rest, " trailing bytes after the ", expected, " bytes of ", what);
  if (in.ended_early()) fail(path, ": truncated gzip stream (its end-of-stream marker is missing)");
  return data;
}

// Writes one IDX file; `write_body` gets a function that appends bytes.
class IdxWriter {
 public:
  IdxWriter(const std::string& path, bool gzip) : path_(path) {
    file_ = gzopen(path.c_str(), gzip ? "wb6" : "wbT");
    if (!file_) fail(path, ": cannot create: ", std::strerror(errno));
  }
  ~IdxWriter() {
    if (file_) gzclose(file_);
  }
  IdxWriter(const IdxWriter&) = delete;
  IdxWriter& operator=(const IdxWriter&) = delete;

  void write(const uint8_t* p, size_t n) {
    while (n > 0) {
      const unsigned chunk = unsigned(std::min(n, kChunk));
      if (gzwrite(file_, p, chunk) != int(chunk)) fail(path_, ": write failed: ", std::strerror(errno));
      p += chunk;
      n -= chunk;
    }
  }
  void close() {
    const int rc = gzclose(file_);
    file_ = nullptr;
    if (rc != Z_OK) fail(path_, ": write failed while closing (disk full?)");
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  ByteStream in(path);
  const std::vector<uint32_t> dims = read_header(in, path, kImagesMagic, 3, "images");
  IdxImages out;
  const uint32_t count = dims[0], rows = dims[1], cols = dims[2];
  if (rows < 1 || rows > kMaxSide || cols < 1 || cols > kMaxSide)
    fail(path, ": image size ", rows, "x", cols, " is outside 1..", kMaxSide, " per side");
  if (count == 0) fail(path, ": contains zero images");
  const uint64_t expected = uint64_t(count) * rows * cols;
  out.pixels = read_body(in, path, expected, 16,
                         "pixel data (" + std::to_string(count) + " images of " + std::to_string(rows) + "x" +
                             std::to_string(cols) + ")");
  out.count = count;
  out.rows = int(rows);
  out.cols = int(cols);
  return out;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  ByteStream in(path);
  const std::vector<uint32_t> dims = read_header(in, path, kLabelsMagic, 1, "labels");
  if (dims[0] == 0) fail(path, ": contains zero labels");
  return read_body(in, path, dims[0], 8, "labels (" + std::to_string(dims[0]) + " labels)");
}

Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, int num_classes) {
  QUILL_CHECK(num_classes >= 1 && num_classes <= 256, labels_path, ": cannot check labels against ",
              num_classes, " classes (IDX labels are bytes, 1..256 classes)");
  IdxImages images = read_idx_images(images_path);
  std::vector<uint8_t> labels = read_idx_labels(labels_path);
  if (int64_t(labels.size()) != images.count)
    fail(labels_path, ": has ", labels.size(), " labels but ", images_path, " has ", images.count, " images");
  Dataset d;
  d.rows = images.rows;
  d.cols = images.cols;
  d.pixels = std::move(images.pixels);
  d.labels.resize(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes)
      fail(labels_path, ": label ", int(labels[i]), " at index ", i, " is out of range for ", num_classes,
           " classes");
    d.labels[i] = labels[i];
  }
  d.classes.resize(num_classes);
  for (int c = 0; c < num_classes; ++c) d.classes[c] = std::to_string(c);
  return d;
}

void write_idx_images(const std::string& path, const uint8_t* pixels, int64_t count, int rows, int cols,
                      bool gzip) {
  QUILL_CHECK(count >= 0 && count <= int64_t(UINT32_MAX), path, ": cannot write ", count, " images to IDX");
  QUILL_CHECK(rows >= 1 && rows <= kMaxSide && cols >= 1 && cols <= kMaxSide, path, ": cannot write images of ",
              rows, "x", cols, " to IDX");
  uint8_t header[16];
  put_big_endian_u32(header, kImagesMagic);
  put_big_endian_u32(header + 4, uint32_t(count));
  put_big_endian_u32(header + 8, uint32_t(rows));
  put_big_endian_u32(header + 12, uint32_t(cols));
  IdxWriter out(path, gzip);
  out.write(header, sizeof header);
  out.write(pixels, size_t(count) * rows * cols);
  out.close();
}

void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels, bool gzip) {
  QUILL_CHECK(labels.size() <= UINT32_MAX, path, ": cannot write ", labels.size(), " labels to IDX");
  uint8_t header[8];
  put_big_endian_u32(header, kLabelsMagic);
  put_big_endian_u32(header + 4, uint32_t(labels.size()));
  IdxWriter out(path, gzip);
  out.write(header, sizeof header);
  out.write(labels.data(), labels.size());
  out.close();
}

void write_idx_dataset(const std::string& images_path, const std::string& labels_path, const Dataset& d,
                       bool gzip) {
  QUILL_CHECK(d.pixels.size() == size_t(d.size()) * d.rows * d.cols, images_path, ": dataset has ",
              d.pixels.size(), " pixel bytes for ", d.size(), " images of ", d.rows, "x", d.cols);
  std::vector<uint8_t> labels(d.labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    QUILL_CHECK(d.labels[i] >= 0 && d.labels[i] < 256, labels_path, ": label ", d.labels[i], " at index ", i,
                " does not fit in an IDX byte");
    labels[i] = uint8_t(d.labels[i]);
  }
  write_idx_images(images_path, d.pixels.data(), d.size(), d.rows, d.cols, gzip);
  write_idx_labels(labels_path, labels, gzip);
}

}  // namespace quill
