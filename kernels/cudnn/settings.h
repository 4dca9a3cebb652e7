#pragma once
// Run-time settings of the cuDNN backend. Not a hidden global mode: register_cudnn_ops() binds every cudnn
// op to one SettingsStore object (backend_settings()), and each call reads it, so a program switches
// modes by calling backend_settings()->set(...) explicitly. The algorithm cache is keyed by these settings,
// so a switch never reuses an algorithm chosen under other settings.
#include <cstddef>
#include <memory>

#include "runtime/settings_store.h"

namespace quill::cudnn {

struct Settings {
  // false: strict float32 (CUDNN_FMA_MATH, no tensor-core conversion), results within float32 rounding of
  // the CPU reference. true: float32 convolutions may run on tensor cores in TF32 (CUDNN_DEFAULT_MATH).
  bool tf32 = false;
  // true: only convolution algorithms cuDNN reports as deterministic (same bits run after run).
  bool deterministic = true;
  // Most device memory one convolution may use as workspace (also bounds the algorithm search).
  size_t workspace_limit = size_t(256) << 20;
  // true: convolution algorithms chosen by timing them on the real buffers (cudnnFind*AlgorithmEx); false:
  // by cuDNN's heuristic ranking alone (cudnnGet*Algorithm_v7), no timing runs. The tests' hundreds of
  // shapes use the heuristic: a search per shape would cost more than the checks, above all under
  // compute-sanitizer.
  bool timed_search = true;
};

using SettingsStore = ::quill::SettingsStore<Settings>;

// The store the registered cudnn ops read (created on first use; register_cudnn_ops() captures it).
const std::shared_ptr<SettingsStore>& backend_settings();

}  // namespace quill::cudnn
