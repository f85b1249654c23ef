// running_stacks.cpp: backtraces of running coroutines, by a signal to
// their worker threads (see running_stacks.hpp).
#include "corun/diag/running_stacks.hpp"

#include <pthread.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigaction, pthread_sigqueue
#include <time.h>    // NOLINT(modernize-deprecated-headers): POSIX nanosleep

#include <array>
#include <atomic>
#include <cerrno>
#include <mutex>

#include "corun/sched/scheduler.hpp"

namespace corun::detail {

namespace {

// A request's life: kFree -> kClaimed (the dumper fills it) -> kAsked (the
// signal is on its way) -> kWriting (the handler walks) -> kAnswered (the
// dumper reads it) -> kFree; or kAsked -> kAbandoned (the dumper gave up)
// -> kFree (the late handler, which writes nothing).
enum SlotState : int { kFree, kClaimed, kAsked, kWriting, kAnswered, kAbandoned };

struct Slot {
  std::atomic<int> state{kFree};
  const LoadedSegments* segments = nullptr;
  std::uint64_t id = 0;
  std::size_t n = 0;
  void* pcs[kMaxFrames] = {};
};

// kSlots: requests in flight at once, all dumps together; workers beyond
// them are counted as not answering.
constexpr int kSlots = 256;
std::array<Slot, kSlots> g_slots;

int stack_signal() noexcept { return SIGRTMIN + 4; }

std::uintptr_t interrupted_sp(const ucontext_t& uc) noexcept {
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(uc.uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(uc.uc_mcontext.sp);
#else
  (void)uc;
  return 0;
#endif
}

void answer(Slot& slot, const ucontext_t& uc) noexcept {
  int expected = kAsked;
  if (!slot.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire)) {
    if (expected == kAbandoned) slot.state.store(kFree, std::memory_order_release);
    return;
  }
  slot.id = 0;
  slot.n = 0;
  Worker* w = this_worker();
  const Coroutine* g = w != nullptr ? w->running_coroutine() : nullptr;
  if (g != nullptr) {
    const auto lo = reinterpret_cast<std::uintptr_t>(g->stack.base);
    const auto hi = reinterpret_cast<std::uintptr_t>(g->stack.top());
    const std::uintptr_t sp = interrupted_sp(uc);
    // Interrupted on that coroutine's stack (not in the switch to or from
    // it, nor in the scheduling loop): its frames are there.
    if (sp >= lo && sp < hi) {
      slot.n = walk_machine_context(uc, lo, hi, *slot.segments, slot.pcs, kMaxFrames);
      slot.id = g->id;
    }
  }
  slot.state.store(kAnswered, std::memory_order_release);
}

void on_stack_signal(int, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  const int i = info->si_value.sival_int;
  if (info->si_code == SI_QUEUE && i >= 0 && i < kSlots) {
    answer(g_slots[static_cast<std::size_t>(i)], *static_cast<const ucontext_t*>(uctx));
  }
  errno = saved_errno;
}

bool install_handler() noexcept {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_stack_signal;
    // On the worker's alternate stack (fatal.cpp's) where it has one: the
    // coroutine's may be nearly full.
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ok = sigaction(stack_signal(), &sa, nullptr) == 0;
  });
  return ok;
}

int claim_slot() noexcept {
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (g_slots[static_cast<std::size_t>(i)].state.compare_exchange_strong(
            expected, kClaimed, std::memory_order_acquire)) {
      return i;
    }
  }
  return -1;
}

void collect(Slot& slot, RunningStacks& out) {
  if (slot.id != 0) {
    // (Parentheses: braces would make a list of the two pointers.)
    out.stacks.push_back(RunningStack{slot.id, std::vector<void*>(slot.pcs, slot.pcs + slot.n)});
  }
  slot.state.store(kFree, std::memory_order_release);
}

}  // namespace

RunningStacks sample_running_stacks(Scheduler& sched, const LoadedSegments& segments,
                                    std::chrono::milliseconds limit) {
  RunningStacks out;
  if (!install_handler()) return out;
  const pthread_t self = pthread_self();
  std::vector<int> asked;
  for (const auto& w : sched.workers()) {
    if (!w->running.load(std::memory_order_relaxed)) continue;
    const pthread_t thread = w->os_thread.load(std::memory_order_relaxed);
    if (pthread_equal(thread, self) != 0) continue;  // the dump shows its own stack
    const int i = claim_slot();
    if (i < 0) {
      ++out.unanswered;
      continue;
    }
    Slot& slot = g_slots[static_cast<std::size_t>(i)];
    slot.segments = &segments;
    slot.state.store(kAsked, std::memory_order_release);
    sigval value{};
    value.sival_int = i;
    if (pthread_sigqueue(thread, stack_signal(), value) != 0) {
      slot.state.store(kFree, std::memory_order_release);  // the thread is gone
      continue;
    }
    asked.push_back(i);
  }

  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    bool all = true;
    for (int i : asked) {
      if (g_slots[static_cast<std::size_t>(i)].state.load(std::memory_order_acquire) != kAnswered) {
        all = false;
        break;
      }
    }
    if (all || std::chrono::steady_clock::now() >= deadline) break;
    const timespec pause{0, 200'000};  // 0.2 ms: a handler takes microseconds
    nanosleep(&pause, nullptr);
  }
  for (int i : asked) {
    Slot& slot = g_slots[static_cast<std::size_t>(i)];
    int expected = kAsked;
    if (slot.state.compare_exchange_strong(expected, kAbandoned, std::memory_order_acq_rel)) {
      ++out.unanswered;
      continue;
    }
    // Answered, or being answered: a walk takes microseconds.
    while (slot.state.load(std::memory_order_acquire) != kAnswered) {
      const timespec pause{0, 50'000};
      nanosleep(&pause, nullptr);
    }
    collect(slot, out);
  }
  return out;
}

}  // namespace corun::detail
