#pragma once
// What the CPU emulation of CUDA offers beyond CUDA's own API: its name, its thread order, its last kernel
// fault and its counters. For the emulation's own tests (tests/test_cuda_emulation.cpp) and for the device
// runtime, which names the device; kernels never include it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cuda_runtime_api.h"

namespace cuda_emulation {

// "CUDA emulation on the CPU (...; not a GPU)": what cudaGetDeviceProperties calls the device.
std::string device_name();

// The order in which a block's runnable threads take their turns: thread 0 first, the last thread first, or
// a permutation drawn anew for every block and every turn from the seed. A kernel whose result depends on the
// order reads memory that another thread writes without a barrier between them.
enum class ThreadOrder { Forward, Reverse, Random };

struct OrderSetting {
  ThreadOrder order = ThreadOrder::Forward;
  uint64_t seed = 0;
};

// Parses QUILL_CUDA_EMULATION_ORDER's value: forward, reverse, random or random:SEED. False if it is none.
bool parse_order(const std::string& text, OrderSetting* out);
std::string order_name(const OrderSetting& order);

// The order in use: QUILL_CUDA_EMULATION_ORDER's (forward when unset). set_thread_order runs what is queued
// first, then switches; for tests that run one kernel in several orders.
OrderSetting thread_order();
void set_thread_order(const OrderSetting& order);

// The message of the fault that made the device's error sticky ("" when none).
std::string last_fault();

size_t live_device_allocations();

// For a caching allocator over cudaMalloc (kernels/cuda/device_runtime.cu): queues on `stream`, in stream
// order, AddressSanitizer's view of one of its blocks: the first `used_bytes` of the `block_bytes` at `block`
// are in use, the rest not (0: the block is back in the cache). Queued, not done at once, because work queued
// before a free may still use the block, and work queued after a reuse must find it usable; recorded into a
// graph while the stream is captured, so that every replay marks its scratch blocks as the recording did.
// Without AddressSanitizer it does nothing.
void mark_device_block(void* block, size_t used_bytes, size_t block_bytes, cudaStream_t stream);

// Counts since the start of the process.
struct SchedulerCounters {
  uint64_t kernels = 0, blocks = 0, threads = 0, barriers = 0, warp_collectives = 0, turns = 0;
};
SchedulerCounters scheduler_counters();

}  // namespace cuda_emulation
