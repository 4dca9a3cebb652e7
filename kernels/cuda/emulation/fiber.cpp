#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstdio>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define QUILL_EMULATION_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QUILL_EMULATION_ASAN 1
#endif
#endif

#if QUILL_EMULATION_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace cuda_emulation {
namespace {

namespace fctx = boost::context::detail;

// Kernel frames are small; AddressSanitizer's redzones make them a few times larger. The mapping is
// reserved, not committed: untouched pages cost nothing.
constexpr size_t kStackBytes = size_t(256) << 10;

size_t page_size() {
  static const size_t size = size_t(sysconf(_SC_PAGESIZE));
  return size;
}

// Who switches to whom, for the side that arrives (switches on one host thread are never concurrent).
struct Switch {
  Fiber* from = nullptr;
  Fiber* to = nullptr;
};
thread_local Switch t_switch;

void entry_point(fctx::transfer_t transfer) { t_switch.to->run_first(transfer.fctx); }

}  // namespace

Fiber::Fiber() {
  // A guard page below the stack turns an overflow into a fault instead of silent corruption.
  stack_bytes_ = kStackBytes + page_size();
  stack_ = mmap(nullptr, stack_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (stack_ == MAP_FAILED) {
    std::fprintf(stderr, "cuda emulation: cannot map a %zu-byte fiber stack\n", stack_bytes_);
    std::abort();
  }
  mprotect(stack_, page_size(), PROT_NONE);
  bottom_ = static_cast<char*>(stack_) + page_size();
  size_ = kStackBytes;
}

Fiber::Fiber(HostContext) {}

Fiber::~Fiber() {
  if (stack_ != nullptr) munmap(stack_, stack_bytes_);
}

void Fiber::start(Entry entry, void* argument, unsigned colour) {
  char* usable = static_cast<char*>(stack_) + page_size();
#if QUILL_EMULATION_ASAN
  // Frames abandoned mid-run (a faulting kernel) leave their redzones poisoned; a new run starts clean.
  if (running_) ASAN_UNPOISON_MEMORY_REGION(usable, kStackBytes);
#endif
  entry_ = entry;
  argument_ = argument;
  running_ = true;
  fake_stack_ = nullptr;
  const size_t shift = size_t(colour % 63) * 64;
  context_ = fctx::make_fcontext(usable + kStackBytes - shift, kStackBytes - shift, entry_point);
}

// On the arriving side of a switch: remembers where the fiber that switched here stopped.
void Fiber::arrive(void* previous_context) {
  Fiber& from = *t_switch.from;
  from.context_ = previous_context;
#if QUILL_EMULATION_ASAN
  const void* bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(fake_stack_, &bottom, &size);
  if (from.stack_ == nullptr) from.bottom_ = bottom, from.size_ = size;  // the host's stack
#endif
}

void Fiber::switch_to(Fiber& from, Fiber& to) {
  t_switch = {&from, &to};
#if QUILL_EMULATION_ASAN
  __sanitizer_start_switch_fiber(&from.fake_stack_, to.bottom_, to.size_);
#endif
  const fctx::transfer_t back = fctx::jump_fcontext(to.context_, nullptr);
  from.arrive(back.fctx);
}

void Fiber::exit_to(Fiber& from, Fiber& to) {
  from.running_ = false;
  t_switch = {&from, &to};
#if QUILL_EMULATION_ASAN
  __sanitizer_start_switch_fiber(nullptr, to.bottom_, to.size_);  // this run of `from` ends
#endif
  fctx::jump_fcontext(to.context_, nullptr);
  std::abort();  // never switched to again before start() makes a new context
}

void Fiber::run_first(void* caller_context) {
  arrive(caller_context);
  entry_(argument_);
  std::fprintf(stderr, "cuda emulation: a fiber's entry returned instead of exiting\n");
  std::abort();
}

}  // namespace cuda_emulation
