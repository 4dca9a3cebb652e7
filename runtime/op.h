#pragma once
// The op registry: each op is one object holding an implementation per backend (cpu, cuda, cudnn),
// chosen at run time by the caller, and the checks every call gets first, whatever the backend: the
// arguments' devices (check_op_argument) and the op's shape contract. Backends fill it in at start-up
// (kernels/backends.h), so the same test can run every backend of an op against the CPU reference.
#include <any>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
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

// ---- the op-call trace: the op benchmark records the calls of a real training step (apps/bench/op_cases.cpp) ----

// One op call as data, to run again later: the op, and a copy of each argument in a std::any (a pointer
// argument as a copy of what it points to, or empty when null). A copied Tensor shares the caller's storage:
// a recorder that keeps the call copies its tensors before the call runs.
struct OpCall {
  const OpBase* op = nullptr;
  std::string part, pass;             // the recorder's scope when the call was made (OpCallScope)
  std::vector<std::any> arguments;
  std::vector<bool> written;          // the arguments the op may write: non-const references and pointers
  // Calls the op on a backend with these arguments (or copies of them the recorder made).
  std::function<void(Backend, std::vector<std::any>&)> run;
};

class OpRecorder {
 public:
  virtual ~OpRecorder() = default;
  // Called on the recording thread before each op call runs.
  virtual void record(OpCall call) = 0;
  std::string part, pass;  // what the calls belong to: a graph node ("conv2"), "loss" or "optimizer"; "fwd", "bwd"
};

// This thread's recorder, or null (then an op call costs one pointer test more).
inline thread_local OpRecorder* op_recorder = nullptr;

// Names the op calls made while it lives for this thread's recorder, if any: the graph's nodes and the
// training step say which node and pass they run.
class OpCallScope {
 public:
  OpCallScope(const std::string& part, const char* pass) : recorder_(op_recorder) {
    if (recorder_ == nullptr) return;
    saved_ = {std::exchange(recorder_->part, part), std::exchange(recorder_->pass, pass)};
  }
  ~OpCallScope() {
    if (recorder_ != nullptr) recorder_->part = std::move(saved_.first), recorder_->pass = std::move(saved_.second);
  }
  OpCallScope(const OpCallScope&) = delete;
  OpCallScope& operator=(const OpCallScope&) = delete;

 private:
  OpRecorder* recorder_;
  std::pair<std::string, std::string> saved_;
};

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
  // Also makes the op's calls recordable (OpRecorder): every op's contract is defined once, in one file
  // (kernels/op_contracts.cpp), so the code that copies a call's arguments is compiled there alone, not in
  // every file that includes the ops (where the calls would only test the recorder pointer).
  void define_contract(Contract contract) {
    contract_ = std::move(contract);
    as_call_ = &Op::as_call;
  }
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
    if (op_recorder != nullptr && as_call_ != nullptr) op_recorder->record(as_call_(*this, args...));
    return impl(std::forward<Args>(args)...);
  }

 private:
  template <class A>
  using Pointee = std::remove_pointer_t<std::remove_reference_t<A>>;
  template <class A>
  static constexpr bool kWritten = (std::is_reference_v<A> || std::is_pointer_v<A>) && !std::is_const_v<Pointee<A>>;

  template <class A>
  static std::any copy_of(const std::remove_reference_t<A>& a) {
    if constexpr (std::is_pointer_v<A>)
      return a != nullptr ? std::any(std::remove_const_t<Pointee<A>>(*a)) : std::any();
    else
      return std::any(std::decay_t<A>(a));
  }
  template <class A>
  static decltype(auto) argument_from(std::any& a) {
    using T = std::remove_const_t<Pointee<A>>;
    if constexpr (std::is_pointer_v<A>)
      return a.has_value() ? &std::any_cast<T&>(a) : static_cast<T*>(nullptr);
    else
      return std::any_cast<T&>(a);
  }
  template <size_t... I>
  void run_with(Backend b, std::vector<std::any>& a, std::index_sequence<I...>) const {
    (*this)(b, argument_from<Args>(a[I])...);
  }
  static OpCall as_call(const Op& op, const std::remove_reference_t<Args>&... args) {
    OpCall call{&op, op_recorder->part, op_recorder->pass, {copy_of<Args>(args)...}, {kWritten<Args>...}, {}};
    call.run = [&op](Backend b, std::vector<std::any>& a) { op.run_with(b, a, std::index_sequence_for<Args...>{}); };
    return call;
  }

  std::array<Impl, kBackendCount> impls_;
  Contract contract_;
  OpCall (*as_call_)(const Op&, const std::remove_reference_t<Args>&...) = nullptr;  // set with the contract
};

}  // namespace quill
