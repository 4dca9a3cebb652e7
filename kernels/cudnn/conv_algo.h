#pragma once
// Choosing a cuDNN convolution algorithm per (shape, pass): cuDNN times its candidates on the real buffers
// (cudnnFind*AlgorithmEx; with Settings::timed_search off, its heuristic ranking stands instead) within the
// workspace limit, and the fastest one the settings accept is kept:
// only deterministic ones in deterministic mode, and in strict float32 (and float64) only GEMM-type ones
// without tensor-core math: FFT and Winograd round differently from a direct sum, so they run in TF32 mode
// only.
// The choice is cached per device, dtype, geometry, pass, settings and the buffers' alignment, so the search
// runs about once per layer. Each algorithm is deterministic, but the choice is by timing: another process
// may choose another one, and its results may differ in the last bits.
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "kernels/cudnn/descriptors.h"
#include "kernels/cudnn/settings.h"

namespace quill::cudnn {

enum class ConvPass { Forward, BackwardData, BackwardFilter };

// The descriptors of one convolution: x [n,c,h,w], w [k,c,r,s], y [n,k,p,q].
struct ConvProblem {
  ConvProblem(const ConvGeometry& g, cudnnDataType_t type);
  cudnnDataType_t type;
  TensorDesc x;
  FilterDesc w;
  ConvDesc conv;
  TensorDesc y;
};

struct ConvAlgo {
  int algo = 0;  // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t, by pass
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;  // set on the convolution descriptor before running it
  size_t workspace = 0;
};

// The math type to search with: strict float32 excludes tensor cores and TF32.
cudnnMathType_t search_math(cudnnDataType_t type, const Settings& s);

// The buffers cuDNN times the candidates on; the pass's output is overwritten with garbage.
struct ConvBuffers {
  const void* x;   // x (forward, backward-filter) or nothing
  const void* w;   // w (forward, backward-data) or nothing
  const void* dy;  // dy (backward-data, backward-filter) or nothing
  void* out;       // y, dx or dw
};

class ConvAlgoCache {
 public:
  // The cached choice, or the result of a search (the problem's math type is left as searched).
  // nullopt when no candidate is acceptable under the settings.
  std::optional<ConvAlgo> choose(cudnnHandle_t handle, ConvPass pass, const ConvGeometry& g, ConvProblem& problem,
                                 const ConvBuffers& buffers, const Settings& s);

 private:
  std::mutex mutex_;
  std::map<std::vector<int64_t>, std::optional<ConvAlgo>> choices_;
};

}  // namespace quill::cudnn
