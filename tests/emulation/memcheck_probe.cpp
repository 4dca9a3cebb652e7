// A kernel that reads or writes out of bounds, on purpose, for the emulation's memcheck build (CUDA
// emulation + AddressSanitizer and UBSan): each mode must end in a sanitizer report (tests/CMakeLists.txt
// checks it: AddressSanitizer's, or for the __shared__ array UBSan's bounds check, which sees it first), as
// compute-sanitizer's memcheck would report it on a GPU; mode `none` does the same accesses in bounds and
// must exit 0.
//   memcheck_probe none|global|rounded|cached|shared
#include <cstdio>
#include <cstring>
#include <string>

#include <cuda_runtime.h>

#include "kernels/backends.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/launch.cuh"
#include "runtime/tensor.h"

namespace {

constexpr int kCount = 100;  // floats: 400 bytes, which the caching allocator rounds up to a 512-byte block

// out[0] = x[index]: one thread.
__global__ void read_kernel(const float* x, int index, float* out) { out[0] = x[index]; }

// Each of 64 threads writes its slot of a 64-element shared array, shifted by `shift`.
__global__ void shared_kernel(int shift, float* out) {
  __shared__ float slots[64];
  slots[threadIdx.x + shift] = float(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = slots[threadIdx.x];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace quill;
  const std::string mode = argc > 1 ? argv[1] : "";
  init_backends();
  if (!device_available(DeviceType::Cuda)) {
    std::fprintf(stderr, "memcheck_probe: no CUDA device: %s\n", device_unavailable_reason(DeviceType::Cuda).c_str());
    return 2;
  }
  const bool bad = mode != "none";
  Tensor out = Tensor::empty(Shape{64}, DType::F32, Device::cuda());
  if (mode == "none" || mode == "global") {
    // An allocation of its own: the heap block's redzone.
    float* x = nullptr;
    cudaMalloc(reinterpret_cast<void**>(&x), kCount * sizeof(float));
    cudaMemset(x, 0, kCount * sizeof(float));
    cuda::launch(read_kernel, 1, 1, 0, cuda::stream(), x, bad ? kCount : kCount - 1, out.data<float>());
    cudaDeviceSynchronize();
    cudaFree(x);
  }
  if (mode == "none" || mode == "rounded") {
    // A tensor from the caching allocator: element kCount is inside the rounded block, past the tensor.
    Tensor x = Tensor::zeros(Shape{kCount}, DType::F32, Device::cuda());
    cuda::launch(read_kernel, 1, 1, 0, cuda::stream(), x.data<float>(), bad ? kCount : 0, out.data<float>());
    cudaDeviceSynchronize();
  }
  if (mode == "none" || mode == "cached") {
    // A tensor freed back to the cache, read through a stale pointer.
    const float* stale = nullptr;
    {
      Tensor x = Tensor::zeros(Shape{kCount}, DType::F32, Device::cuda());
      stale = x.data<float>();
      if (!bad) {
        cuda::launch(read_kernel, 1, 1, 0, cuda::stream(), stale, 0, out.data<float>());
        cudaDeviceSynchronize();
      }
    }
    if (bad) {
      cuda::launch(read_kernel, 1, 1, 0, cuda::stream(), stale, 0, out.data<float>());
      cudaDeviceSynchronize();
    }
  }
  if (mode == "none" || mode == "shared") {
    cuda::launch(shared_kernel, 1, 64, 0, cuda::stream(), bad ? 1 : 0, out.data<float>());
    cudaDeviceSynchronize();
  }
  if (mode != "none" && mode != "global" && mode != "rounded" && mode != "cached" && mode != "shared") {
    std::fprintf(stderr, "usage: memcheck_probe none|global|rounded|cached|shared\n");
    return 2;
  }
  std::printf("memcheck_probe %s: no report\n", mode.c_str());
  return 0;
}
