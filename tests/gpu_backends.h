#pragma once
// Which GPU backends a test runs on, shared by the GPU test files: none without a CUDA device (the case is
// skipped, or fails under QUILL_REQUIRE_CUDA=1), else Backend::Cuda, plus Backend::Cudnn when the build has
// it (its absence fails under QUILL_REQUIRE_CUDNN=1). Skips are reported through tests/skip.h.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/backends.h"
#include "runtime/ops.h"
#include "runtime/storage.h"
#include "tests/skip.h"

namespace quill::test_gpu {

// What a missing CUDA device skips: the whole case (a GPU test), or only its GPU part (a test of every
// backend, whose CPU part still runs and counts).
enum class WithoutCuda { SkipCase, SkipGpuPart };

// True when there is a usable CUDA device; otherwise the case (or its GPU part) is skipped. On a GPU machine,
// set QUILL_REQUIRE_CUDA=1 so that a broken driver or a CPU-only build fails instead of passing as skipped.
inline bool cuda_usable(WithoutCuda without = WithoutCuda::SkipCase) {
  init_backends();
  if (device_available(DeviceType::Cuda)) return true;
  if (std::getenv("QUILL_REQUIRE_CUDA") != nullptr)
    FAIL_CHECK("QUILL_REQUIRE_CUDA is set but no CUDA device is usable: "
               << device_unavailable_reason(DeviceType::Cuda));
  else if (without == WithoutCuda::SkipCase)
    test::skip_test_case("no CUDA device");
  else
    test::skip_part("GPU part", "no CUDA device");
  return false;
}

// The backends a case runs on: none without a CUDA device, else Backend::Cuda, plus Backend::Cudnn when the
// build has it. Set QUILL_REQUIRE_CUDNN=1 so that a build without the cuDNN backend fails instead of skipping
// its part.
inline std::vector<Backend> gpu_backends(WithoutCuda without = WithoutCuda::SkipCase) {
  if (!cuda_usable(without)) return {};
  std::vector<Backend> out{Backend::Cuda};
  if (ops::conv2d_forward.has(Backend::Cudnn)) {
    out.push_back(Backend::Cudnn);
  } else {
    if (std::getenv("QUILL_REQUIRE_CUDNN") != nullptr)
      FAIL_CHECK("QUILL_REQUIRE_CUDNN is set but this build has no cuDNN backend (configure with -DQUILL_CUDNN=ON)");
    test::skip_part("cudnn part", device_description(DeviceType::Cuda).emulated
                                      ? "cuDNN cannot be emulated (this is the CPU emulation of CUDA)"
                                      : "this build has no cuDNN backend");
  }
  return out;
}

}  // namespace quill::test_gpu
