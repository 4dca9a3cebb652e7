#pragma once
// Internals shared by the CPU kernels that build on GEMM (convolution): a single-threaded GEMM that
// reuses caller-owned packing buffers, so a kernel that is already parallel over images can call it
// from each thread without allocating per call. Not part of the public kernel interface.
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace quill::cpu::detail {

// Vector width (bytes) and vector register count of the target that -march selected.
#if defined(__AVX512F__)
constexpr int kSimdBytes = 64, kSimdRegs = 32;
#elif defined(__AVX__)
constexpr int kSimdBytes = 32, kSimdRegs = 16;
#else
constexpr int kSimdBytes = 16, kSimdRegs = 16;
#endif

// A growable, 64-byte aligned scratch array (aligned for full-width vector loads of packed panels).
template <class T>
class AlignedBuffer {
 public:
  // Returns at least `count` elements; contents are unspecified after growth.
  T* get(size_t count) {
    if (count > capacity_) {
      size_t bytes = (count * sizeof(T) + 63) / 64 * 64;
      void* p = std::aligned_alloc(64, bytes);
      if (p == nullptr) throw std::bad_alloc();
      data_.reset(static_cast<T*>(p));
      capacity_ = count;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t capacity_ = 0;
};

// Packing buffers of one thread.
template <class T>
struct GemmWorkspace {
  AlignedBuffer<T> a_pack, b_pack;
};

// Same contract and bit-identical result as quill::cpu::gemm, on the calling thread only.
// If b_rows is given, row i of B as stored (of op(B) when !trans_b, of op(B)^T when trans_b) starts at
// b_rows[i], and b / ldb are ignored: convolution passes shifted views of a padded image this way.
template <class T>
void gemm_serial(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                 T beta, T* c, int ldc, GemmWorkspace<T>& ws, const T* const* b_rows = nullptr);

// quill::cpu::gemm with the optional b_rows of gemm_serial; splits C over the OpenMP threads.
template <class T>
void gemm_threaded(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
                   T beta, T* c, int ldc, const T* const* b_rows = nullptr);

}  // namespace quill::cpu::detail
