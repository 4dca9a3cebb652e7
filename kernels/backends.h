#pragma once
// Fills the op registry with every backend this build has. Call once at start-up (idempotent).
#include <string>

namespace quill {

void init_backends();

// The backends this build has, e.g. "cpu, cuda (custom kernels)" (quill info).
std::string backends_summary();

// The shape contract of every op, checked by the registry before any backend (kernels/op_contracts.cpp).
void define_op_contracts();

// Per-backend registration, each defined beside its kernels.
void register_cpu_ops();
void register_cuda_ops();   // kernels/cuda (only in builds with CUDA)
void register_cudnn_ops();  // kernels/cudnn (only in builds with cuDNN)

}  // namespace quill
