#pragma once
// Whether this build's CUDA device is a GPU or the CPU emulation of CUDA (kernels/cuda/emulation), for the
// two things the device runtime does differently: it says so in the device's description, and, as device
// memory is host memory there, it tells AddressSanitizer which bytes of the caching allocator's blocks are in
// use, so that the emulated memcheck build catches a kernel reading past its tensor into the rest of a rounded
// block, or into a block the cache holds, as compute-sanitizer would on a GPU. Kernels never ask.
#include <cstddef>

#include <cuda_runtime_api.h>

#if defined(QUILL_CUDA_EMULATION_HEADERS)
#include <sanitizer/asan_interface.h>  // ASAN_(UN)POISON_MEMORY_REGION: no-ops unless built with ASan
#endif

namespace quill::cuda {

#if defined(QUILL_CUDA_EMULATION_HEADERS)
constexpr bool kEmulatedDevice = true;

// `bytes` of a block of `block_bytes` handed out: the rest of the block is out of bounds.
inline void mark_block_handed_out(void* block, size_t bytes, size_t block_bytes) {
  ASAN_UNPOISON_MEMORY_REGION(block, bytes);
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(block) + bytes, block_bytes - bytes);
}
// A block back in the cache: all of it is out of bounds until it is handed out again.
inline void mark_block_cached(void* block, size_t block_bytes) { ASAN_POISON_MEMORY_REGION(block, block_bytes); }
#else
constexpr bool kEmulatedDevice = false;

inline void mark_block_handed_out(void*, size_t, size_t) {}
inline void mark_block_cached(void*, size_t) {}
#endif

}  // namespace quill::cuda
