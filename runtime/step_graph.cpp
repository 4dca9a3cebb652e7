#include "runtime/step_graph.h"

#include "runtime/error.h"

namespace quill {
namespace {

// The CPU stand-in: a replay calls the recorded function again.
class CallAgainGraph final : public StepGraph {
 public:
  void capture(const std::function<void()>& work) override {
    QUILL_CHECK(!work_, "a step graph is captured once");
    work_ = work;
  }
  void replay() override {
    QUILL_CHECK(static_cast<bool>(work_), "replay of a step graph that was not captured");
    work_();
  }

 private:
  std::function<void()> work_;
};

std::unique_ptr<StepGraph> make_call_again_graph() { return std::make_unique<CallAgainGraph>(); }

StepGraphFactory g_factories[2] = {make_call_again_graph, nullptr};

}  // namespace

StepGraphFactory set_step_graph_factory(DeviceType type, StepGraphFactory factory) {
  const StepGraphFactory previous = g_factories[int(type)];
  g_factories[int(type)] = factory;
  return previous;
}

bool step_graphs_available(DeviceType type) { return g_factories[int(type)] != nullptr; }

std::unique_ptr<StepGraph> make_step_graph(Device device) {
  const StepGraphFactory factory = g_factories[int(device.type)];
  QUILL_CHECK(factory != nullptr, "CUDA graphs need the CUDA device runtime, which ", device.str(), " does not have");
  return factory();
}

}  // namespace quill
