#!/usr/bin/env bash
# Configures and builds Quill into build/. On a machine with an NVIDIA GPU (nvidia-smi lists one): the CUDA
# backend compiled by nvcc, and cuDNN where it is found. Without one: the CUDA backend built for the CPU
# emulation of CUDA (kernels/cuda/emulation/README.md), so that the GPU tests run every custom kernel on the
# CPU; no nvcc is needed. Extra arguments go to cmake and win, e.g. -DQUILL_CUDA_EMULATION=OFF for the
# toolkit's build on a machine without a GPU, or -DQUILL_CUDA=OFF for a CPU-only build.
#   scripts/build.sh [extra cmake arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if nvidia-smi -L >/dev/null 2>&1; then
  cuda=(-DQUILL_CUDA_EMULATION=OFF)
  if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export CUDACXX=/usr/local/cuda/bin/nvcc
  fi
else
  cuda=(-DQUILL_CUDA_EMULATION=ON)
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${cuda[@]}" "$@" >/dev/null
grep -E '^QUILL_CUDA_EMULATION:BOOL=ON' build/CMakeCache.txt >/dev/null &&
  echo "build/: the CUDA backend on the CPU emulation of CUDA (no GPU here)" ||
  echo "build/: CUDA toolkit build where nvcc was found ($(grep -E '^CMAKE_CUDA_COMPILER:' build/CMakeCache.txt | cut -d= -f2))"
cmake --build build -j"$(nproc)"
