#include "engine/model_file.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <map>

#include "engine/atomic_file.h"
#include "engine/onnx_import.h"
#include "engine/byte_io.h"
#include "layers/model_description.h"

namespace quill {
namespace {

constexpr size_t kHeaderSize = 8 + 4 + 4 + 8;
constexpr size_t kCrcSize = 4;
constexpr uint32_t kKindModel = 0, kKindCheckpoint = 1;

uint32_t crc32_of(const uint8_t* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large buffers in pieces.
  while (size > 0) {
    const uInt piece = uInt(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, data, piece);
    data += piece;
    size -= piece;
  }
  return uint32_t(crc);
}

std::string file_name(const std::string& path) { return "model file '" + path + "'"; }

void write_sections(ByteWriter& w, const ModelRecord& r) {
  w.begin_section("DESC");
  w.string(r.description);
  w.end_section();

  w.begin_section("SHAP");
  w.u32(uint32_t(r.input_shape.rank()));
  for (int i = 0; i < r.input_shape.rank(); ++i) w.i64(r.input_shape[i]);
  w.end_section();

  w.begin_section("DTYP");
  w.u32(static_cast<uint32_t>(r.dtype));
  w.end_section();

  w.begin_section("CLAS");
  w.u32(uint32_t(r.classes.size()));
  for (const std::string& c : r.classes) w.string(c);
  w.end_section();

  w.begin_section("FRAM");
  w.u32(static_cast<uint32_t>(r.framing));
  w.end_section();

  w.begin_section("WGHT");
  w.tensor(r.weights);
  w.end_section();

  w.begin_section("BUFS");
  w.u32(uint32_t(r.buffers.size()));
  for (const Tensor& b : r.buffers) w.tensor(b);
  w.end_section();

  w.begin_section("META");
  w.string(r.metadata.dump());
  w.end_section();

  if (!r.checkpoint) return;
  w.begin_section("OPTS");
  w.i64(r.checkpoint->optimizer_steps);
  w.u32(uint32_t(r.checkpoint->optimizer_state.size()));
  for (const Tensor& t : r.checkpoint->optimizer_state) w.tensor(t);
  w.end_section();

  w.begin_section("TRST");
  w.string(r.checkpoint->training.dump());
  w.end_section();
}

nlohmann::json parse_json_section(ByteReader& in, const char* tag) {
  const std::string text = in.string();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    in.malformed(std::string("section ") + tag + " is not valid JSON");
  }
}

void read_section(const std::string& tag, ByteReader& in, ModelRecord& r) {
  if (tag == "DESC") {
    r.description = in.string();
  } else if (tag == "SHAP") {
    const uint32_t rank = in.u32();
    if (rank < 1 || rank > uint32_t(Shape::kMaxRank) - 1) in.malformed("input shape rank " + std::to_string(rank));
    r.input_shape = Shape();
    for (uint32_t i = 0; i < rank; ++i) {
      const int64_t d = in.i64();
      if (d < 1 || d > 65536) in.malformed("input dimension " + std::to_string(d));
      r.input_shape.push_back(d);
    }
  } else if (tag == "DTYP") {
    const uint32_t t = in.u32();
    if (t != uint32_t(DType::F32) && t != uint32_t(DType::F64)) in.malformed("model dtype " + std::to_string(t));
    r.dtype = static_cast<DType>(t);
  } else if (tag == "CLAS") {
    const uint32_t n = in.u32();
    if (n > in.remaining() / 8) in.malformed("class count " + std::to_string(n));
    r.classes.clear();
    for (uint32_t i = 0; i < n; ++i) r.classes.push_back(in.string());
  } else if (tag == "FRAM") {
    const uint32_t f = in.u32();
    if (f > uint32_t(FramingConvention::Emnist)) in.malformed("framing convention " + std::to_string(f));
    r.framing = static_cast<FramingConvention>(f);
  } else if (tag == "WGHT") {
    r.weights = in.tensor();
  } else if (tag == "BUFS") {
    const uint32_t n = in.u32();
    r.buffers.clear();
    for (uint32_t i = 0; i < n; ++i) r.buffers.push_back(in.tensor());
  } else if (tag == "META") {
    r.metadata = parse_json_section(in, "META");
  } else if (tag == "OPTS") {
    if (!r.checkpoint) r.checkpoint.emplace();
    r.checkpoint->optimizer_steps = in.i64();
    const uint32_t n = in.u32();
    r.checkpoint->optimizer_state.clear();
    for (uint32_t i = 0; i < n; ++i) r.checkpoint->optimizer_state.push_back(in.tensor());
  } else if (tag == "TRST") {
    if (!r.checkpoint) r.checkpoint.emplace();
    r.checkpoint->training = parse_json_section(in, "TRST");
  } else {
    return;  // an optional section of a later minor revision: skipped
  }
  if (!in.done()) in.malformed("section " + tag + " has " + std::to_string(in.remaining()) + " unread bytes");
}

Tensor host_copy(const Tensor& t) { return t.device().is_cpu() ? t.clone() : t.to(Device::cpu()); }

// Whether every element of a host float tensor is finite (other dtypes: true).
bool all_finite(const Tensor& t) {
  bool finite = true;
  if (t.dtype() == DType::F32) {
    const float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) finite &= std::isfinite(p[i]);
  } else if (t.dtype() == DType::F64) {
    const double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) finite &= std::isfinite(p[i]);
  }
  return finite;
}

}  // namespace

std::vector<uint8_t> encode_model_file(const ModelRecord& record) {
  QUILL_CHECK(record.weights.defined(), "a model file needs weights");
  ByteWriter w;
  w.raw(kModelMagic, sizeof kModelMagic);
  w.u32(kModelFormatVersion);
  w.u32(record.checkpoint ? kKindCheckpoint : kKindModel);
  w.u64(0);  // content length, patched below
  write_sections(w, record);
  std::vector<uint8_t>& bytes = w.bytes();
  const uint64_t content = bytes.size() - kHeaderSize;
  std::memcpy(bytes.data() + 16, &content, sizeof content);
  const uint32_t crc = crc32_of(bytes.data(), bytes.size());
  w.u32(crc);
  return std::move(w.bytes());
}

ModelRecord decode_model_file(const std::vector<uint8_t>& bytes, const std::string& path) {
  const std::string what = file_name(path);
  if (bytes.empty()) fail(what, " is empty (0 bytes): not a quill model");
  const size_t magic_bytes = std::min(bytes.size(), sizeof kModelMagic);
  if (std::memcmp(bytes.data(), kModelMagic, magic_bytes) != 0)
    fail(what, " is not a quill model (wrong magic bytes)");
  if (bytes.size() < kHeaderSize + kCrcSize)
    fail(what, " is truncated (", bytes.size(), " bytes, shorter than the header)");
  ByteReader header(bytes.data() + 8, kHeaderSize - 8, what);
  const uint32_t version = header.u32();
  const uint32_t kind = header.u32();
  const uint64_t content = header.u64();
  if (version > kModelFormatVersion)
    fail(what, " has format version ", version, ", newer than this quill reads (", kModelFormatVersion,
         "): update quill");
  if (version < 1) fail(what, " has unsupported format version ", version);
  const uint64_t expected = kHeaderSize + content + kCrcSize;
  if (content > bytes.size() || bytes.size() < expected)
    fail(what, " is truncated (", bytes.size(), " of ", expected, " bytes)");
  if (bytes.size() > expected) fail(what, " has ", bytes.size() - expected, " unexpected bytes after its end");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + kHeaderSize + content, sizeof stored_crc);
  if (crc32_of(bytes.data(), kHeaderSize + content) != stored_crc)
    fail(what, " is corrupt (checksum mismatch)");
  if (kind > kKindCheckpoint) fail(what, " is malformed: unknown kind ", kind);

  ModelRecord record;
  std::map<std::string, int> seen;
  ByteReader sections(bytes.data() + kHeaderSize, content, what);
  while (!sections.done()) {
    char tag[4];
    sections.raw(tag, 4);
    const uint64_t length = sections.u64();
    if (length > sections.remaining()) sections.malformed("a section runs past the end of the file");
    ByteReader payload = sections.sub(length);
    const std::string name(tag, 4);
    if (seen[name]++) sections.malformed("section " + name + " appears twice");
    read_section(name, payload, record);
  }
  for (const char* required : {"DESC", "SHAP", "DTYP", "CLAS", "FRAM", "WGHT", "BUFS", "META"})
    if (!seen.count(required)) sections.malformed(std::string("section ") + required + " is missing");
  if (kind == kKindCheckpoint && !(seen.count("OPTS") && seen.count("TRST")))
    sections.malformed("a checkpoint without its optimizer state");
  if (record.classes.empty()) sections.malformed("no class names");
  return record;
}

void save_model_file(const std::string& path, const ModelRecord& record) {
  write_file_atomically(path, encode_model_file(record));
}

ModelRecord load_model_file(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path, "model file");
  const bool quill_file = bytes.size() >= sizeof kModelMagic && std::memcmp(bytes.data(), kModelMagic, sizeof kModelMagic) == 0;
  const bool onnx_name = path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
  if (!quill_file && onnx_name) return import_onnx(bytes, path).record;
  return decode_model_file(bytes, path);
}

ModelRecord capture_model(Graph& graph, const std::string& description, const std::vector<std::string>& classes,
                          FramingConvention framing) {
  QUILL_CHECK(graph.built(), "cannot save a model that is not built");
  ModelRecord r;
  r.description = description;
  r.input_shape = graph.input_shape();
  r.dtype = graph.dtype();
  r.classes = classes;
  r.framing = framing;
  r.weights = host_copy(graph.flat_values());
  for (Tensor* b : graph.buffers()) r.buffers.push_back(host_copy(*b));
  return r;
}

void restore_weights(const ModelRecord& record, Graph& graph, const std::string& path) {
  const std::string what = file_name(path);
  QUILL_CHECK(record.weights.numel() == graph.num_params(), what, " stores ", record.weights.numel(),
              " weights but its model description has ", graph.num_params(), " parameters");
  QUILL_CHECK(record.weights.dtype() == graph.dtype(), what, " stores ", dtype_name(record.weights.dtype()),
              " weights for a ", dtype_name(graph.dtype()), " model");
  std::vector<Tensor*> buffers = graph.buffers();
  QUILL_CHECK(record.buffers.size() == buffers.size(), what, " stores ", record.buffers.size(),
              " buffers but its model has ", buffers.size());
  // Non-finite values come from a run that diverged (older quill saved those): every answer would be
  // garbage, so refuse the file rather than predict from it.
  QUILL_CHECK(all_finite(record.weights), what, " holds NaN or infinite weights (from a training run that diverged)");
  graph.flat_values().copy_from(record.weights.view(graph.flat_values().shape()));
  for (size_t i = 0; i < buffers.size(); ++i) {
    QUILL_CHECK(record.buffers[i].shape() == buffers[i]->shape() && record.buffers[i].dtype() == buffers[i]->dtype(),
                what, ": buffer ", i, " has shape ", record.buffers[i].shape().str(), ", the model expects ",
                buffers[i]->shape().str());
    QUILL_CHECK(all_finite(record.buffers[i]), what, " holds NaN or infinite values in buffer ", i,
                " (from a training run that diverged)");
    buffers[i]->copy_from(record.buffers[i]);
  }
}

std::unique_ptr<Graph> build_model(const ModelRecord& record, Device device, const std::string& path) {
  auto graph = std::make_unique<Graph>();
  try {
    add_to_graph(parse_model_description(record.description), int(record.classes.size()), *graph);
    graph->build(record.input_shape, record.dtype, Device::cpu(), 0);
  } catch (const Error& e) {
    fail(file_name(path), ": its model description does not build: ", e.what());
  }
  restore_weights(record, *graph, path);
  graph->to(device);
  return graph;
}

const char* framing_name(FramingConvention framing) {
  return framing == FramingConvention::Emnist ? "emnist" : "mnist";
}

std::string framing_summary(FramingConvention framing) {
  if (framing == FramingConvention::Emnist)
    return "emnist: character centred in a square with a 2-pixel border, resized to 28x28";
  return "mnist: aspect-preserving fit into 20x20, centre of mass at the centre of 28x28";
}

}  // namespace quill
