#pragma once
// Whether this build's CUDA device is a GPU or the CPU emulation of CUDA (kernels/cuda/emulation), for the
// two things the device runtime does differently: it says so in the device's description, and, as device
// memory is host memory there, it tells AddressSanitizer which bytes of the caching allocator's blocks are in
// use, so that the emulated memcheck build catches a kernel reading past its tensor into the rest of a rounded
// block, or into a block the cache holds, as compute-sanitizer would on a GPU. Kernels never ask.
#include <cstddef>

#include <cuda_runtime_api.h>

#if defined(QUILL_CUDA_EMULATION_HEADERS)
#include <cuda_emulation.h>
#endif

namespace quill::cuda {

// In stream order, as the caching allocator's blocks are (device_runtime.h): work queued before a block
// returns to the cache may still use it, and work queued after it is handed out again must find it usable.
#if defined(QUILL_CUDA_EMULATION_HEADERS)
constexpr bool kEmulatedDevice = true;

// `bytes` of a block of `block_bytes` handed out: the rest of the block is out of bounds.
inline void mark_block_handed_out(void* block, size_t bytes, size_t block_bytes, cudaStream_t stream) {
  cuda_emulation::mark_device_block(block, bytes, block_bytes, stream);
}
// A block back in the cache: all of it is out of bounds until it is handed out again.
inline void mark_block_cached(void* block, size_t block_bytes, cudaStream_t stream) {
  cuda_emulation::mark_device_block(block, 0, block_bytes, stream);
}
#else
constexpr bool kEmulatedDevice = false;

inline void mark_block_handed_out(void*, size_t, size_t, cudaStream_t) {}
inline void mark_block_cached(void*, size_t, cudaStream_t) {}
#endif

}  // namespace quill::cuda
