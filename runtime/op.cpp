#include "runtime/op.h"

namespace quill {
namespace {
std::vector<const OpBase*>& registry() {
  static std::vector<const OpBase*> ops;
  return ops;
}
}  // namespace

OpBase::OpBase(const char* name) : name_(name) { registry().push_back(this); }

const std::vector<const OpBase*>& all_ops() { return registry(); }

}  // namespace quill
