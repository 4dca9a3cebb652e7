#pragma once
// The op registry: each op is one object holding an implementation per backend (cpu, cuda, cudnn),
// chosen at run time by the caller. Backends fill it in at start-up (kernels/backends.h), so the same
// test can run every backend of an op against the CPU reference.
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/error.h"

namespace quill {

class OpBase {
 public:
  explicit OpBase(const char* name);
  virtual ~OpBase() = default;
  const char* name() const { return name_; }
  virtual bool has(Backend b) const = 0;

 private:
  const char* name_;
};

// Every op, in declaration order: for listings ("which ops does cudnn provide?").
const std::vector<const OpBase*>& all_ops();

// Checks one argument of an op call before it reaches a backend. Arguments other than tensors pass;
// runtime/ops.h overloads it for tensors, found by argument-dependent lookup where ops are called.
template <class T>
void check_op_argument(const char* /*op*/, Backend /*backend*/, const T& /*argument*/) {}

template <class Signature>
class Op;

template <class R, class... Args>
class Op<R(Args...)> final : public OpBase {
 public:
  using Impl = std::function<R(Args...)>;
  explicit Op(const char* name) : OpBase(name) {}

  void define(Backend b, Impl impl) { impls_[static_cast<int>(b)] = std::move(impl); }
  bool has(Backend b) const override { return static_cast<bool>(impls_[static_cast<int>(b)]); }

  R operator()(Backend b, Args... args) const {
    const Impl& impl = impls_[static_cast<int>(b)];
    QUILL_CHECK(impl, "op '", name(), "' has no ", backend_name(b), " implementation");
    (check_op_argument(name(), b, args), ...);
    return impl(std::forward<Args>(args)...);
  }

 private:
  std::array<Impl, kBackendCount> impls_;
};

}  // namespace quill
