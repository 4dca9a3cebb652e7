#pragma once
// Device work recorded once and replayed as a whole: on a GPU a CUDA graph, which launches a training
// step's hundred-odd kernels with one call (engine/train_step.h). capture() records what `work` queues on the
// device without running it; replay() runs the recording with the same kernels, launch arguments and
// memory addresses. So everything that differs from one replay to the next must be read from device memory
// written before each replay (runtime/step_values.h), and every buffer the recording uses must keep its
// address, and its contents' meaning, for as long as it is replayed. Memory the work allocates while it
// is recorded stays reserved for the recording until the graph is destroyed (the GPU allocator's capture
// pool), so the recorded work's scratch memory is never handed to anything else.
//
// A GPU runtime installs the factory for its device type. For the CPU there is a stand-in that keeps the
// function and calls it again at every replay: no faster, but tests run the trainer's graph path with it,
// which checks that the step reads every per-step value from memory rather than from the recording.
#include <functional>
#include <memory>

#include "runtime/device.h"

namespace quill {

class StepGraph {
 public:
  virtual ~StepGraph() = default;
  // Records the device work `work` queues, once; nothing runs. Errors if the work does something a
  // recording cannot hold (on a GPU: a host synchronisation, such as a copy to the host).
  virtual void capture(const std::function<void()>& work) = 0;
  // Queues one run of the recording.
  virtual void replay() = 0;
};

using StepGraphFactory = std::unique_ptr<StepGraph> (*)();
// Installs the factory of a device type and returns the one it replaces (tests put it back).
StepGraphFactory set_step_graph_factory(DeviceType type, StepGraphFactory factory);
bool step_graphs_available(DeviceType type);
// A new, empty graph for work on `device`: the CPU stand-in, or the installed factory's.
std::unique_ptr<StepGraph> make_step_graph(Device device);

}  // namespace quill
