// coroutine.hpp: Coroutine, the runtime's record of one coroutine (Go's G),
// and of a plain thread's stand-in when that thread blocks in a corun wait.
#pragma once

#include <atomic>
#include <cstdint>

#include "context.hpp"
#include "corun/detail/closure.hpp"
#include "corun/detail/park.hpp"
#include "stack_pool.hpp"

namespace corun::detail {

class Scheduler;
class Worker;

enum class CoState : std::uint8_t {
  kRunnable,  // in a run queue (or about to be)
  kRunning,
  kParked,  // in a wait queue; only unpark() or cancellation makes it runnable
  kDead,
};

struct Coroutine {
  Context ctx;                 // registers, while not running
  Coroutine* next = nullptr;   // intrusive link: global run queue, free lists
  Scheduler* sched = nullptr;  // null for a thread's stand-in
  std::uint64_t id = 0;
  std::atomic<CoState> state{CoState::kRunnable};
  WaitReason wait_reason = WaitReason::kNone;
  bool is_thread = false;  // a plain thread's stand-in: blocks on `futex_word`
  bool started = false;    // has run at least once (owns `stack`)
  bool cancelled = false;  // set by shutdown before it unparks the coroutine
  Stack stack;
  Closure body;

  CancelFn cancel_fn = nullptr;  // how shutdown takes it out of its wait queue
  void* cancel_ctx = nullptr;

  // The registry of live coroutines (deadlock reports, shutdown): a doubly
  // linked list per shard, guarded by the shard's lock.
  Coroutine* live_prev = nullptr;
  Coroutine* live_next = nullptr;
  std::uint32_t live_shard = 0;

  // Per-coroutine C++ exception state (__cxa_eh_globals), swapped on each
  // switch so a coroutine can block inside a catch block.
  void* eh_state[2] = {nullptr, nullptr};

  // Sanitizer fiber state (unused unless built with ASan/TSan).
  void* asan_fake_stack = nullptr;
  const void* asan_stack_bottom = nullptr;
  std::size_t asan_stack_size = 0;
  void* tsan_fiber = nullptr;

  // A thread's stand-in blocks here (0: parked, 1: woken).
  std::atomic<std::uint32_t> futex_word{0};
  Scheduler* blocked_in = nullptr;  // runtime whose deadlock count it is in
};

}  // namespace corun::detail
