#include "kernels/cudnn/cudnn_check.h"

#include <sstream>

#include "kernels/cudnn/version.h"

namespace quill::cudnn::detail {

void cudnn_fail(cudnnStatus_t status, const char* what, const char* file, int line) {
  std::ostringstream os;
  os << file << ":" << line << ": " << what << " failed: " << cudnnGetErrorString(status) << " (" << int(status)
     << ")";
  if (is_environment_failure(status))
    os << "; cuDNN cannot run on this machine (" << loaded_version() << " loaded, built with "
       << version_text(CUDNN_VERSION) << "): check the driver, the CUDA runtime and the cuDNN library on LD_LIBRARY_PATH";
  if (is_not_supported(status)) throw NotSupported(os.str());
  throw Error(os.str());
}

}  // namespace quill::cudnn::detail
