#include "apps/cudnn_math.h"

#if QUILL_HAVE_CUDNN  // set for this file by apps/CMakeLists.txt when the build has the cuDNN backend
#include "kernels/cudnn/settings.h"
#endif

namespace quill {

void set_cudnn_tf32(bool on) {
#if QUILL_HAVE_CUDNN
  cudnn::Settings s = cudnn::backend_settings()->get();
  s.tf32 = on;
  cudnn::backend_settings()->set(s);
#else
  (void)on;
#endif
}

}  // namespace quill
