// The emulated GPU's execution of a kernel. Each block's threads are fibers; in each turn every runnable
// thread runs, in the chosen order, until it reaches a barrier, a warp-collective operation (a shuffle, a
// WMMA load, store or product) or its end. When none can run, the scheduler resolves what they wait for:
// a warp operation completes once every lane its mask names has arrived at it; a barrier opens once every
// thread of the block waits at it. Anything else is a fault, as on a GPU (where it would hang or be
// undefined): a barrier that a thread never reaches because it exited, threads waiting at different
// barriers, a warp operation missing a lane, or waiting for a lane that exited.
#include "block_scheduler.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

#include "fiber.h"

QUILL_EMULATION_TLS uint3 threadIdx;
QUILL_EMULATION_TLS uint3 blockIdx;
QUILL_EMULATION_TLS cuda_emulation::Extent blockDim;
QUILL_EMULATION_TLS cuda_emulation::Extent gridDim;

namespace cuda_emulation {
namespace {

constexpr int kWarp = 32;

// A fault raised where no emulated thread runs (in a warp operation's completion): thrown to the scheduler.
struct FaultRaised {
  KernelFault fault;
};

// A fault raised by an emulated thread: thrown on the thread's own stack, so that its frames unwind (the
// fault's message strings among them), and caught where the thread starts, which ends the kernel.
struct ThreadFaulted {};

// The path from the project's first folder on (kernels/..., tests/..., engine/...), else the file's name.
const char* short_path(const char* file) {
  for (const char* folder : {"/kernels/", "/tests/", "/apps/", "/engine/", "/layers/", "/runtime/", "/data/"}) {
    const char* at = std::strstr(file, folder);
    if (at != nullptr) return at + 1;
  }
  const char* slash = std::strrchr(file, '/');
  return slash != nullptr ? slash + 1 : file;
}

std::string site(const char* file, int line) { return std::string(short_path(file)) + ":" + std::to_string(line); }

std::string triple(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct EmulatedThread {
  enum class State { Runnable, AtBarrier, AtWarp, Exited, Faulted };
  Fiber fiber;
  uint3 index{};
  unsigned linear = 0;
  State state = State::Exited;
  // Where it waits: the barrier's or the warp operation's source line.
  const char* file = nullptr;
  int line = 0;
  // A warp operation's name, mask, this lane's data and the completion.
  const char* operation = nullptr;
  uint32_t mask = 0;
  void* lane_data = nullptr;
  WarpCompletion complete = nullptr;
};

class BlockScheduler {
 public:
  KernelFault run(const KernelLaunch& launch, uint64_t launch_number, const OrderSetting& order) {
    launch_ = &launch;
    launch_number_ = launch_number;
    order_ = order;
    const unsigned threads = launch.block.x * launch.block.y * launch.block.z;
    while (pool_.size() < threads) pool_.push_back(std::make_unique<EmulatedThread>());
    gridDim = {launch.grid.x, launch.grid.y, launch.grid.z};
    blockDim = {launch.block.x, launch.block.y, launch.block.z};
    ++counters_.kernels;
    KernelFault fault;
    for (unsigned z = 0; z < launch.grid.z && fault.error == cudaSuccess; ++z)
      for (unsigned y = 0; y < launch.grid.y && fault.error == cudaSuccess; ++y)
        for (unsigned x = 0; x < launch.grid.x && fault.error == cudaSuccess; ++x) {
          blockIdx = {x, y, z};
          block_linear_ = (uint64_t(z) * launch.grid.y + y) * launch.grid.x + x;
          fault = run_block(threads);
        }
    launch_ = nullptr;
    return fault;
  }

  bool in_thread() const { return current_ != nullptr; }
  EmulatedThread& current() {
    if (current_ == nullptr) {
      std::fprintf(stderr, "cuda emulation: a device function was called outside a kernel\n");
      std::abort();
    }
    return *current_;
  }

  // In a fiber: wait at the barrier, or at a warp operation, until the scheduler lets the thread go on.
  void wait_at_barrier(const char* file, int line) {
    EmulatedThread& t = current();
    t.state = EmulatedThread::State::AtBarrier;
    ++at_barrier_;
    t.file = file;
    t.line = line;
    ++counters_.barriers;
    pass_turn(t);
  }
  void wait_at_warp(uint32_t mask, const char* operation, const char* file, int line, void* data,
                    WarpCompletion complete) {
    EmulatedThread& t = current();
    t.state = EmulatedThread::State::AtWarp;
    ++at_warp_;
    t.file = file;
    t.line = line;
    t.operation = operation;
    t.mask = mask;
    t.lane_data = data;
    t.complete = complete;
    ++counters_.warp_collectives;
    pass_turn(t);
  }

  [[noreturn]] void fault_in_thread(cudaError_t error, const std::string& what) {
    fault_ = {error, where(current()) + ": " + what};
    throw ThreadFaulted{};
  }

  KernelFault fault_of(cudaError_t error, const std::string& what) const {
    return {error, where_block() + ": " + what};
  }

  SchedulerCounters counters() const { return counters_; }

 private:
  static void thread_entry(void* argument) {
    EmulatedThread& t = *static_cast<EmulatedThread*>(argument);
    BlockScheduler& s = instance();
    try {
      s.launch_->thread_body();
    } catch (const ThreadFaulted&) {
      t.state = EmulatedThread::State::Faulted;
    } catch (...) {  // kernels throw nothing; an exception here would otherwise end the process
      s.fault_ = {cudaErrorLaunchFailure, s.where(t) + ": a C++ exception escaped the kernel"};
      t.state = EmulatedThread::State::Faulted;
    }
    if (t.state == EmulatedThread::State::Faulted) {  // the kernel ends here: back to the scheduler
      s.current_ = nullptr;
      Fiber::exit_to(t.fiber, s.host_);
    }
    t.state = EmulatedThread::State::Exited;
    ++s.exited_;
    EmulatedThread* next = s.next_runnable();
    s.current_ = next;
    if (next != nullptr) threadIdx = next->index;
    Fiber::exit_to(t.fiber, next != nullptr ? next->fiber : s.host_);
  }

  // The next thread of this turn that can run, or null when the turn is over.
  EmulatedThread* next_runnable() {
    while (cursor_ < threads_) {
      EmulatedThread* t = pool_[order_buffer_[cursor_++]].get();
      if (t->state == EmulatedThread::State::Runnable) return t;
    }
    return nullptr;
  }

  // From a thread that waits: straight on to the next runnable thread of the turn, or back to the scheduler.
  void pass_turn(EmulatedThread& t) {
    EmulatedThread* next = next_runnable();
    current_ = next;
    if (next == nullptr) {
      Fiber::switch_to(t.fiber, host_);
      return;
    }
    threadIdx = next->index;
    Fiber::switch_to(t.fiber, next->fiber);
  }

 public:
  static BlockScheduler& instance() {
    static BlockScheduler* scheduler = new BlockScheduler();  // never destroyed: fibers may outlive statics
    return *scheduler;
  }

 private:
  KernelFault run_block(unsigned threads) {
    ++counters_.blocks;
    counters_.threads += threads;
    for (unsigned i = 0; i < threads; ++i) {
      EmulatedThread& t = *pool_[i];
      t.linear = i;
      t.index = {i % launch_->block.x, i / launch_->block.x % launch_->block.y,
                 i / (launch_->block.x * launch_->block.y)};
      t.state = EmulatedThread::State::Runnable;
      t.fiber.start(thread_entry, &t, i);
    }
    threads_ = threads;
    fault_ = {};
    at_barrier_ = at_warp_ = exited_ = 0;
    for (uint64_t turn = 0;; ++turn) {
      ++counters_.turns;
      make_order(turn);
      cursor_ = 0;
      // The threads of the turn pass control from one to the next; the last comes back here.
      if (EmulatedThread* first = next_runnable()) {
        current_ = first;
        threadIdx = first->index;
        Fiber::switch_to(host_, first->fiber);
        current_ = nullptr;
      }
      if (fault_.error != cudaSuccess) return fault_;
      try {
        if (exited_ == threads_) return {};
        if (at_warp_ > 0 && complete_warp_operations()) continue;
        if (at_barrier_ > 0 && open_barrier()) continue;
      } catch (const FaultRaised& raised) {
        return raised.fault;
      }
      return fault_of(cudaErrorLaunchFailure, "no thread can go on (" + waiting_summary() + ")");
    }
  }

  void make_order(uint64_t turn) {
    if (order_buffer_.size() == threads_ && order_.order != ThreadOrder::Random && ordered_as_ == order_.order)
      return;  // forward and reverse are the same every turn
    order_buffer_.resize(threads_);
    ordered_as_ = order_.order;
    for (unsigned i = 0; i < threads_; ++i)
      order_buffer_[i] = order_.order == ThreadOrder::Reverse ? threads_ - 1 - i : i;
    if (order_.order != ThreadOrder::Random) return;
    uint64_t state = mix(order_.seed ^ mix(launch_number_ ^ mix(block_linear_ ^ mix(turn))));
    for (unsigned i = threads_; i > 1; --i) {  // Fisher-Yates
      state = mix(state);
      std::swap(order_buffer_[i - 1], order_buffer_[state % i]);
    }
  }

  // Completes every warp operation whose lanes have all arrived; a fault if one never can.
  bool complete_warp_operations() {
    bool progressed = false;
    for (unsigned w = 0; w * kWarp < threads_; ++w) {
      const unsigned first = w * kWarp, lanes = std::min<unsigned>(kWarp, threads_ - first);
      const EmulatedThread* leader = nullptr;
      for (unsigned l = 0; l < lanes; ++l)
        if (pool_[first + l]->state == EmulatedThread::State::AtWarp) {
          leader = pool_[first + l].get();
          break;
        }
      if (leader == nullptr) continue;
      const uint32_t mask = leader->mask;
      void* data[kWarp] = {};
      for (unsigned l = 0; l < kWarp; ++l) {
        const bool named = mask >> l & 1u;
        if (l >= lanes) {
          if (named) throw FaultRaised{lane_fault(*leader, "its mask names lane " + std::to_string(l) +
                                                               ", which this block of " + std::to_string(threads_) +
                                                               " threads does not have")};
          continue;
        }
        const EmulatedThread& t = *pool_[first + l];
        if (t.state == EmulatedThread::State::AtWarp) {
          if (t.operation != leader->operation || t.file != leader->file || t.line != leader->line ||
              t.mask != mask)
            throw FaultRaised{lane_fault(*leader, "lane " + std::to_string(l) + " waits at a different warp operation, " +
                                                      std::string(t.operation) + " at " + site(t.file, t.line))};
          if (!named)
            throw FaultRaised{lane_fault(*leader, "lane " + std::to_string(l) + " takes part although the mask leaves it out")};
          data[l] = t.lane_data;
        } else if (named) {
          const std::string whereabouts = t.state == EmulatedThread::State::Exited
                                              ? "has exited"
                                              : "waits at __syncthreads at " + site(t.file, t.line);
          throw FaultRaised{lane_fault(*leader, "lane " + std::to_string(l) + " of its mask " + whereabouts)};
        }
      }
      leader->complete(data, mask);
      for (unsigned l = 0; l < lanes; ++l)
        if (mask >> l & 1u) {
          pool_[first + l]->state = EmulatedThread::State::Runnable;
          --at_warp_;
        }
      progressed = true;
    }
    return progressed;
  }

  // Opens the barrier when every thread of the block waits at it; a fault if one never can.
  bool open_barrier() {
    const EmulatedThread* waiting = nullptr;
    for (unsigned i = 0; i < threads_; ++i)
      if (pool_[i]->state == EmulatedThread::State::AtBarrier) {
        waiting = pool_[i].get();
        break;
      }
    if (waiting == nullptr) return false;
    unsigned arrived = 0;
    for (unsigned i = 0; i < threads_; ++i) {
      const EmulatedThread& t = *pool_[i];
      if (t.state == EmulatedThread::State::AtBarrier) {
        if (t.file != waiting->file || t.line != waiting->line)
          throw FaultRaised{fault_of(cudaErrorLaunchFailure,
                                     "threads wait at different barriers: thread " + triple(waiting->index) +
                                         " at __syncthreads at " + site(waiting->file, waiting->line) + ", thread " +
                                         triple(t.index) + " at __syncthreads at " + site(t.file, t.line))};
        ++arrived;
      }
    }
    if (arrived != threads_) {
      const EmulatedThread* missing = nullptr;
      for (unsigned i = 0; i < threads_ && missing == nullptr; ++i)
        if (pool_[i]->state != EmulatedThread::State::AtBarrier) missing = pool_[i].get();
      throw FaultRaised{fault_of(cudaErrorLaunchFailure,
                                 "__syncthreads at " + site(waiting->file, waiting->line) + " reached by " +
                                     std::to_string(arrived) + " of " + std::to_string(threads_) +
                                     " threads; thread " + triple(missing->index) +
                                     (missing->state == EmulatedThread::State::Exited ? " has exited" : " waits elsewhere"))};
    }
    for (unsigned i = 0; i < threads_; ++i) pool_[i]->state = EmulatedThread::State::Runnable;
    at_barrier_ = 0;
    return true;
  }

  KernelFault lane_fault(const EmulatedThread& leader, const std::string& what) const {
    return fault_of(cudaErrorLaunchFailure, "warp " + std::to_string(leader.linear / kWarp) + " at " +
                                                std::string(leader.operation) + " at " + site(leader.file, leader.line) +
                                                ": " + what);
  }

  std::string waiting_summary() const {
    unsigned barrier = 0, warp = 0, exited = 0;
    for (unsigned i = 0; i < threads_; ++i) {
      const EmulatedThread::State s = pool_[i]->state;
      barrier += s == EmulatedThread::State::AtBarrier;
      warp += s == EmulatedThread::State::AtWarp;
      exited += s == EmulatedThread::State::Exited;
    }
    return std::to_string(barrier) + " at a barrier, " + std::to_string(warp) + " at a warp operation, " +
           std::to_string(exited) + " exited";
  }

  std::string where_block() const {
    return "kernel launch " + std::to_string(launch_number_) + ", block " + triple(blockIdx) + " of grid " +
           triple(launch_->grid) + " (" + std::to_string(threads_) + " threads, " + order_name(order_) + " order)";
  }
  std::string where(const EmulatedThread& t) const { return where_block() + ", thread " + triple(t.index); }

  std::vector<std::unique_ptr<EmulatedThread>> pool_;
  std::vector<unsigned> order_buffer_;
  const KernelLaunch* launch_ = nullptr;
  uint64_t launch_number_ = 0, block_linear_ = 0;
  OrderSetting order_;
  Fiber host_{Fiber::HostContext{}};  // the context of the host thread running the kernel
  unsigned threads_ = 0, cursor_ = 0;  // cursor_: the next place in order_buffer_ of this turn
  unsigned at_barrier_ = 0, at_warp_ = 0, exited_ = 0;  // how many of the block's threads are in each state
  ThreadOrder ordered_as_ = ThreadOrder::Random;          // what order_buffer_ holds
  EmulatedThread* current_ = nullptr;
  KernelFault fault_;
  SchedulerCounters counters_;
};

}  // namespace

bool parse_order(const std::string& text, OrderSetting* out) {
  OrderSetting o;
  if (text == "forward") {
    o.order = ThreadOrder::Forward;
  } else if (text == "reverse") {
    o.order = ThreadOrder::Reverse;
  } else if (text == "random") {
    o.order = ThreadOrder::Random;
  } else if (text.rfind("random:", 0) == 0 && text.size() > 7) {
    char* end = nullptr;
    o.order = ThreadOrder::Random;
    o.seed = std::strtoull(text.c_str() + 7, &end, 10);
    if (end == nullptr || *end != '\0') return false;
  } else {
    return false;
  }
  *out = o;
  return true;
}

std::string order_name(const OrderSetting& order) {
  switch (order.order) {
    case ThreadOrder::Forward: return "forward";
    case ThreadOrder::Reverse: return "reverse";
    case ThreadOrder::Random: return "random:" + std::to_string(order.seed);
  }
  return "?";
}

KernelFault run_kernel(const KernelLaunch& launch, uint64_t launch_number, const OrderSetting& order) {
  return BlockScheduler::instance().run(launch, launch_number, order);
}

SchedulerCounters scheduler_counters() { return BlockScheduler::instance().counters(); }

void block_barrier(const char* file, int line) { BlockScheduler::instance().wait_at_barrier(file, line); }

void warp_collective(uint32_t mask, const char* operation, const char* file, int line, void* lane_data,
                     WarpCompletion complete) {
  BlockScheduler& s = BlockScheduler::instance();
  const unsigned lane = s.current().linear % kWarp;
  if (!(mask >> lane & 1u))
    s.fault_in_thread(cudaErrorLaunchFailure, std::string(operation) + " at " + site(file, line) +
                                                  ": the calling lane is not in its mask");
  s.wait_at_warp(mask, operation, file, line, lane_data, complete);
}

unsigned lane_id() { return BlockScheduler::instance().current().linear % kWarp; }

void device_fault(cudaError_t error, const char* what, const char* file, int line) {
  BlockScheduler& s = BlockScheduler::instance();
  const std::string message = std::string(what) + " at " + site(file, line);
  if (s.in_thread()) s.fault_in_thread(error, message);
  throw FaultRaised{s.fault_of(error, message)};
}

}  // namespace cuda_emulation
