#pragma once
// Cooperative fibers: each emulated GPU thread is one, on its own stack, and the block scheduler's own
// context (the host thread running the kernel) is one without a stack of its own. A fiber passes control
// straight to the next (one context switch per turn of a thread, not two through the scheduler).
// Switching is Boost.Context's fcontext (a register save and a stack switch, no system call), and every
// switch is announced to AddressSanitizer (__sanitizer_start/finish_switch_fiber), so that ASan knows which
// stack is live and its reports stay right in the emulated memcheck build.
#include <cstddef>

namespace cuda_emulation {

class Fiber {
 public:
  using Entry = void (*)(void* argument);  // must end with exit_to(), never return
  struct HostContext {};

  Fiber();                      // with a stack of its own
  explicit Fiber(HostContext);  // the context of the host thread that switches into fibers
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Prepares the fiber to run entry(argument) from the start of its stack the next time it is switched to;
  // whatever it was doing before is abandoned (its frames are forgotten: kernels hold no resources).
  // `colour` shifts the stack's start by a multiple of 64 bytes: fibers that start at the same offset in a
  // page would compete for the same cache sets at every switch.
  void start(Entry entry, void* argument, unsigned colour);

  // From the running context `from` to `to`; returns when something switches back to `from`.
  static void switch_to(Fiber& from, Fiber& to);
  // From the fiber `from`, whose entry has done its work, to `to`, for good.
  [[noreturn]] static void exit_to(Fiber& from, Fiber& to);

  // Called on the fiber's own stack when it first runs (fiber.cpp).
  [[noreturn]] void run_first(void* caller_context);

 private:
  void arrive(void* previous_context);

  void* stack_ = nullptr;  // the mapping, guard page included; null for the host context
  size_t stack_bytes_ = 0;
  const void* bottom_ = nullptr;  // the usable stack, for ASan (the host's is learnt at its first switch)
  size_t size_ = 0;
  void* context_ = nullptr;     // the suspended context
  void* fake_stack_ = nullptr;  // ASan's bookkeeping while suspended
  Entry entry_ = nullptr;
  void* argument_ = nullptr;
  bool running_ = false;  // started and not yet exited: abandoned frames must be cleaned before a restart
};

}  // namespace cuda_emulation
