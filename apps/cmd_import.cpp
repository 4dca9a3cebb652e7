// quill import: an ONNX graph made of the ops Quill has, as a Quill model file (engine/onnx_import.h). An .onnx
// file is also accepted as it is wherever a model file is; importing once names its classes and framing.
#include <cstdio>
#include <memory>
#include <sstream>

#include "apps/commands.h"
#include "engine/atomic_file.h"
#include "engine/onnx_import.h"
#include "runtime/error.h"

namespace quill {

Command add_import_command(CLI::App& quill) {
  struct Options {
    std::string onnx, out, classes, framing;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = quill.add_subcommand("import", "Read an ONNX graph of the ops Quill has into a model file (.quill)");
  cmd->add_option("--onnx", o->onnx, "The ONNX file to read")->required();
  cmd->add_option("--out", o->out, "The model file to write (replaced atomically)")->required();
  cmd->add_option("--classes", o->classes,
                  "Class names, comma-separated, one per output (default: the file's quill.classes, else 0, 1, ...)");
  cmd->add_option("--framing", o->framing, "How user images are framed for the model: mnist or emnist "
                                           "(default: the file's quill.framing, else mnist)")
      ->check(CLI::IsMember({"mnist", "emnist"}));
  return {cmd, [o](const std::string&) {
            OnnxImport imported = import_onnx(read_file_bytes(o->onnx, "ONNX model"), o->onnx);
            ModelRecord& record = imported.record;
            if (!o->classes.empty()) {
              std::vector<std::string> names;
              std::stringstream ss(o->classes);
              for (std::string name; std::getline(ss, name, ',');) names.push_back(name);
              QUILL_CHECK(names.size() == record.classes.size(), "--classes names ", names.size(), " classes; the network has ",
                          record.classes.size(), " outputs");
              for (const std::string& name : names) QUILL_CHECK(!name.empty(), "--classes has an empty name");
              record.classes = names;
            }
            if (!o->framing.empty()) record.framing = o->framing == "emnist" ? FramingConvention::Emnist : FramingConvention::Mnist;
            save_model_file(o->out, record);
            std::printf("wrote %s: %lld parameters, %zu classes, input %s, %s\n", o->out.c_str(),
                        (long long)record.weights.numel(), record.classes.size(), record.input_shape.str().c_str(),
                        imported.quill_description ? "the model description Quill exported with it"
                                                   : "a model description read from the graph");
            for (const std::string& note : imported.notes) std::printf("note: %s\n", note.c_str());
            return 0;
          }};
}

}  // namespace quill
