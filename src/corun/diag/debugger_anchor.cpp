// debugger_anchor.cpp: the anchor debuggers read (see debugger_anchor.hpp).
#include "corun/diag/debugger_anchor.hpp"

#include <cstddef>
#include <mutex>

#include "corun/sched/scheduler.hpp"

namespace corun::detail {

namespace {

std::mutex g_anchor_mu;  // guards corun_debugger_anchor.runtimes

constexpr std::size_t kReasons = kWaitReasons;

constexpr std::uint32_t context_kind() {
#if defined(CORUN_CONTEXT_UCONTEXT) && defined(__x86_64__)
  return 3;
#elif defined(CORUN_CONTEXT_UCONTEXT) && defined(__aarch64__)
  return 4;
#elif !defined(CORUN_CONTEXT_UCONTEXT) && defined(__x86_64__)
  return 1;
#elif !defined(CORUN_CONTEXT_UCONTEXT) && defined(__aarch64__)
  return 2;
#else
  return 0;
#endif
}

// offsetof() on the runtime's own types, which are not all standard-layout
// (GCC then warns): the address of a member of a fake object.
template <class T, class M>
std::uint32_t offset_of(M T::*member) {
  alignas(T) static unsigned char storage[sizeof(T)];
  const T* t = reinterpret_cast<const T*>(storage);
  return static_cast<std::uint32_t>(reinterpret_cast<const unsigned char*>(&(t->*member)) -
                                    storage);
}

DebuggerAnchor make_anchor() {
  DebuggerAnchor a;
  a.context_kind = context_kind();
  a.shard_stride = static_cast<std::uint32_t>(LiveRegistry::kShardStride);
  a.shard_head = static_cast<std::uint32_t>(LiveRegistry::kShardHead);
  a.co_id = offset_of(&Coroutine::id);
  a.co_state = offset_of(&Coroutine::state);
  a.co_wait_reason = offset_of(&Coroutine::wait_reason);
  a.co_live_next = offset_of(&Coroutine::live_next);
  a.co_ctx = offset_of(&Coroutine::ctx);
  a.co_stack_base =
      offset_of(&Coroutine::stack) + static_cast<std::uint32_t>(offsetof(Stack, base));
  a.co_stack_size =
      offset_of(&Coroutine::stack) + static_cast<std::uint32_t>(offsetof(Stack, size));
#if defined(CORUN_CONTEXT_UCONTEXT)
  a.uc_gregs = static_cast<std::uint32_t>(offsetof(ucontext_t, uc_mcontext));
#endif
  a.worker_index = offset_of(&Worker::index);
  a.worker_current = offset_of(&Worker::current);
  a.worker_g0 = offset_of(&Worker::g0);
  a.worker_os_thread = offset_of(&Worker::os_thread);
  // The names the deadlock report and the dump print (park.cpp), so that a
  // debugger prints the same ones.
  static const char* names[kReasons];
  for (std::size_t r = 0; r < kReasons; ++r) names[r] = to_string(static_cast<WaitReason>(r));
  a.nreasons = static_cast<std::uint32_t>(kReasons);
  a.reason_names = names;
  return a;
}

}  // namespace

DebuggerEntry::DebuggerEntry(Scheduler& sched) {
  entry_.shards = sched.live_registry().debugger_shards();
  entry_.nshards = sched.live_registry().shards();
  entry_.nworkers = static_cast<std::uint32_t>(sched.workers().size());
  // vector<unique_ptr<Worker>>: a unique_ptr is its pointer.
  static_assert(
      sizeof(std::unique_ptr<Worker>) ==
      sizeof(Worker*));  // NOLINT(bugprone-sizeof-expression): the pointer's size is meant
  entry_.workers = reinterpret_cast<const void* const*>(sched.workers().data());
  std::lock_guard<std::mutex> lk(g_anchor_mu);
  static const bool filled = [] {
    const DebuggerRuntime* keep = corun_debugger_anchor.runtimes;
    corun_debugger_anchor = make_anchor();
    corun_debugger_anchor.runtimes = const_cast<DebuggerRuntime*>(keep);
    return true;
  }();
  (void)filled;
  entry_.next = corun_debugger_anchor.runtimes;
  corun_debugger_anchor.runtimes = &entry_;
}

DebuggerEntry::~DebuggerEntry() {
  std::lock_guard<std::mutex> lk(g_anchor_mu);
  for (DebuggerRuntime** p = &corun_debugger_anchor.runtimes; *p != nullptr; p = &(*p)->next) {
    if (*p == &entry_) {
      *p = entry_.next;
      break;
    }
  }
}

}  // namespace corun::detail

// Filled when the first runtime starts (before that there is nothing to
// find); `used`, so that the linker keeps it in every program.
__attribute__((used)) corun::detail::DebuggerAnchor corun_debugger_anchor{};
