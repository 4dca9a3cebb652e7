#include "kernels/cudnn/conv_algo.h"

#include <algorithm>
#include <cstdint>

#include "kernels/cudnn/cudnn_check.h"
#include "kernels/cudnn/handle.h"
#include "kernels/cudnn/workspace.h"

namespace quill::cudnn {
namespace {

bool strict_float(cudnnDataType_t type, const Settings& s) { return type == CUDNN_DATA_FLOAT && !s.tf32; }

bool tensor_math(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The algorithms that sum products directly (GEMM-type). FFT and Winograd transform the data first and round
// differently: FFT's error scales with the magnitude of the whole output, not of each element. Outside TF32
// mode the results must be within float32 (float64) rounding of the CPU reference, so only these run there;
// TF32 mode, already a looser bound, takes the fastest of all.
bool sums_directly(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}
bool sums_directly(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
}
bool sums_directly(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
}

// The first acceptable result (cuDNN sorts by measured time, or by the heuristic's expected time): a direct
// sum outside TF32 mode. In strict mode the algorithm then runs with
// CUDNN_FMA_MATH whatever math type it was reported with, so it cannot switch to TF32. workspace_of sets
// the math type on the problem and asks cuDNN for the algorithm's workspace under it; a candidate cuDNN
// then reports as not supported is skipped.
template <class Perf, class WorkspaceOf>
std::optional<ConvAlgo> pick(const std::vector<Perf>& perf, int count, cudnnDataType_t type, const Settings& s,
                             WorkspaceOf&& workspace_of) {
  for (int i = 0; i < count; ++i) {
    const Perf& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > s.workspace_limit) continue;
    if (s.deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
    if (!s.tf32 && tensor_math(p.mathType)) continue;
    if (!(s.tf32 && type == CUDNN_DATA_FLOAT) && !sums_directly(p.algo)) continue;
    ConvAlgo a;
    a.algo = int(p.algo);
    a.math = strict_float(type, s) ? CUDNN_FMA_MATH : p.mathType;
    const cudnnStatus_t status = workspace_of(a, &a.workspace);
    if (is_not_supported(status)) continue;
    QUILL_CUDNN_CHECK(status);
    if (a.workspace > s.workspace_limit) continue;
    return a;
  }
  return std::nullopt;
}

// Workspace for the timing run: the most any heuristic candidate within the limit asks for.
template <class Perf>
size_t search_workspace(const std::vector<Perf>& perf, int count, const Settings& s) {
  size_t bytes = 0;
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= s.workspace_limit)
      bytes = std::max(bytes, perf[i].memory);
  return bytes;
}

std::optional<ConvAlgo> search_forward(cudnnHandle_t h, ConvProblem& p, const ConvBuffers& b, const Settings& s) {
  int max_count = 0, count = 0;
  QUILL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(1, max_count));
  QUILL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x.get(), p.w.get(), p.conv.get(), p.y.get(),
                                                           int(perf.size()), &count, perf.data()));
  if (s.timed_search) {  // else the heuristic ranking above stands
    const size_t bytes = search_workspace(perf, count, s);
    Workspace ws(bytes);
    QUILL_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, p.x.get(), b.x, p.w.get(), b.w, p.conv.get(),
                                                             p.y.get(), b.out, int(perf.size()), &count,
                                                             perf.data(), ws.get(), bytes));
  }
  return pick(perf, count, p.type, s, [&](const ConvAlgo& a, size_t* needed) {
    p.conv.set_math(a.math);
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x.get(), p.w.get(), p.conv.get(), p.y.get(),
                                                   cudnnConvolutionFwdAlgo_t(a.algo), needed);
  });
}

std::optional<ConvAlgo> search_backward_data(cudnnHandle_t h, ConvProblem& p, const ConvBuffers& b,
                                             const Settings& s) {
  int max_count = 0, count = 0;
  QUILL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(std::max(1, max_count));
  QUILL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w.get(), p.y.get(), p.conv.get(), p.x.get(),
                                                                int(perf.size()), &count, perf.data()));
  if (s.timed_search) {  // else the heuristic ranking above stands
    const size_t bytes = search_workspace(perf, count, s);
    Workspace ws(bytes);
    QUILL_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w.get(), b.w, p.y.get(), b.dy, p.conv.get(),
                                                                  p.x.get(), b.out, int(perf.size()), &count,
                                                                  perf.data(), ws.get(), bytes));
  }
  return pick(perf, count, p.type, s, [&](const ConvAlgo& a, size_t* needed) {
    p.conv.set_math(a.math);
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w.get(), p.y.get(), p.conv.get(), p.x.get(),
                                                        cudnnConvolutionBwdDataAlgo_t(a.algo), needed);
  });
}

std::optional<ConvAlgo> search_backward_filter(cudnnHandle_t h, ConvProblem& p, const ConvBuffers& b,
                                               const Settings& s) {
  int max_count = 0, count = 0;
  QUILL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(std::max(1, max_count));
  QUILL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x.get(), p.y.get(), p.conv.get(),
                                                                  p.w.get(), int(perf.size()), &count, perf.data()));
  if (s.timed_search) {  // else the heuristic ranking above stands
    const size_t bytes = search_workspace(perf, count, s);
    Workspace ws(bytes);
    QUILL_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x.get(), b.x, p.y.get(), b.dy,
                                                                    p.conv.get(), p.w.get(), b.out, int(perf.size()),
                                                                    &count, perf.data(), ws.get(), bytes));
  }
  return pick(perf, count, p.type, s, [&](const ConvAlgo& a, size_t* needed) {
    p.conv.set_math(a.math);
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x.get(), p.y.get(), p.conv.get(), p.w.get(),
                                                          cudnnConvolutionBwdFilterAlgo_t(a.algo), needed);
  });
}

// The alignment a buffer guarantees, up to 16 bytes: some cuDNN engines need 16, and parameters are slices
// of one flat buffer, so layers of one geometry can differ in it (nullptr: the pass does not read it).
int64_t alignment(const void* p) {
  if (p == nullptr) return 0;
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  int64_t bytes = 1;
  while (bytes < 16 && address % (2 * bytes) == 0) bytes *= 2;
  return bytes;
}

}  // namespace

ConvProblem::ConvProblem(const ConvGeometry& g, cudnnDataType_t t)
    : type(t), x(t, g.n, g.c, g.h, g.w), w(t, g.k, g.c, g.r, g.s), conv(g, t), y(t, g.n, g.k, g.p(), g.q()) {}

cudnnMathType_t search_math(cudnnDataType_t type, const Settings& s) {
  return strict_float(type, s) ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

std::optional<ConvAlgo> ConvAlgoCache::choose(cudnnHandle_t handle, ConvPass pass, const ConvGeometry& g,
                                              ConvProblem& problem, const ConvBuffers& buffers, const Settings& s) {
  const std::vector<int64_t> key = {int64_t(pass), current_device(), int64_t(problem.type), g.n, g.c, g.h, g.w,
                                    g.k, g.r, g.s, g.stride_h, g.stride_w, g.pad_h, g.pad_w, int64_t(s.tf32),
                                    int64_t(s.deterministic), int64_t(s.workspace_limit), int64_t(s.timed_search),
                                    alignment(buffers.x), alignment(buffers.w), alignment(buffers.dy),
                                    alignment(buffers.out)};
  // Held through the search: two threads timing at once would distort each other's timings.
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = choices_.find(key);
  if (it != choices_.end()) return it->second;
  problem.conv.set_math(search_math(problem.type, s));
  std::optional<ConvAlgo> a;
  try {
    switch (pass) {
      case ConvPass::Forward: a = search_forward(handle, problem, buffers, s); break;
      case ConvPass::BackwardData: a = search_backward_data(handle, problem, buffers, s); break;
      case ConvPass::BackwardFilter: a = search_backward_filter(handle, problem, buffers, s); break;
    }
  } catch (const NotSupported&) {
    a = std::nullopt;  // remembered too: the search is not repeated for a shape cuDNN cannot do
  }
  choices_.emplace(key, a);
  return a;
}

}  // namespace quill::cudnn
