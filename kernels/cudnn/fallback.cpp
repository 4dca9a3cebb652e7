#include "kernels/cudnn/fallback.h"

#include <cstdio>
#include <mutex>
#include <set>
#include <sstream>

namespace quill::cudnn {

void note_fallback(const char* op, const std::string& shape, const std::string& reason) {
  static std::mutex mutex;
  static std::set<std::string> noted;
  std::lock_guard<std::mutex> lock(mutex);
  if (!noted.insert(std::string(op) + "\n" + reason).second) return;
  std::fprintf(stderr, "quill: cudnn: %s %s: not supported by cuDNN (%s), using the custom kernel\n", op,
               shape.c_str(), reason.c_str());
}

std::string describe(const ConvGeometry& g) {
  std::ostringstream os;
  os << "x [" << g.n << ", " << g.c << ", " << g.h << ", " << g.w << "] w [" << g.k << ", " << g.c << ", " << g.r
     << ", " << g.s << "] stride " << g.stride_h << "x" << g.stride_w << " pad " << g.pad_h << "x" << g.pad_w;
  if (!g.symmetric_padding()) os << " (after " << g.pad_bottom() << "x" << g.pad_right() << ")";
  return os.str();
}

std::string describe(const PoolGeometry& g) {
  std::ostringstream os;
  os << "x [" << g.n << ", " << g.c << ", " << g.h << ", " << g.w << "] window " << g.kh << "x" << g.kw << " stride "
     << g.stride_h << "x" << g.stride_w << " pad " << g.pad_h << "x" << g.pad_w;
  if (!g.symmetric_padding()) os << " (after " << g.pad_bottom() << "x" << g.pad_right() << ")";
  if (g.ceil_mode) os << " ceil_mode";
  if (g.count_include_pad) os << " count_include_pad";
  return os.str();
}

std::string describe(const Tensor& t) { return t.shape().str(); }

}  // namespace quill::cudnn
