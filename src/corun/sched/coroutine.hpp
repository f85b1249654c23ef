// coroutine.hpp: Coroutine, the runtime's record of one coroutine (Go's G),
// and of a plain thread's stand-in when that thread blocks in a corun wait.
#pragma once

#include <atomic>
#include <cstdint>

#include "corun/arch/context.hpp"
#include "corun/detail/closure.hpp"
#include "corun/detail/park.hpp"
#include "corun/memory/stack_pool.hpp"

namespace corun::detail {

class Scheduler;
class Worker;

enum class CoState : std::uint8_t {
  kRunnable,  // in a run queue (or about to be)
  kRunning,
  kParked,      // in a wait queue; only unpark() or cancellation makes it runnable
  kCancelling,  // parked, with shutdown running its cancel hook: unpark() waits
  kDead,
};

// Coroutine is kept small (168 bytes): a million spawned coroutines that have
// not run yet cost a million of these and nothing else; on this kind of
// machine every fresh page costs a page fault of ~10 us.
struct Coroutine {
  Context ctx;                 // registers, while not running
  Coroutine* next = nullptr;   // intrusive link: global run queue, free lists
  Scheduler* sched = nullptr;  // null for a thread's stand-in
  std::uint64_t id = 0;
  std::atomic<CoState> state{CoState::kRunnable};
  WaitReason wait_reason = WaitReason::kNone;
  bool is_thread = false;   // a ThreadWaiter: a plain thread's stand-in
  bool started = false;     // has run at least once (owns `stack`)
  bool cancelled = false;   // set by shutdown before it unparks the coroutine
  bool registered = false;  // in the registry of parked-at-least-once coroutines
  std::uint16_t live_shard = 0;
  std::uint8_t preempt_depth = 0;  // nesting of PreemptibleRegion (preempt.hpp)
  // Between being preempted and being back from the switch that resumes it
  // (Scheduler::preempt): the signal handler must not preempt it again.
  bool preempting = false;
  // When a coroutine dump first saw this wait (ms since the runtime's
  // start, plus one), or 0: park() clears it (coroutine_dump.cpp).
  std::atomic<std::uint32_t> wait_seen_ms{0};
  Stack stack;
  Closure body;

  CancelFn cancel_fn = nullptr;  // how shutdown takes it out of its wait queue
  void* cancel_ctx = nullptr;

  // The registry (deadlock reports, shutdown) holds every coroutine that has
  // parked at least once: a doubly linked list per worker shard, guarded by
  // the shard's lock. Coroutines that never block never touch it.
  Coroutine* live_prev = nullptr;
  Coroutine* live_next = nullptr;

  // Per-coroutine C++ exception state (__cxa_eh_globals), swapped on each
  // switch so a coroutine can block inside a catch block.
  void* eh_state[2] = {nullptr, nullptr};

#if defined(CORUN_SANITIZE_ADDRESS)
  void* asan_fake_stack = nullptr;
#endif
#if defined(CORUN_SANITIZE_THREAD)
  void* tsan_fiber = nullptr;
#endif
};

// ThreadWaiter stands in for a plain thread blocked in a corun wait: wait
// queues hold it like a coroutine; it blocks on a futex instead of switching.
struct ThreadWaiter : Coroutine {
  ThreadWaiter() {
    is_thread = true;
    started = true;
  }
  std::atomic<std::uint32_t> futex_word{0};  // 0: parked, 1: woken
  Scheduler* blocked_in = nullptr;           // runtime whose deadlock count it is in
};

}  // namespace corun::detail
