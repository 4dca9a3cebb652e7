#pragma once
// The .quill model file: everything needed to rebuild a trained network and use it on new images, and
// for checkpoints everything needed to continue training exactly where it stopped.
//
// Layout (all integers little-endian):
//   "QUILLMDL"           8-byte magic
//   u32 format version   kModelFormatVersion; newer files are refused with a clear message
//   u32 kind             0 model, 1 checkpoint
//   u64 content length   N, the bytes of the sections that follow
//   sections             N bytes: each a 4-character tag, a u64 payload length, the payload
//   u32 CRC-32 (zlib)    of every byte before it (header and sections)
// Sections, in this order: DESC model description text · SHAP per-sample input shape · DTYP dtype ·
// CLAS class names · FRAM framing convention (how user images are preprocessed) · WGHT the flat
// parameter buffer · BUFS non-trained buffers (batch-norm running statistics) · META training metadata
// (JSON text). Checkpoints add OPTS (optimizer step count and state tensors) and TRST (the training
// state as JSON: run settings, optimizer and schedule configuration, seed, epoch, batch position, step,
// history). Readers skip unknown tags, so a version can grow optional sections.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "layers/graph.h"

namespace quill {

constexpr char kModelMagic[8] = {'Q', 'U', 'I', 'L', 'L', 'M', 'D', 'L'};
constexpr uint32_t kModelFormatVersion = 1;

// What a checkpoint adds to a model.
struct CheckpointState {
  int64_t optimizer_steps = 0;
  std::vector<Tensor> optimizer_state;  // Optimizer::state(), on the CPU
  nlohmann::json training = nlohmann::json::object();  // owned by the trainer (engine/trainer.h)
};

struct ModelRecord {
  std::string description;  // the model description text
  Shape input_shape{1, 28, 28};  // per sample
  DType dtype = DType::F32;
  std::vector<std::string> classes;
  FramingConvention framing = FramingConvention::Mnist;
  Tensor weights;               // the flat parameter buffer, on the CPU
  std::vector<Tensor> buffers;  // Graph::buffers(), on the CPU
  nlohmann::json metadata = nlohmann::json::object();  // dataset, epochs, accuracy, date, seed, command line
  std::optional<CheckpointState> checkpoint;
};

std::vector<uint8_t> encode_model_file(const ModelRecord& record);
// `path` names the bytes in errors.
ModelRecord decode_model_file(const std::vector<uint8_t>& bytes, const std::string& path);

// Writes atomically (engine/atomic_file.h).
void save_model_file(const std::string& path, const ModelRecord& record);
// A .quill file, or an .onnx file (a name ending in .onnx, read by engine/onnx_import.h).
ModelRecord load_model_file(const std::string& path);

// A record of a built graph's current weights and buffers, copied to the CPU.
ModelRecord capture_model(Graph& graph, const std::string& description, const std::vector<std::string>& classes,
                          FramingConvention framing);
// Copies the record's weights and buffers into `graph`, built from the same description; checks counts and
// shapes. `path` names the record in errors.
void restore_weights(const ModelRecord& record, Graph& graph, const std::string& path);
// Rebuilds the network from the record's description on `device` with its stored weights.
std::unique_ptr<Graph> build_model(const ModelRecord& record, Device device, const std::string& path);

const char* framing_name(FramingConvention framing);  // "mnist", "emnist"
std::string framing_summary(FramingConvention framing);  // one line for `quill info`

}  // namespace quill
