#include "layers/model_description.h"
#include "runtime/text_file.h"

#include <cctype>
#include <map>
#include <set>
#include <sstream>

namespace quill {
namespace {

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

}  // namespace

ModelDescription parse_model_description(const std::string& text) {
  ModelDescription desc;
  desc.text = text;
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  std::set<std::string> names;
  while (std::getline(in, raw)) {
    ++line_no;
    if (auto hash = raw.find('#'); hash != std::string::npos) raw.erase(hash);
    std::istringstream words(raw);
    std::vector<std::string> tokens;
    for (std::string w; words >> w;) tokens.push_back(w);
    if (tokens.empty()) continue;
    ModelLine line;
    line.line = line_no;
    enum { Layer, Name, From } part = Layer;
    for (const std::string& t : tokens) {
      if (t == "as") {
        QUILL_CHECK(part == Layer && line.name.empty(), "line ", line_no, ": 'as' must come once, after the layer");
        part = Name;
      } else if (t == "from") {
        QUILL_CHECK(part != From, "line ", line_no, ": 'from' given twice");
        part = From;
      } else if (part == Name) {
        QUILL_CHECK(line.name.empty(), "line ", line_no, ": 'as' takes one name");
        QUILL_CHECK(is_identifier(t), "line ", line_no, ": '", t, "' is not a valid node name");
        line.name = t;
      } else if (part == From) {
        line.inputs.push_back(t);
      } else {
        line.words.push_back(t);
      }
    }
    QUILL_CHECK(!line.words.empty(), "line ", line_no, ": no layer before '", tokens[0], "'");
    QUILL_CHECK(part != Name || !line.name.empty(), "line ", line_no, ": 'as' needs a name");
    QUILL_CHECK(part != From || !line.inputs.empty(), "line ", line_no, ": 'from' needs at least one input");
    if (!line.name.empty()) {
      QUILL_CHECK(names.insert(line.name).second, "line ", line_no, ": the name '", line.name, "' is used twice");
    }
    desc.lines.push_back(std::move(line));
  }
  QUILL_CHECK(!desc.lines.empty(), "the model description has no layers");
  return desc;
}

ModelDescription read_model_description(const std::string& path) {
  const std::string text = read_text_file(path, "model description");
  try {
    return parse_model_description(text);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

void add_to_graph(const ModelDescription& desc, int classes, Graph& graph) {
  std::map<std::string, int> counts;
  std::set<std::string> explicit_names;
  for (const ModelLine& line : desc.lines) explicit_names.insert(line.name);
  std::string previous;
  for (const ModelLine& line : desc.lines) {
    std::unique_ptr<Layer> layer;
    try {
      layer = make_layer(line.words, classes);
    } catch (const Error& e) {
      fail("line ", line.line, ": ", e.what());
    }
    layer->source_line = line.line;
    std::string name = line.name;
    while (name.empty() || (line.name.empty() && explicit_names.count(name)))
      name = line.words[0] + std::to_string(++counts[line.words[0]]);
    std::vector<std::string> inputs = line.inputs;
    if (!inputs.empty() && int(inputs.size()) < layer->arity())
      inputs.insert(inputs.begin(), previous.empty() ? std::string(Graph::kInput) : previous);
    if (inputs.empty() && previous.empty()) inputs.push_back(Graph::kInput);
    try {
      graph.add(name, std::move(layer), inputs);
    } catch (const Error& e) {
      fail("line ", line.line, ": ", e.what());
    }
    previous = name;
  }
}

}  // namespace quill
