#pragma once
// A backend's run-time settings, read by its ops at every call and set explicitly by the program
// (kernels/cudnn/settings.h, kernels/cuda/settings.h). A mutex guards them: a server may switch them on one
// thread while ops run on others, and each call sees either the old settings or the new, never a mix.
#include <mutex>

namespace quill {

template <class Settings>
class SettingsStore {
 public:
  Settings get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return settings_;
  }
  void set(const Settings& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    settings_ = s;
  }

 private:
  mutable std::mutex mutex_;
  Settings settings_;
};

}  // namespace quill
