#include "kernels/cudnn/settings.h"

namespace quill::cudnn {

const std::shared_ptr<SettingsStore>& backend_settings() {
  static const std::shared_ptr<SettingsStore> store = std::make_shared<SettingsStore>();
  return store;
}

}  // namespace quill::cudnn
