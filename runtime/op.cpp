#include "runtime/op.h"

namespace quill {
namespace {
std::vector<OpBase*>& registry() {
  static std::vector<OpBase*> ops;
  return ops;
}
std::vector<const OpBase*>& listing() {  // the same, read-only, for all_ops()
  static std::vector<const OpBase*> ops;
  return ops;
}
}  // namespace

OpBase::OpBase(const char* name) : name_(name) {
  registry().push_back(this);
  listing().push_back(this);
}

const std::vector<const OpBase*>& all_ops() { return listing(); }

void define_missing_as(Backend b, Backend from) {
  for (OpBase* op : registry())
    if (!op->has(b)) op->define_as(b, from);
}

}  // namespace quill
