// worker.hpp: Worker, one of the runtime's `procs` logical processors (Go's
// P). An OS thread (Go's M, machine.hpp) runs it, one at a time; which one
// changes when the monitor hands the worker of a thread stuck in a blocking
// call to another (syscall.cpp). The design essay is at the top of
// scheduler.cpp.
//
// A worker owns its runnable coroutines (the ring and the runnext slot), its
// timers, what it is running and the per-worker caches that keep spawning
// and exiting off shared cache lines. Its hot operations (put, pick_local)
// are inline here, and always inlined: the release build has no link-time
// optimisation, a yield or a channel hand-off passes through them on every
// switch, and GCC's inliner, which limits growth relative to the size of
// the translation unit, left them out of line in the small switch.cpp.
//
// Who touches what (the owner is the thread that runs the worker now; fields
// not listed are the owner's alone, and pass to the next owner with the
// hand-off's compare-and-swap on blocking_call):
//   runq      the owner pushes and pops; thieves take half (run_queue.hpp).
//   runnext   the owner swaps; thieves steal (runnext_slot.hpp).
//   timers    any thread, under the heap's lock (timer_heap.hpp).
//   wake_word, idle_next, in_idle_list
//             under Scheduler::idle_lock_ while in the idle list; the owner
//             sleeps on wake_word, wakep() sets it.
//   spinning  the owner, and wakep() for a worker it takes off the idle
//             list (which is asleep until then).
//   switches, running
//             written by the owner, read by the monitor.
//   g0, g0_stack, eh_globals, preempt_flag, os_thread
//             the owner thread's own (Machine), copied in when a thread
//             takes the worker (Scheduler::bind); the monitor and shutdown
//             read preempt_flag and os_thread, and set the flag.
//   blocking_call
//             the owner stores, the owner or the monitor clears (one CAS,
//             syscall.cpp).
//   live_credit
//             written by the owner, read by Runtime::live() from anywhere.
//   readying  the owner's ready() section, waited out by shutdown (below).
//   io_ring   the owner's alone (submit_ring.hpp); lagging() is read by the
//             deadlock check.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "corun/arch/sanitizers.hpp"
#include "corun/detail/park.hpp"
#include "corun/detail/spin_lock.hpp"
#include "corun/io/submit_ring.hpp"
#include "corun/memory/stack_pool.hpp"
#include "corun/os/plain_section.hpp"
#include "corun/sched/coroutine.hpp"
#include "corun/sched/run_queue.hpp"
#include "corun/sched/runnext_slot.hpp"
#include "corun/sched/timer_heap.hpp"

namespace corun::detail {

class Scheduler;

// kGlobalQueueInterval: Go checks the global queue first on every 61st
// schedule, so it cannot starve behind busy local queues.
inline constexpr std::uint32_t kGlobalQueueInterval = 61;
// kRunnextFirstCheck/kRunnextMaxInterval: a streak of runnext picks is first
// timed at its 2nd pick (a single hand-off never reads the clock), then at
// most every 16th pick (a clock read costs ~20 ns).
inline constexpr std::uint32_t kRunnextFirstCheck = 2;
inline constexpr std::uint32_t kRunnextMaxInterval = 16;

// PostSwitch is what the execution switched to must do first on behalf of
// the one that switched away, once that one's registers are saved: only then
// may it be requeued, unlocked for its wakers, or freed.
struct PostSwitch {
  // kUnlock: g parked; run its commit step (park.hpp), commit(commit_ctx).
  enum Kind : std::uint8_t { kNone, kRequeue, kPreempt, kUnlock, kExit };
  Kind kind = kNone;
  Coroutine* g = nullptr;
  ParkCommit commit = nullptr;
  void* commit_ctx = nullptr;
};

// WorkerSetup: what a worker's queues need from the runtime's configuration,
// fixed before its thread starts.
struct WorkerSetup {
  int procs = 1;
  std::int64_t time_slice_ns = 0;  // 0: runnext streaks are not timed
  bool fast_fence = false;         // asymmetric_fence::available()
  bool chaos = false;              // CORUN_CHAOS is set
  std::uint64_t chaos_seed = 0;
};

class Worker {
 public:
  Worker(Scheduler& sched, int index, GlobalRunQueue& global, const WorkerSetup& setup);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // running_coroutine(): the coroutine running on this worker, or null
  // while the scheduling loop (g0) runs. on_g0() is its negation.
  Coroutine* running_coroutine() const noexcept { return current != g0 ? current : nullptr; }
  bool on_g0() const noexcept { return current == g0; }

  // has_local_work(): runnable coroutines wait in runq or runnext (a
  // snapshot when read by other threads).
  bool has_local_work() const noexcept { return !runq.empty() || runnext.occupied(); }

  // put() makes g runnable here (owner only): in runnext with `next` (what
  // was there goes to the ring), else at the back of the ring; a full ring
  // moves half of itself to the global queue.
  [[gnu::always_inline]] void put(Coroutine* g, bool next) noexcept {
    g->state.store(CoState::kRunnable, std::memory_order_relaxed);
    if (next) {
      g = swap_runnext(g);
      if (g == nullptr) return;  // the kicked-out runnext goes to the ring
    }
    if (!runq.push(g)) put_slow(g);
  }

  // pick_local() finds work without leaving the current stack: runnext, the
  // ring, the global queue (first on every kGlobalQueueInterval-th round,
  // which also flushes io_ring: a worker whose run queue never empties
  // still submits its coroutines' system calls). Null when there is none. It runs no timers: its
  // caller may hold a wait-queue lock that a timer's firing would take (a flush takes none).
  [[gnu::always_inline]] Coroutine* pick_local() noexcept {
    ++tick;
    if (--global_countdown == 0) {
      global_countdown = kGlobalQueueInterval;
      if (io_ring.busy()) [[unlikely]]
        flush_io_ring();
      std::uint32_t n;
      if (Coroutine* g = global_.pop_batch(nullptr, 1, n)) return g;
    }
    // Thieves rarely touch runnext: look before paying for the exchange.
    if (runnext.peek() != nullptr) {
      if (Coroutine* g = swap_runnext(nullptr)) {
        if (++runnext_streak < runnext_check || !runnext_slice_spent()) return g;
        // The hand-off chain has had its time slice: g goes to the back.
        if (!runq.push(g)) put_slow(g);
      }
    }
    runnext_streak = 0;
    runnext_check = kRunnextFirstCheck;
    // With one worker no thief reaches the ring (nor runnext).
    if (Coroutine* g = alone_ ? runq.pop_unshared() : runq.pop()) return g;
    if (!global_.empty()) return pick_global();
    return nullptr;
  }

  // flush_io_ring() submits the system calls queued in io_ring and makes
  // the coroutines whose calls completed runnable (owner only).
  void flush_io_ring() noexcept;

  // run_timers() fires this worker's timers due at `now` (any thread may);
  // true when one fired.
  bool run_timers(std::int64_t now) noexcept { return timers.run_expired(now) > 0; }

  // random(): the worker's xorshift generator (victim order, chaos).
  std::uint64_t random() noexcept {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  }
  // chaos_roll(): under CORUN_CHAOS, true one time in `one_in`.
  bool chaos_roll(std::uint32_t one_in) noexcept { return chaos_ && random() % one_in == 0; }
  bool chaos() const noexcept { return chaos_; }
  // chaos_delay() spins a random while, now and then losing the CPU.
  void chaos_delay() noexcept;

  Scheduler& sched;
  const int index;

  LocalRunQueue runq;
  RunnextSlot runnext;
  TimerHeap timers;
  SubmitRing io_ring;  // its coroutines' batched socket calls (submit_ring.hpp)

  Coroutine* g0 = nullptr;         // the owner thread's scheduling loop (Machine::g0)
  sanitizer::FiberStack g0_stack;  // (for AddressSanitizer)
  Coroutine* current = nullptr;    // what runs now (g0 when scheduling)
  PostSwitch post;
  std::uint32_t tick = 0;  // scheduling rounds
  std::uint32_t global_countdown =
      kGlobalQueueInterval;  // rounds until the global queue goes first
  // A chain of runnext hand-offs shares one time slice (runnext_slice_spent).
  std::uint32_t runnext_streak = 0;  // consecutive picks from runnext
  std::uint32_t runnext_check =
      kRunnextFirstCheck;          // the streak length at which to read the clock next
  std::int64_t runnext_since = 0;  // when the streak was first timed
  void** eh_globals = nullptr;     // the owner thread's C++ exception state
  std::uint64_t rng;

  // Parking (guarded by Scheduler::idle_lock_ while in the idle list).
  std::atomic<std::uint32_t> wake_word{0};
  Worker* idle_next = nullptr;
  bool in_idle_list = false;
  bool spinning = false;

  // Preemption (preempt.cpp, monitor.cpp): written by the owner, read by the
  // monitor.
  std::atomic<std::uint64_t> switches{0};
  std::atomic<bool> running{false};                       // a coroutine (not g0) runs
  std::atomic<std::atomic<bool>*> preempt_flag{nullptr};  // the owner's t_preempt_requested
  // Set by the monitor when one coroutine held the worker a whole period:
  // the next socket call is made at once, and io_ring flushed, instead of
  // waiting for the end of a turn that has already been long (fd.cpp,
  // try_batched).
  std::atomic<bool> io_turn_over{false};
  std::atomic<pthread_t> os_thread{};

  // Blocking calls (syscall.cpp): the number of the call the owner thread
  // is in, or 0; and the owner's count of calls, whence the numbers.
  std::atomic<std::uint64_t> blocking_call{0};
  std::uint64_t blocking_calls = 0;

  // ready()'s plain section, against shutdown: the owner's ready() stores a
  // parked coroutine's state with plain instructions inside it, unless
  // shutdown has begun; shutdown, which pins parked coroutines with a CAS,
  // waits every worker's section out before its first pin (see
  // Scheduler::ready() and wait_for_fast_wakers()).
  PlainSection readying;

  // Batches of shared counters, so that spawning and exiting touch no
  // cache line shared with other workers (Go's goidcache): ids handed out
  // from [id_next, id_end), and this worker's share of Scheduler::live_
  // (see count_spawn() in bookkeeping.cpp). Owner-written; live_credit is
  // atomic only so that Runtime::live() may read it from elsewhere.
  std::uint64_t id_next = 0;
  std::uint64_t id_end = 0;
  std::atomic<std::int64_t> live_credit{0};

  std::vector<Stack> stack_cache;  // owner only
  Coroutine* free_gs = nullptr;    // owner only: recycled descriptors
  std::uint32_t nfree_gs = 0;

  std::thread thread;  // the thread started for this worker (it may run another later)

 private:
  Coroutine* swap_runnext(Coroutine* g) noexcept {
    return runnext.swap(g, [this] {
      if (chaos_roll(8)) chaos_delay();  // widens the window thieves race in
    });
  }
  bool runnext_slice_spent() noexcept;
  void put_slow(Coroutine* g) noexcept;
  Coroutine* pick_global() noexcept;

  GlobalRunQueue& global_;
  const std::int64_t time_slice_ns_;
  const int procs_;
  const bool alone_;  // the only worker: no thieves
  const bool chaos_;
};

}  // namespace corun::detail
