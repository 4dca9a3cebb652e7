// Registers every backend before any test runs (the op registry starts empty).
#include "kernels/backends.h"

namespace {
const bool backends_registered = (quill::init_backends(), true);
}  // namespace
