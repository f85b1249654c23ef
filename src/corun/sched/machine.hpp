// machine.hpp: Machine, one OS thread of the runtime (Go's M), apart from
// the worker it runs (worker.hpp, Go's P).
//
// A thread runs one worker at a time, and a worker is run by one thread at a
// time, but not the same one for life: when a coroutine's thread stays in a
// blocking call (corun::blocking(), syscall.cpp), the monitor hands its
// worker to a spare thread (spare_threads.hpp), and the thread, once the call
// returns, becomes a spare itself. What belongs to the thread stays here: its
// own stack, on which its scheduling loop runs (g0), the C++ exception
// state, its preempt flag, its pthread id. Binding a worker to a thread
// (Scheduler::bind) copies the thread's into the worker, where the switch
// reads them on its hot path without a further indirection.
//
// Who touches what: everything is the thread's own, set once in
// Scheduler::machine_init(); the spare-thread fields are guarded as
// SpareThreads (spare_threads.hpp) says.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "corun/arch/sanitizers.hpp"
#include "corun/sched/coroutine.hpp"

namespace corun::detail {

class Worker;
struct OverflowSite;

struct Machine {
  Machine() {
    g0.started = true;
    g0.state.store(CoState::kRunning, std::memory_order_relaxed);
  }
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  Coroutine g0;                               // the scheduling loop, on the thread's own stack
  sanitizer::FiberStack g0_stack;             // (for AddressSanitizer)
  void** eh_globals = nullptr;                // this thread's C++ exception state
  std::atomic<bool>* preempt_flag = nullptr;  // this thread's t_preempt_requested
  pthread_t os_thread{};

  // A coroutine whose worker was taken while it was in a blocking call:
  // it switches to g0, which makes it runnable elsewhere (Scheduler::
  // requeue_without_worker).
  Coroutine* orphan = nullptr;

  // Spare-thread parking (spare_threads.hpp).
  std::atomic<std::uint32_t> wake_word{0};  // 1: `handed` is set (or a release)
  Worker* handed = nullptr;                 // the worker given to this thread
  Machine* next_spare = nullptr;
  bool reserved = false;  // taken by the monitor; not to be listed as spare
  std::thread thread;     // spare threads only (worker threads: Worker::thread)
};

// eh_swap() keeps C++'s per-thread exception state (the caught-exception
// stack and the uncaught count, two words) per coroutine; `globals` is the
// thread's, looked up once.
inline void eh_swap(void** globals, Coroutine* from, Coroutine* to) noexcept {
  from->eh_state[0] = globals[0];
  from->eh_state[1] = globals[1];
  globals[0] = to->eh_state[0];
  globals[1] = to->eh_state[1];
}

// The machine of the calling thread, or null for a thread outside the
// runtime.
Machine* this_machine() noexcept;

// guard_page_of_running() is the fault handler's OverflowProbe (fatal.hpp):
// does `addr` lie in the guard page of the coroutine running on this thread?
bool guard_page_of_running(const void* addr, OverflowSite* site) noexcept;

}  // namespace corun::detail
