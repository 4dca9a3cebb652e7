#pragma once
// The cuDNN library this process loaded, for reports, without including cudnn.h (the apps compile against
// this header without cuDNN's include folder). Defined in handle.cpp, where the library is checked.
#include <cstddef>
#include <string>

namespace quill::cudnn {

std::string loaded_version();  // "9.19.0"
std::string version_text(size_t version);  // cuDNN 9's number major * 10000 + minor * 100 + patch as "9.19.0"

}  // namespace quill::cudnn
