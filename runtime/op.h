#pragma once
// The op registry: each op is one object holding an implementation per backend (cpu, cuda, cudnn),
// chosen at run time by the caller, and the checks every call gets first, whatever the backend: the
// arguments' devices (check_op_argument) and the op's shape contract. Backends fill it in at start-up
// (kernels/backends.h), so the same test can run every backend of an op against the CPU reference.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
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
  virtual bool has_contract() const = 0;
  // Gives backend b the implementation "call this op on backend from" (which checks the call again).
  virtual void define_as(Backend b, Backend from) = 0;

  // Calls on backend b that ran another backend's kernel because b could not take the configuration (cuDNN's
  // "not supported"). Counted by the backend; the tests check that it stays 0 where b must run the op itself,
  // since a silent fallback would pass every comparison with the CPU.
  void count_fallback(Backend b) const { fallbacks_[static_cast<int>(b)].fetch_add(1, std::memory_order_relaxed); }
  int64_t fallbacks(Backend b) const { return fallbacks_[static_cast<int>(b)].load(std::memory_order_relaxed); }

 private:
  const char* name_;
  mutable std::array<std::atomic<int64_t>, kBackendCount> fallbacks_{};
};

// Every op, in declaration order: for listings ("which ops does cudnn provide?").
const std::vector<const OpBase*>& all_ops();

// Gives backend b, for every op that b does not implement itself, backend from's implementation: the cudnn
// backend runs the CUDA kernels of the ops cuDNN has none for (kernels/cudnn/register_cudnn.cpp).
void define_missing_as(Backend b, Backend from);

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

  // The op's shape contract: checks its arguments' shapes and sizes and throws a one-line error, the same for
  // every backend (kernels/op_contracts.cpp), so a kernel never sees tensors of the wrong size.
  using Contract = std::function<void(const char* op, const std::remove_reference_t<Args>&...)>;

  void define(Backend b, Impl impl) { impls_[static_cast<int>(b)] = std::move(impl); }
  void define_contract(Contract contract) { contract_ = std::move(contract); }
  bool has(Backend b) const override { return static_cast<bool>(impls_[static_cast<int>(b)]); }
  bool has_contract() const override { return static_cast<bool>(contract_); }
  void define_as(Backend b, Backend from) override {
    define(b, [this, from](Args... args) { return (*this)(from, std::forward<Args>(args)...); });
  }

  R operator()(Backend b, Args... args) const {
    const Impl& impl = impls_[static_cast<int>(b)];
    QUILL_CHECK(impl, "op '", name(), "' has no ", backend_name(b), " implementation");
    (check_op_argument(name(), b, args), ...);
    if (contract_) contract_(name(), args...);
    return impl(std::forward<Args>(args)...);
  }

 private:
  std::array<Impl, kBackendCount> impls_;
  Contract contract_;
};

}  // namespace quill
