#pragma once
// The plain-text model description: one layer per line, e.g.
//   conv 32 k3 p1          # 32 filters, 3x3, padding 1
//   relu as a              # `as NAME` names the node
//   add from a b           # `from NAME...` picks inputs; fewer than the layer takes: the previous node first
//   dense classes          # `classes` is the dataset's class count
// Blank lines and text after '#' are ignored. Errors name the line.
#include <string>
#include <vector>

#include "layers/graph.h"

namespace quill {

struct ModelLine {
  int line = 0;
  std::string name;                 // empty: a name is generated (conv1, relu2, ...)
  std::vector<std::string> inputs;  // from `from`
  std::vector<std::string> words;   // the layer and its arguments
};

struct ModelDescription {
  std::vector<ModelLine> lines;
  std::string text;  // as given, stored in model files
};

ModelDescription parse_model_description(const std::string& text);
ModelDescription read_model_description(const std::string& path);  // a file (engine/model_lookup finds built-in names)

// Creates the graph's nodes (not yet built: call Graph::build with the input shape).
void add_to_graph(const ModelDescription& desc, int classes, Graph& graph);

}  // namespace quill
