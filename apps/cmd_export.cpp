// quill export: a model file in another framework's format. For now ONNX (engine/onnx_export.h): the
// network with a Softmax at its end, checked by ONNX's checker, for ONNX Runtime and other frameworks.
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "engine/onnx_export.h"

namespace quill {

Command add_export_command(CLI::App& quill) {
  struct Options {
    std::string model, onnx;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = quill.add_subcommand("export", "Write a model as an ONNX graph (opset 13; input 'image' [N,1,28,28], outputs 'probabilities' and 'logits')");
  cmd->add_option("--model", o->model, "Model file (.quill)")->required();
  cmd->add_option("--onnx", o->onnx, "The ONNX file to write (replaced atomically)")->required();
  return {cmd, [o](const std::string&) {
            export_onnx_file(o->model, o->onnx);
            std::printf("wrote %s (ONNX opset %lld)\n", o->onnx.c_str(), (long long)kOnnxOpset);
            return 0;
          }};
}

}  // namespace quill
