// The CPU emulation of CUDA itself (kernels/cuda/emulation), in the emulation build only: that a barrier
// really orders the threads of a block and that a missing one shows as an order-dependent result; that a
// barrier or a shuffle some thread never reaches, and a misaligned WMMA pointer, are faults with a message
// naming the place, sticky until cudaDeviceReset; that warp shuffles and WMMA compute what the hardware does
// (TF32 inputs, float32 sums); that copies check their pointers; that queued work runs only when the host
// waits; and that graph capture records and replays launches and copies, refusing what a capture refuses.
// The kernels here are test kernels; the backend's own run in test_gpu_backends.cpp and the training tests.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <cuda_emulation.h>
#include <cuda_runtime.h>
#include <mma.h>

#include "kernels/gpu_math.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/launch.cuh"
#include "runtime/error.h"
#include "runtime/ops.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

using namespace quill;
using cuda_emulation::OrderSetting;
using cuda_emulation::ThreadOrder;

namespace {

// ---- test kernels ----

constexpr int kBlock = 64;

// out[t] = the value thread t+1 wrote, read after (with_barrier) or without a barrier. `base` differs from
// launch to launch, so that what an earlier launch left in shared memory is never the expected value.
template <bool kWithBarrier>
__global__ void neighbour_kernel(int base, int* out) {
  __shared__ int slot[kBlock];
  const int t = threadIdx.x;
  slot[t] = base + 1000 * int(blockIdx.x) + t;
  if (kWithBarrier) __syncthreads();
  out[blockIdx.x * kBlock + t] = slot[(t + 1) % kBlock];
}

__global__ void early_exit_before_barrier_kernel(int* out) {
  if (threadIdx.x == 5) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void divergent_barriers_kernel(int* out) {
  if (threadIdx.x % 2)
    __syncthreads();
  else
    __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void warp_sums_kernel(const double* in, double* out) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  out[t] = quill::cuda::warp_sum(in[t]);
}

__global__ void exit_before_shuffle_kernel(double* out) {
  if (threadIdx.x % 32 == 7) return;
  out[threadIdx.x] = quill::cuda::warp_sum(1.0);
}

__global__ void add_one_kernel(int n, float* x) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) x[i] += 1.0f;
}

// One warp: D = A (16x8, column-major, ld 8... see the host side) * B (8x16, row-major) + C, through WMMA.
__global__ void wmma_kernel(const float* a, const float* b, const float* c, float* d, bool round_inputs) {
  namespace wmma = nvcuda::wmma;
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc;
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::load_matrix_sync(fc, c, 16, wmma::mem_row_major);
  if (round_inputs) {
    for (int t = 0; t < fa.num_elements; ++t) fa.x[t] = wmma::__float_to_tf32(fa.x[t]);
    for (int t = 0; t < fb.num_elements; ++t) fb.x[t] = wmma::__float_to_tf32(fb.x[t]);
  }
  wmma::mma_sync(fc, fa, fb, fc);
  wmma::store_matrix_sync(d, fc, 16, wmma::mem_row_major);
}

// ---- helpers ----

// Device memory for a test, freed at scope end.
template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n;
  explicit DeviceBuffer(size_t count) : n(count) { REQUIRE(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T)) == cudaSuccess); }
  ~DeviceBuffer() { (void)cudaFree(p); }
  void upload(const std::vector<T>& v) {
    REQUIRE(cudaMemcpy(p, v.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> v(n);
    REQUIRE(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return v;
  }
};

// Runs `body` with the thread order `order`, then restores the order in use.
template <class Body>
void with_order(OrderSetting order, Body body) {
  const OrderSetting saved = cuda_emulation::thread_order();
  cuda_emulation::set_thread_order(order);
  body();
  cuda_emulation::set_thread_order(saved);
}

const OrderSetting kForward{ThreadOrder::Forward, 0}, kReverse{ThreadOrder::Reverse, 0}, kRandom{ThreadOrder::Random, 7};

// The fault a synchronisation reports after a faulting kernel, then the device reset for the next test.
std::string fault_after_sync(cudaError_t expected = cudaErrorLaunchFailure) {
  const cudaError_t e = cudaDeviceSynchronize();
  CHECK(e == expected);
  CHECK(cudaGetLastError() == e);  // sticky: reading the error does not clear it
  CHECK(cudaMemsetAsync(nullptr, 0, 0) == e);
  const std::string message = cuda_emulation::last_fault();
  (void)cudaDeviceReset();
  CHECK(cudaGetLastError() == cudaSuccess);
  return message;
}

float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t float_to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

TEST_CASE("cuda emulation: a barrier orders the block's shared memory in every thread order") {
  int base = 100000;
  for (OrderSetting order : {kForward, kReverse, kRandom}) {
    CAPTURE(cuda_emulation::order_name(order));
    DeviceBuffer<int> out(3 * kBlock);
    base += 100000;
    with_order(order, [&] { cuda::launch(neighbour_kernel<true>, 3, kBlock, 0, cuda::stream(), base, out.p); });
    const std::vector<int> got = out.download();
    for (int b = 0; b < 3; ++b)
      for (int t = 0; t < kBlock; ++t) CHECK(got[size_t(b * kBlock + t)] == base + 1000 * b + (t + 1) % kBlock);
  }
}

TEST_CASE("cuda emulation: without the barrier the result depends on the thread order") {
  // What the two-order runs of CI rely on: a read of another thread's write with no barrier between them
  // sees the write in one order and not in the other.
  int right[2] = {0, 0};
  const int bases[2] = {10000, 20000};
  for (int o = 0; o < 2; ++o) {
    DeviceBuffer<int> out(kBlock);
    with_order(o == 0 ? kForward : kReverse,
               [&] { cuda::launch(neighbour_kernel<false>, 1, kBlock, 0, cuda::stream(), bases[o], out.p); });
    const std::vector<int> got = out.download();
    for (int t = 0; t < kBlock; ++t) right[o] += got[size_t(t)] == bases[o] + (t + 1) % kBlock;
  }
  CHECK(right[0] == 1);           // forward: only thread 63 reads a slot (thread 0's) written before it
  CHECK(right[1] == kBlock - 1);  // reverse: all but thread 63, whose neighbour 0 runs last
}

TEST_CASE("cuda emulation: a barrier that a thread never reaches is a fault naming it, sticky until reset") {
  DeviceBuffer<int> out(kBlock);
  cuda::launch(early_exit_before_barrier_kernel, 1, kBlock, 0, cuda::stream(), out.p);  // queued: no error yet
  const std::string message = fault_after_sync();
  CAPTURE(message);
  CHECK(message.find("__syncthreads at tests/emulation/test_cuda_emulation.cpp") != std::string::npos);
  CHECK(message.find("reached by 63 of 64 threads; thread (5,0,0) has exited") != std::string::npos);
  // After the reset the device runs kernels again.
  cuda::launch(neighbour_kernel<true>, 1, kBlock, 0, cuda::stream(), 0, out.p);
  CHECK(out.download()[0] == 1);
}

TEST_CASE("cuda emulation: threads waiting at different barriers are a fault") {
  DeviceBuffer<int> out(kBlock);
  cuda::launch(divergent_barriers_kernel, 1, kBlock, 0, cuda::stream(), out.p);
  const std::string message = fault_after_sync();
  CAPTURE(message);
  CHECK(message.find("threads wait at different barriers") != std::string::npos);
}

TEST_CASE("cuda emulation: warp shuffles exchange the lanes' values") {
  // 3 blocks of 96 threads: each warp's 32 values sum to the same total in every lane, exactly (integers).
  const int n = 3 * 96;
  std::vector<double> in(n);
  for (int i = 0; i < n; ++i) in[size_t(i)] = double((i * 37) % 101) - 50;
  DeviceBuffer<double> din(n), dout(n);
  din.upload(in);
  for (OrderSetting order : {kForward, kReverse, kRandom}) {
    CAPTURE(cuda_emulation::order_name(order));
    with_order(order, [&] { cuda::launch(warp_sums_kernel, 3, 96, 0, cuda::stream(), din.p, dout.p); });
    const std::vector<double> got = dout.download();
    for (int w = 0; w < n / 32; ++w) {
      double want = 0;
      for (int l = 0; l < 32; ++l) want += in[size_t(w * 32 + l)];
      for (int l = 0; l < 32; ++l) CHECK(got[size_t(w * 32 + l)] == want);
    }
  }
}

TEST_CASE("cuda emulation: a lane that exits before a shuffle is a fault, not a silent zero") {
  DeviceBuffer<double> out(64);
  cuda::launch(exit_before_shuffle_kernel, 1, 64, 0, cuda::stream(), out.p);
  const std::string message = fault_after_sync();
  CAPTURE(message);
  CHECK(message.find("__shfl_xor_sync at kernels/cuda/cuda_common.cuh") != std::string::npos);
  CHECK(message.find("lane 7 of its mask has exited") != std::string::npos);
}

TEST_CASE("cuda emulation: a full-mask shuffle in a partial warp is a fault") {
  DeviceBuffer<double> in(40), out(40);
  in.upload(std::vector<double>(40, 1.0));
  cuda::launch(warp_sums_kernel, 1, 40, 0, cuda::stream(), in.p, out.p);
  const std::string message = fault_after_sync();
  CAPTURE(message);
  CHECK(message.find("names lane 8, which this block of 40 threads does not have") != std::string::npos);
}

TEST_CASE("cuda emulation: WMMA computes TF32 products with float32 sums, and __float_to_tf32 rounds to nearest") {
  namespace wmma = nvcuda::wmma;
  // Rounding: 1 + 2^-11 is half a TF32 step above 1: ties go away from zero.
  CHECK(wmma::__float_to_tf32(1.0f + std::ldexp(1.0f, -11)) == 1.0f + std::ldexp(1.0f, -10));
  CHECK(wmma::__float_to_tf32(-1.0f - std::ldexp(1.0f, -11)) == -1.0f - std::ldexp(1.0f, -10));
  CHECK(wmma::__float_to_tf32(1.0f + std::ldexp(1.0f, -11) - std::ldexp(1.0f, -23)) == 1.0f);
  CHECK(float_to_bits(wmma::__float_to_tf32(0.1f)) % (1u << 13) == 0);
  CHECK(std::isnan(wmma::__float_to_tf32(std::nanf(""))));

  // A 16x8 (stored column-major, ld 16), B 8x16 (row-major, ld 16), C 16x16: inputs with bits below TF32.
  std::vector<float> a(16 * 16), b(8 * 16), c(16 * 16);
  for (size_t i = 0; i < a.size(); ++i) a[i] = bits_to_float(float_to_bits(0.5f + 0.01f * float(i % 37)) | 0x1fffu);
  for (size_t i = 0; i < b.size(); ++i) b[i] = bits_to_float(float_to_bits(-0.7f + 0.013f * float(i % 29)) | 0x0fffu);
  for (size_t i = 0; i < c.size(); ++i) c[i] = 0.25f * float(i % 5);
  DeviceBuffer<float> da(a.size()), db(b.size()), dc(c.size()), dd(c.size());
  da.upload(a), db.upload(b), dc.upload(c);
  for (bool round_inputs : {false, true}) {
    CAPTURE(round_inputs);
    cuda::launch(wmma_kernel, 1, 32, 0, cuda::stream(), da.p, db.p, dc.p, dd.p, round_inputs);
    const std::vector<float> got = dd.download();
    // The hardware's view: TF32 inputs (cut off, or rounded first by the kernel), exact products, float32 sums.
    auto tf32 = [&](float v) {
      return round_inputs ? wmma::__float_to_tf32(v) : bits_to_float(float_to_bits(v) & 0xffffe000u);
    };
    int exact = 0;
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) {
        float sum = c[size_t(i * 16 + j)];
        for (int k = 0; k < 8; ++k) sum += tf32(a[size_t(k * 16 + i)]) * tf32(b[size_t(k * 16 + j)]);
        exact += got[size_t(i * 16 + j)] == sum;
      }
    CHECK(exact == 256);
  }
}

TEST_CASE("cuda emulation: a WMMA pointer that is not 32-byte aligned is a fault") {
  DeviceBuffer<float> m(16 * 17 + 8);
  cuda::launch(wmma_kernel, 1, 32, 0, cuda::stream(), m.p + 1, m.p, m.p, m.p, false);
  const std::string message = fault_after_sync(cudaErrorMisalignedAddress);
  CAPTURE(message);
  CHECK(message.find("wmma::load_matrix_sync with a pointer that is not 32-byte aligned") != std::string::npos);
}

TEST_CASE("cuda emulation: copies refuse host pointers given as device pointers, and ranges past an allocation") {
  std::vector<float> host(16, 1.0f), other(16, 0.0f);
  DeviceBuffer<float> dev(16);
  CHECK(cudaMemcpy(other.data(), host.data(), 64, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidValue)).find("destination (64 bytes) is not inside one device allocation") !=
        std::string::npos);
  CHECK(cudaMemcpy(host.data(), host.data(), 64, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(dev.p, host.data(), 68, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);  // 4 bytes too many
  CHECK(cudaMemcpy(dev.p, dev.p, 64, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);  // device memory as host
  CHECK(cudaFree(host.data()) == cudaErrorInvalidDevicePointer);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevicePointer);
  CHECK(cudaGetLastError() == cudaSuccess);  // not sticky
  CHECK(cudaMemcpy(dev.p, host.data(), 64, cudaMemcpyHostToDevice) == cudaSuccess);
}

TEST_CASE("cuda emulation: queued work runs when the host waits, reading page-locked memory then") {
  float* pinned = nullptr;
  REQUIRE(cudaHostAlloc(reinterpret_cast<void**>(&pinned), 4 * sizeof(float), cudaHostAllocDefault) == cudaSuccess);
  DeviceBuffer<float> dev(4);
  std::vector<float> pageable(4, 1.0f);
  for (int i = 0; i < 4; ++i) pinned[i] = 1.0f;
  // A copy from page-locked memory is asynchronous: the host's later write is what it reads.
  REQUIRE(cudaMemcpyAsync(dev.p, pinned, 16, cudaMemcpyHostToDevice, cuda::stream()) == cudaSuccess);
  cuda::launch(add_one_kernel, 1, 32, 0, cuda::stream(), 4, dev.p);
  for (int i = 0; i < 4; ++i) pinned[i] = 5.0f;
  CHECK(dev.download() == std::vector<float>(4, 6.0f));
  // From pageable memory the copy is done when the call returns.
  REQUIRE(cudaMemcpyAsync(dev.p, pageable.data(), 16, cudaMemcpyHostToDevice, cuda::stream()) == cudaSuccess);
  pageable.assign(4, 9.0f);
  CHECK(dev.download() == std::vector<float>(4, 1.0f));
  // An event completes when the work before it has run.
  cudaEvent_t event = nullptr;
  REQUIRE(cudaEventCreate(&event) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(dev.p, pinned, 16, cudaMemcpyHostToDevice, cuda::stream()) == cudaSuccess);
  REQUIRE(cudaEventRecord(event, cuda::stream()) == cudaSuccess);
  pinned[0] = 7.0f;
  CHECK(cudaEventSynchronize(event) == cudaSuccess);
  pinned[0] = 8.0f;
  CHECK(dev.download()[0] == 7.0f);
  (void)cudaEventDestroy(event);
  (void)cudaFreeHost(pinned);
}

TEST_CASE("cuda emulation: launch configurations beyond a GPU's limits are refused at once, not sticky") {
  DeviceBuffer<float> dev(4);
  int n = 4;
  float* p = dev.p;
  void* args[] = {&n, &p};
  CHECK(cudaLaunchKernel(add_one_kernel, dim3(1), dim3(1025), args, 0, cuda::stream()) == cudaErrorInvalidConfiguration);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  CHECK(cudaLaunchKernel(add_one_kernel, dim3(1, 65536), dim3(32), args, 0, cuda::stream()) ==
        cudaErrorInvalidConfiguration);
  CHECK_THROWS_AS(cuda::launch(add_one_kernel, 0, 32, 0, cuda::stream(), n, p), Error);  // an empty grid
  CHECK(cudaGetLastError() == cudaSuccess);
  cuda::launch(add_one_kernel, 1, 32, 0, cuda::stream(), n, p);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
}

TEST_CASE("cuda emulation: a captured graph replays its launches and copies in order") {
  cudaStream_t s = cuda::stream();
  DeviceBuffer<float> x(8), y(8);
  x.upload(std::vector<float>(8, 0.0f));
  y.upload(std::vector<float>(8, -1.0f));
  REQUIRE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  cuda::launch(add_one_kernel, 1, 32, 0, s, 8, x.p);
  REQUIRE(cudaMemcpyAsync(y.p, x.p, 32, cudaMemcpyDeviceToDevice, s) == cudaSuccess);
  cuda::launch(add_one_kernel, 1, 32, 0, s, 8, x.p);
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(s, &graph) == cudaSuccess);
  CHECK(x.download() == std::vector<float>(8, 0.0f));  // recorded, not run
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  for (int replay = 1; replay <= 3; ++replay) {
    REQUIRE(cudaGraphLaunch(exec, s) == cudaSuccess);
    CHECK(x.download() == std::vector<float>(8, 2.0f * float(replay)));
    CHECK(y.download() == std::vector<float>(8, 2.0f * float(replay) - 1.0f));  // the copy between the two adds
  }
  (void)cudaGraphExecDestroy(exec);
  (void)cudaGraphDestroy(graph);
}

TEST_CASE("cuda emulation: a capture refuses synchronisation and, unless relaxed, allocation, and is invalidated") {
  cudaStream_t s = cuda::stream();
  DeviceBuffer<float> x(8);
  REQUIRE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  cuda::launch(add_one_kernel, 1, 32, 0, s, 8, x.p);
  void* p = nullptr;
  CHECK(cudaMalloc(&p, 64) == cudaErrorStreamCaptureUnsupported);
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  REQUIRE(cudaThreadExchangeStreamCaptureMode(&mode) == cudaSuccess);
  CHECK(cudaMalloc(&p, 64) == cudaSuccess);  // what the caching allocator does while a graph records
  REQUIRE(cudaThreadExchangeStreamCaptureMode(&mode) == cudaSuccess);
  CHECK(cudaStreamSynchronize(s) == cudaErrorStreamCaptureUnsupported);
  float host[8];
  CHECK(cudaMemcpyAsync(host, x.p, 32, cudaMemcpyDeviceToHost, s) == cudaErrorStreamCaptureUnsupported);
  cudaGraph_t graph = nullptr;
  CHECK(cudaStreamEndCapture(s, &graph) == cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr);
  CHECK(std::string(cudaGetErrorString(cudaErrorStreamCaptureInvalidated)).find("cudaMalloc is not allowed") !=
        std::string::npos);
  (void)cudaGetLastError();
  (void)cudaFree(p);
  x.upload(std::vector<float>(8, 0.0f));  // the device works on, and the invalidated capture ran nothing
  cuda::launch(add_one_kernel, 1, 32, 0, s, 8, x.p);
  CHECK(x.download() == std::vector<float>(8, 1.0f));
}

namespace {

// A float tensor on the device, uniform in [-1, 1] from `seed` (never exactly zero in practice).
Tensor random_device_tensor(const Shape& shape, uint64_t seed, DType dtype = DType::F32) {
  Tensor t = Tensor::empty(shape, DType::F64);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = rng.uniform(-1.0, 1.0);
  return t.cast(dtype).to(Device::cuda());
}

// Every op of the custom backend once, on fixed inputs; the host copies of all its outputs.
std::vector<Tensor> run_every_op() {
  const Backend b = Backend::Cuda;
  const Device gpu = Device::cuda();
  std::vector<Tensor> out;
  auto keep = [&](const Tensor& t) { out.push_back(t.to(Device::cpu())); };
  auto empty = [&](const Shape& s, DType d = DType::F32) { return Tensor::empty(s, d, gpu); };

  // Convolutions, in float32, TF32 and float64; backward-weights over 64 x 13 x 11 terms takes the split-K path.
  ConvGeometry g;
  g.n = 64, g.c = 3, g.h = 13, g.w = 11, g.k = 70, g.r = g.s = 3, g.pad_h = g.pad_w = 1;
  for (DType dtype : {DType::F32, DType::F64})
    for (bool tf32 : {false, true}) {
      if (tf32 && dtype == DType::F64) continue;
      GpuMathScope math(tf32);
      const Tensor x = random_device_tensor({g.n, g.c, g.h, g.w}, 1, dtype), w = random_device_tensor({g.k, g.c, g.r, g.s}, 2, dtype);
      const Tensor bias = random_device_tensor({g.k}, 3, dtype), dy = random_device_tensor({g.n, g.k, g.p(), g.q()}, 4, dtype);
      Tensor y = empty({g.n, g.k, g.p(), g.q()}, dtype), dx = empty({g.n, g.c, g.h, g.w}, dtype);
      Tensor dw = empty({g.k, g.c, g.r, g.s}, dtype), db = empty({g.k}, dtype);
      ops::conv2d_forward(b, g, x, w, &bias, y);
      ops::conv2d_backward_data(b, g, dy, w, dx);
      ops::conv2d_backward_weights(b, g, x, dy, dw, &db);
      for (const Tensor* t : {&y, &dx, &dw, &db}) keep(*t);
    }
  // Pooling.
  PoolGeometry pg;
  pg.n = 5, pg.c = 7, pg.h = 13, pg.w = 11, pg.kh = pg.kw = 3, pg.stride_h = pg.stride_w = 2, pg.pad_h = pg.pad_w = 1;
  const Tensor px = random_device_tensor({pg.n, pg.c, pg.h, pg.w}, 5), pdy = random_device_tensor({pg.n, pg.c, pg.p(), pg.q()}, 6);
  Tensor py = empty({pg.n, pg.c, pg.p(), pg.q()}), argmax = empty({pg.n, pg.c, pg.p(), pg.q()}, DType::I32);
  Tensor pdx = empty({pg.n, pg.c, pg.h, pg.w});
  ops::maxpool_forward(b, pg, px, py, argmax);
  ops::maxpool_backward(b, pg, pdy, argmax, pdx);
  keep(py), keep(argmax), keep(pdx);
  ops::avgpool_forward(b, pg, px, py);
  ops::avgpool_backward(b, pg, pdy, pdx);
  keep(py), keep(pdx);
  // Element-wise ops, dropout, dense.
  const Tensor ex = random_device_tensor({3001}, 7), edy = random_device_tensor({3001}, 8);
  for (Activation act : {Activation::Relu, Activation::LeakyRelu, Activation::Tanh, Activation::Sigmoid}) {
    Tensor ey = empty({3001}), edx = empty({3001});
    ops::activation_forward(b, act, 0.1, ex, ey);
    ops::activation_backward(b, act, 0.1, ex, ey, edy, edx);
    keep(ey), keep(edx);
  }
  Tensor sum = empty({3001}), dropped = empty({3001});
  ops::add(b, ex, edy, sum);
  ops::dropout_forward(b, 0.3, 11, 12, ex, dropped);
  keep(sum), keep(dropped);
  const Tensor dx_in = random_device_tensor({37, 129}, 9), dw_in = random_device_tensor({70, 129}, 10);
  const Tensor dbias = random_device_tensor({70}, 11), ddy = random_device_tensor({37, 70}, 12);
  Tensor dy_out = empty({37, 70}), ddx = empty({37, 129}), ddw = empty({70, 129}), ddb = empty({70});
  ops::dense_forward(b, dx_in, dw_in, &dbias, dy_out);
  ops::dense_backward(b, dx_in, dw_in, ddy, &ddx, ddw, &ddb);
  keep(dy_out), keep(ddx), keep(ddw), keep(ddb);
  // Batch norm, training and evaluation, over 9 x 5 x 7 x 6.
  const Tensor bx = random_device_tensor({9, 5, 7, 6}, 13), bdy = random_device_tensor({9, 5, 7, 6}, 14);
  const Tensor gamma = random_device_tensor({5}, 15), beta = random_device_tensor({5}, 16);
  Tensor running_mean = random_device_tensor({5}, 17), running_var = empty({5});
  ops::fill(b, running_var, 1.0);
  Tensor by = empty({9, 5, 7, 6}), save_mean = empty({5}), save_invstd = empty({5}), bdx = empty({9, 5, 7, 6});
  Tensor dgamma = empty({5}), dbeta = empty({5});
  ops::batchnorm_forward_train(b, bx, gamma, beta, 1e-5, 0.1, by, save_mean, save_invstd, running_mean, running_var);
  ops::batchnorm_backward(b, bx, bdy, gamma, save_mean, save_invstd, bdx, dgamma, dbeta);
  for (const Tensor* t : {&by, &save_mean, &save_invstd, &running_mean, &running_var, &bdx, &dgamma, &dbeta}) keep(*t);
  ops::batchnorm_forward_eval(b, bx, gamma, beta, running_mean, running_var, 1e-5, by);
  keep(by);
  // The loss: softmax cross-entropy of 45 rows of 62 classes, its gradient, the correct count.
  const Tensor logits = random_device_tensor({45, 62}, 18);
  Tensor labels_host = Tensor::empty({45}, DType::I32);
  for (int i = 0; i < 45; ++i) labels_host.data<int32_t>()[i] = (i * 17) % 62;
  const Tensor labels = labels_host.to(gpu);
  Tensor probs = empty({45, 62}), loss = empty({1}), dlogits = empty({45, 62}), correct = empty({1}, DType::I32);
  ops::softmax_xent_forward(b, logits, labels, 0.1, probs, loss);
  ops::softmax_xent_backward(b, probs, labels, 0.1, dlogits);
  ops::count_correct(b, logits, labels, correct);
  keep(probs), keep(loss), keep(dlogits), keep(correct);
  // The optimizers.
  Tensor param = random_device_tensor({4097}, 19), velocity = random_device_tensor({4097}, 20);
  Tensor m = random_device_tensor({4097}, 21), v = random_device_tensor({4097}, 22);
  ops::fill(b, v, 0.5);
  const Tensor grad = random_device_tensor({4097}, 23);
  SgdConfig sgd;
  sgd.momentum = 0.9, sgd.nesterov = true, sgd.weight_decay = 1e-4;
  ops::sgd_step(b, sgd, param, grad, velocity);
  AdamConfig adam;
  adam.weight_decay = 0.01, adam.decoupled_weight_decay = true;
  ops::adam_step(b, adam, 3, param, grad, m, v);
  keep(param), keep(velocity), keep(m), keep(v);
  return out;
}

}  // namespace

TEST_CASE("cuda emulation: every custom kernel gives the same bits in the forward, reverse and random thread orders") {
  // The kernels' reductions have fixed orders, and nothing reads what another thread writes without a
  // barrier: whatever order a block's threads take their turns in, every output is the same to the bit.
  std::vector<std::vector<Tensor>> runs;
  for (OrderSetting order : {kForward, kReverse, kRandom}) with_order(order, [&] { runs.push_back(run_every_op()); });
  REQUIRE(runs[0].size() == runs[1].size());
  REQUIRE(runs[0].size() == runs[2].size());
  for (size_t i = 0; i < runs[0].size(); ++i) {
    CAPTURE(i);
    for (int r : {1, 2}) {
      REQUIRE(runs[r][i].bytes() == runs[0][i].bytes());
      CHECK(std::memcmp(runs[r][i].raw(), runs[0][i].raw(), runs[0][i].bytes()) == 0);
    }
  }
}

