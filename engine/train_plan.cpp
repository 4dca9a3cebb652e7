#include "engine/train_plan.h"

#include <map>
#include <string>
#include <variant>

namespace quill {
namespace {

nlohmann::json shape_json(const Shape& shape) {
  nlohmann::json dims = nlohmann::json::array();
  for (int i = 0; i < shape.rank(); ++i) dims.push_back(shape[i]);
  return dims;
}

const char* init_name(Param::Init init) {
  switch (init) {
    case Param::Init::HeNormal: return "he_normal";
    case Param::Init::XavierUniform: return "xavier_uniform";
    case Param::Init::Zeros: return "zeros";
    case Param::Init::Ones: return "ones";
  }
  return "?";
}

}  // namespace

nlohmann::json network_to_json(Graph& graph) {
  QUILL_CHECK(graph.built(), "network_to_json: the graph is not built");
  std::map<std::string, Shape> shapes = {{Graph::kInput, graph.input_shape()}};
  for (size_t i = 0; i < graph.size(); ++i) shapes[graph.node_name(i)] = graph.node_shape(i);
  nlohmann::json layers = nlohmann::json::array();
  int64_t total = 0;
  for (size_t i = 0; i < graph.size(); ++i) {
    Layer& layer = graph.layer(i);
    nlohmann::json attributes = nlohmann::json::object();
    for (const LayerAttribute& a : layer.attributes())
      std::visit([&](const auto& v) { attributes[a.name] = v; }, a.value);
    nlohmann::json params = nlohmann::json::array();
    int64_t count = 0;
    for (const Param& p : layer.params()) {
      params.push_back({{"name", p.name}, {"shape", shape_json(p.shape)}, {"init", init_name(p.init)},
                        {"fan_in", p.fan_in}, {"fan_out", p.fan_out}});
      count += p.shape.numel();
    }
    total += count;
    nlohmann::json buffers = nlohmann::json::array();
    for (Tensor* b : layer.buffers()) buffers.push_back(shape_json(b->shape()));
    const std::vector<std::string> inputs = graph.node_inputs(i);
    nlohmann::json input_shapes = nlohmann::json::array();
    for (const std::string& in : inputs) input_shapes.push_back(shape_json(shapes.at(in)));
    layers.push_back({{"index", i},
                      {"name", graph.node_name(i)},
                      {"kind", layer.kind()},
                      {"description", layer.describe()},
                      {"source_line", layer.source_line},
                      {"inputs", inputs},
                      {"input_shapes", input_shapes},
                      {"output_shape", shape_json(graph.node_shape(i))},
                      {"attributes", attributes},
                      {"parameters", count},
                      {"params", params},
                      {"buffers", buffers}});
  }
  QUILL_CHECK(total == graph.num_params(), "network_to_json: the layers hold ", total, " parameters, the graph ",
              graph.num_params());
  return {{"input_shape", shape_json(graph.input_shape())},
          {"output_shape", shape_json(graph.output_shape())},
          {"parameters", total},
          {"layers", layers}};
}

nlohmann::json learning_rates_json(const ScheduleConfig& schedule, int64_t total_steps) {
  const LrSchedule lr(schedule, total_steps);
  nlohmann::json rates = nlohmann::json::array();
  for (int64_t step = 0; step < total_steps; ++step) rates.push_back(lr.at(step));
  return rates;
}

nlohmann::json train_plan_json(Trainer& trainer) {
  nlohmann::json training = to_json(trainer.options());
  training.erase("model_description");
  training["batches_per_epoch"] = trainer.batches_per_epoch();
  training["total_steps"] = trainer.total_steps();
  return {{"training", training},
          {"network", network_to_json(trainer.graph())},
          {"learning_rates", learning_rates_json(trainer.options().schedule, trainer.total_steps())}};
}

}  // namespace quill
