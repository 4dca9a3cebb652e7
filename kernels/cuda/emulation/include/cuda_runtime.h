#pragma once
// The device side of CUDA as the CPU emulation provides it: the qualifiers, the built-in index variables,
// __syncthreads, warp shuffles, the math functions kernels call, and cudaLaunchKernel. A kernel compiled
// against this header is a plain C++ function; cudaLaunchKernel queues it, and the emulated device runs each
// block's threads as cooperative fibers (kernels/cuda/emulation/block_scheduler.cpp): a thread runs until it
// reaches a barrier, a warp-collective operation or its end, then the next thread runs, in the order
// QUILL_CUDA_EMULATION_ORDER chooses (forward, reverse or random:SEED).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_runtime_api.h"

#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// One instance per kernel, shared by the threads of the block that runs; blocks run one at a time, under
// the device's lock, so a static is exactly shared memory's scope (and AddressSanitizer sees its bounds).
// What a static cannot model: shared memory starts out undefined on a GPU, here it keeps the last block's
// values.
#define __shared__ static

// The running thread's indices, set by the block scheduler before it switches to the thread's fiber. Plain
// structs (dim3's constructors would route every access through a thread_local initialisation wrapper), in
// the local-exec TLS model: the emulation is a static library, and with the default model the linker turns
// the address computation into one that leaves UBSan's null check testing stale flags (a false "member
// access within null pointer" in the memcheck build).
namespace cuda_emulation {
struct Extent {
  unsigned x, y, z;
  operator dim3() const { return dim3(x, y, z); }
};
}  // namespace cuda_emulation
#define QUILL_EMULATION_TLS __attribute__((tls_model("local-exec"))) thread_local
extern QUILL_EMULATION_TLS uint3 threadIdx;
extern QUILL_EMULATION_TLS uint3 blockIdx;
extern QUILL_EMULATION_TLS cuda_emulation::Extent blockDim;
extern QUILL_EMULATION_TLS cuda_emulation::Extent gridDim;
constexpr int warpSize = 32;

namespace cuda_emulation {

// Each lane of a warp-collective operation hands in a pointer to its own data; when every lane the mask
// names has arrived at the same operation, `complete` runs once with all of them (indexed by lane), then
// the lanes go on. A lane the mask names that has exited, or waits elsewhere, is a fault.
using WarpCompletion = void (*)(void* const lane_data[32], uint32_t mask);
void warp_collective(uint32_t mask, const char* operation, const char* file, int line, void* lane_data,
                     WarpCompletion complete);
void block_barrier(const char* file, int line);
// Ends the running kernel with a fault (sticky, as on a GPU): `error` and a message naming the block, the
// thread and the source line.
[[noreturn]] void device_fault(cudaError_t error, const char* what, const char* file, int line);

// The lane of the running thread within its warp.
unsigned lane_id();

struct KernelLaunch {
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
  std::function<void()> thread_body;  // runs one thread of the kernel with copies of the launch arguments
};
cudaError_t enqueue_kernel(KernelLaunch launch);

template <class... Params, size_t... I>
auto copy_arguments(void** args, std::index_sequence<I...>) {
  return std::tuple<std::decay_t<Params>...>(*static_cast<std::decay_t<Params>*>(args[I])...);
}

}  // namespace cuda_emulation

// Copies the arguments now (as a GPU copies them into the launch), queues the kernel on `stream`.
template <class... Params>
cudaError_t cudaLaunchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, void** args, size_t shared_bytes = 0,
                             cudaStream_t stream = nullptr) {
  auto arguments = cuda_emulation::copy_arguments<Params...>(args, std::index_sequence_for<Params...>{});
  return cuda_emulation::enqueue_kernel(
      {grid, block, shared_bytes, stream, [kernel, arguments] { std::apply(kernel, arguments); }});
}

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  cuda_emulation::block_barrier(file, line);
}

// __shfl_xor_sync: lane l gets `value` of lane l ^ lane_mask (within groups of `width` lanes). Every lane of
// `mask` must arrive; a lane that exited before it is a fault, not a silent zero.
template <class T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "shuffles move values of up to 8 bytes");
  struct Lane {
    T in, out;
    int lane_mask, width;
  } lane{value, value, lane_mask, width};
  cuda_emulation::warp_collective(mask, "__shfl_xor_sync", file, line, &lane,
                                  [](void* const lanes[32], uint32_t active) {
                                    for (unsigned l = 0; l < 32; ++l) {
                                      if (!(active >> l & 1u)) continue;
                                      Lane& me = *static_cast<Lane*>(lanes[l]);
                                      const unsigned group = l / unsigned(me.width) * unsigned(me.width);
                                      const unsigned source = group + ((l - group) ^ unsigned(me.lane_mask));
                                      // Beyond its group a lane keeps its own value, as on a GPU; reading a lane
                                      // the mask leaves out is undefined there, a fault here.
                                      if (source >= 32 || source / unsigned(me.width) * unsigned(me.width) != group)
                                        continue;
                                      if (!(active >> source & 1u))
                                        cuda_emulation::device_fault(cudaErrorIllegalInstruction,
                                                                     "__shfl_xor_sync reads a lane its mask leaves out",
                                                                     __FILE__, __LINE__);
                                      me.out = static_cast<Lane*>(lanes[source])->in;
                                    }
                                  });
  return lane.out;
}

[[noreturn]] inline void __trap(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  cuda_emulation::device_fault(cudaErrorIllegalInstruction, "__trap()", file, line);
}

// Device math: the host's libm (its results may differ from the device's in the last ulps; see the README).
// The float overloads are std's, as CUDA's are: exp(float) is expf, not exp(double).
using std::exp;
using std::fma;
using std::log;
using std::sqrt;
using std::tanh;
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
