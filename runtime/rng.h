#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11). A value depends only on
// (seed, stream, index), never on the order of calls, so CPU and GPU, threaded or not, draw the
// same numbers and a run can be replayed from its seed alone. Usable from host and device code.
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define QUILL_HD __host__ __device__ __forceinline__
#else
#define QUILL_HD inline
#endif

namespace quill {

struct Philox4x32 {
  uint32_t v[4];
};

QUILL_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Philox4x32-10 of counter (c0..c3) under key (k0, k1).
QUILL_HD Philox4x32 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo32(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Four random 32-bit words for element block `index` of stream `stream` under `seed`.
QUILL_HD Philox4x32 random_block(uint64_t seed, uint64_t stream, uint64_t index) {
  return philox4x32(static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                    static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                    static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform in [0, 1) from 24 random bits (exactly representable in float).
QUILL_HD float uniform01(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

// The i-th uniform [0,1) value of (seed, stream).
QUILL_HD float random_uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  return uniform01(random_block(seed, stream, i >> 2).v[i & 3]);
}

// The i-th standard normal value of (seed, stream), by Box-Muller on one Philox block.
QUILL_HD double random_normal(uint64_t seed, uint64_t stream, uint64_t i) {
  Philox4x32 b = random_block(seed, stream, i >> 1);
  uint32_t a0 = b.v[(i & 1) * 2], a1 = b.v[(i & 1) * 2 + 1];
  double u1 = (static_cast<double>(a0) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
  double u2 = static_cast<double>(a1) * (1.0 / 4294967296.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// A host-side sequential generator over the same stream, for shuffles and augmentation parameters.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}
  uint32_t next_u32() {
    Philox4x32 b = random_block(seed_, stream_, counter_ >> 2);
    return b.v[counter_++ & 3];
  }
  double uniform() { return (static_cast<double>(next_u32() >> 5) * 67108864.0 + (next_u32() >> 6)) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {
    double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Unbiased integer in [0, n).
  uint32_t below(uint32_t n) {
    uint64_t limit = (uint64_t(1) << 32) - ((uint64_t(1) << 32) % n);
    uint64_t x;
    do x = next_u32(); while (x >= limit);
    return static_cast<uint32_t>(x % n);
  }
  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t counter() const { return counter_; }
  void set_counter(uint64_t c) { counter_ = c; }

 private:
  uint64_t seed_, stream_;
  uint64_t counter_ = 0;
};

}  // namespace quill
