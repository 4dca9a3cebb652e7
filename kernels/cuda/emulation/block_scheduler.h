#pragma once
// Runs an emulated kernel: its blocks one after another, each block's threads as fibers that take turns
// between synchronisation points (block_scheduler.cpp).
#include <cstdint>
#include <string>

#include "cuda_emulation.h"
#include "cuda_runtime.h"

namespace cuda_emulation {

struct KernelFault {
  cudaError_t error = cudaSuccess;
  std::string message;
};

// Runs every thread of every block of `launch`; `launch_number` (the device's count of launches) varies the
// random order from launch to launch. Returns the first fault (error cudaSuccess if none); a fault ends the
// kernel at once, as on a GPU. Not reentrant: the caller holds the device's lock.
KernelFault run_kernel(const KernelLaunch& launch, uint64_t launch_number, const OrderSetting& order);

}  // namespace cuda_emulation
