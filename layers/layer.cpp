#include "layers/layer.h"

#include <sstream>

#include "layers/layer_kinds.h"

namespace quill {

Param& Layer::add_param(std::string param_name, Shape shape, Param::Init init, int64_t fan_in, int64_t fan_out) {
  Param p;
  p.name = std::move(param_name);
  p.shape = shape;
  p.init = init;
  p.fan_in = fan_in;
  p.fan_out = fan_out;
  params_.push_back(std::move(p));
  return params_.back();
}

std::string Layer::kind() const {
  const std::string d = describe();
  return d.substr(0, d.find(' '));
}

void Layer::shape_error(const std::string& what, const std::vector<Shape>& inputs) const {
  std::ostringstream os;
  if (source_line > 0) os << "line " << source_line << ": ";
  os << "layer '" << name << "' (" << describe() << "): " << what << "; input shape";
  if (inputs.size() > 1) os << 's';
  for (size_t i = 0; i < inputs.size(); ++i) os << (i ? ", " : " ") << inputs[i].str();
  throw Error(os.str());
}

std::unique_ptr<Layer> make_layer(const std::vector<std::string>& words, int classes) {
  LayerArgs args(words, classes);
  const std::string& k = args.kind();
  if (k == "conv") return make_conv(args);
  if (k == "maxpool" || k == "avgpool") return make_pool(args);
  if (k == "relu" || k == "leaky" || k == "tanh" || k == "sigmoid") return make_activation(args);
  if (k == "dense") return make_dense(args);
  if (k == "bn" || k == "batchnorm") return make_batchnorm(args);
  if (k == "dropout") return make_dropout(args);
  if (k == "flatten") return make_flatten(args);
  if (k == "add") return make_add(args);
  fail("unknown layer '", k, "' (known: conv, maxpool, avgpool, relu, leaky, tanh, sigmoid, dense, bn, dropout, ",
       "flatten, add)");
}

}  // namespace quill
