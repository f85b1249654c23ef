// scheduler.hpp: Scheduler, what is shared between the runtime's workers
// (worker.hpp): the global run queue, the idle and spinning workers, the
// live count and the registry of live coroutines, shutdown. The design
// essay is at the top of scheduler.cpp; the member functions are defined by
// idea in scheduler.cpp (finding work, waking, switching), bookkeeping.cpp
// (coroutine descriptors, ids, the live count, wait_all) and shutdown.cpp
// (cancellation, stopping, deadlock reports).
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "corun/config.hpp"
#include "corun/diag/trace_recorder.hpp"
#include "corun/io/netpoll.hpp"
#include "corun/memory/descriptor_depot.hpp"
#include "corun/memory/stack_pool.hpp"
#include "corun/os/asymmetric_fence.hpp"
#include "corun/os/futex.hpp"
#include "corun/sched/coroutine.hpp"
#include "corun/sched/live_registry.hpp"
#include "corun/sched/run_queue.hpp"
#include "corun/sched/spare_threads.hpp"
#include "corun/sched/timer_heap.hpp"
#include "corun/sched/worker.hpp"

namespace corun::detail {

class Monitor;

// ParkArgs: a park() (corun/detail/park.hpp) as the scheduler gets it.
struct ParkArgs {
  ParkCommit commit;
  void* commit_ctx;
  WaitReason reason;
  CancelFn cancel;
  void* cancel_ctx;
};

class Scheduler {
 public:
  explicit Scheduler(const Config& config);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  std::uint64_t spawn(Closure&& body);
  void wait_all();
  void shutdown();

  // The operations coroutines perform on themselves (the caller is the
  // running coroutine on worker `w`).
  void yield(Worker& w);
  // give_way() is yield() that is no cancellation point: for runtime code
  // that must wait for another coroutine, also during shutdown and while an
  // exception unwinds (Fd::close() waiting for the calls it woke).
  void give_way(Worker& w) { give_up(w, PostSwitch::kRequeue); }
  // preempt() is yield() on the monitor's request; from a signal handler it
  // never throws.
  void preempt(Worker& w, bool from_signal);
  void park(Worker& w, const ParkArgs& a);
  [[noreturn]] void exit_current(Worker& w);

  // ready() makes a parked coroutine runnable (Go's goready).
  void ready(Coroutine* g) noexcept;
  // ready_here() is ready() for a coroutine that the calling worker, out of
  // work, runs next (the first of what its poll found): no idle worker is
  // woken for it, as Go's findrunnable returns the first goroutine of a
  // poll itself and wakes others only for the rest.
  void ready_here(Coroutine* g) noexcept;

  // Plain threads blocked in corun waits (for deadlock detection): begin
  // before the waiter becomes findable, end when it is woken, and check once
  // the waiter's lock is released.
  void external_block_begin() noexcept {
    external_blocked_.fetch_add(1, std::memory_order_seq_cst);
  }
  void external_block_end() noexcept { external_blocked_.fetch_sub(1, std::memory_order_seq_cst); }
  void maybe_check_deadlock() noexcept;

  // wake_for_stranded_work(): the monitor's call for a worker that has run
  // one coroutine for a whole monitor period. If its queues hold work while
  // other workers sleep and none spins, one is woken to take it: the backstop
  // of I3 (see the essay in scheduler.cpp).
  void wake_for_stranded_work(Worker& w) noexcept;
  // wake_for_timers(): the monitor's call, with preemption off, for a busy
  // worker whose timers are overdue: an idle worker woken to spin takes
  // them (steal_work), having slept past them with an older deadline.
  void wake_for_timers() noexcept { wakep(); }

  // The monitor sleeps while every worker is idle (Go parks sysmon the same
  // way), so that an idle runtime never wakes up: monitor_wait_while_idle()
  // returns once a worker has left the idle list or `stop` is set, and
  // monitor_wake() ends the wait (called by whoever takes a worker out of
  // the idle list, and when the monitor stops).
  void monitor_wait_while_idle(const std::atomic<std::uint32_t>& stop) noexcept;
  void monitor_wake() noexcept {
    if (monitor_asleep_.load(std::memory_order_seq_cst) != 0 &&
        monitor_asleep_.exchange(0, std::memory_order_seq_cst) != 0) {
      futex_wake(monitor_asleep_);
    }
  }

  const Config& config() const noexcept { return config_; }
  const std::vector<std::unique_ptr<Worker>>& workers() const noexcept { return workers_; }
  int procs() const noexcept { return config_.procs; }
  // live(): coroutines spawned and not finished (exact once the workers
  // are idle; while they run, a snapshot).
  std::size_t live() const noexcept;
  bool shutting_down() const noexcept { return shutting_down_.load(std::memory_order_acquire); }
  std::vector<TraceEvent> trace() const;
  std::int64_t start_ns() const noexcept { return start_ns_; }
  NetPoller& netpoller() noexcept { return netpoll_; }

  // Blocking calls (syscall.cpp): the monitor's retake of a worker whose
  // thread is in call number `call`, and what a thread whose worker was
  // taken does when the call returns.
  bool should_retake(Worker& w, std::int64_t call_ns) const noexcept;
  bool hand_off(Worker& w, std::uint64_t call) noexcept;
  void resume_without_worker(Coroutine* g) noexcept;
  std::size_t spare_threads() const { return spares_.threads(); }

  // For the diagnostics (src/corun/diag: the coroutine dump, schedtrace):
  // the registry, and snapshots of the shared counts, read without locks.
  LiveRegistry& live_registry() noexcept { return registry_; }
  const SpareThreads& threads() const noexcept { return spares_; }  // every thread's Machine
  int idle_workers() const noexcept { return nidle_.load(std::memory_order_relaxed); }
  int spinning_workers() const noexcept { return nspinning_.load(std::memory_order_relaxed); }
  std::int64_t global_queue_length() const noexcept { return global_.size(); }
  bool has_monitor() const noexcept { return monitor_ != nullptr; }

  // Internal to the scheduler's files.
  void machine_init(Machine& m);
  void bind(Worker& w, Machine& m) noexcept;
  void worker_main(Machine& m);
  void run_post(Worker& w) noexcept;
  [[gnu::noinline]] void run_post_action(Worker& w) noexcept;
  static void coroutine_entry(void* arg);

 private:
  Coroutine* pick_next(Worker& w) noexcept;
  void drop_unstarted(Worker& w, Coroutine* g) noexcept;
  Coroutine* find_runnable(Worker& w);
  Coroutine* steal_work(Worker& w) noexcept;
  Coroutine* steal_from(Worker& w, Worker& victim, bool take_runnext) noexcept;
  void ready_from_outside(Coroutine* g) noexcept;
  // make_ready(): ready() and ready_here() (wake_idle false).
  [[gnu::always_inline]] inline void make_ready(Coroutine* g, bool wake_idle) noexcept;
  void leave_parked(Coroutine* g) noexcept;
  void wait_for_fast_wakers() noexcept;
  bool any_work_visible() const noexcept;
  bool any_timer_pending() const noexcept;
  std::int64_t earliest_timer() const noexcept;
  void wakep() noexcept;
  void reset_spinning(Worker& w) noexcept;
  void requeue_without_worker(Machine& m) noexcept;
  void park_worker(Worker& w);
  void switch_to(Worker& w, Coroutine* from, Coroutine* to);
  [[gnu::noinline]] void switch_to_slow(Worker& w, Coroutine* from, Coroutine* to);
  void switch_now(Worker& w, Coroutine* from, Coroutine* to);
  void give_up(Worker& w, PostSwitch::Kind why);
  void prepare_first_run(Worker& w, Coroutine* g);
  Coroutine* new_coroutine(Worker* w);
  void free_coroutine(Worker& w, Coroutine* g) noexcept;
  void on_exit(Worker& w, Coroutine* g) noexcept;
  std::uint64_t next_id(Worker* w) noexcept;
  void count_spawn(Worker* w) noexcept;
  void count_exit(Worker& w) noexcept;
  void flush_live_credit(Worker& w) noexcept;
  void live_sub(std::int64_t n) noexcept;
  std::vector<Coroutine*> take_released_waiters_locked() noexcept;
  static bool cancel_wait_all(Coroutine* g, void* self) noexcept;
  void request_cancellation() noexcept;
  void cancel_parked() noexcept;
  static bool try_pin(Coroutine* g) noexcept;
  void cancel_pinned(Coroutine* g) noexcept;
  void cancel_after_park(Coroutine* g, ParkCommit commit, void* commit_ctx) noexcept;
  void trace_switch(Worker& w, Coroutine* from, Coroutine* to) noexcept;
  void stop_workers() noexcept;
  void check_deadlock() noexcept;
  [[noreturn]] void report_deadlock() noexcept;

  Config config_;
  StackPool stacks_;
  std::vector<std::unique_ptr<Worker>> workers_;
  GlobalRunQueue global_;

  // Shared counters, each on its own cache line, away from the flags that
  // every worker reads (shutting_down_, stopping_). live_ holds, in its low
  // kWaitingShift bits, the live coroutines not waiting in wait_all() plus
  // the workers' credits, and above them the coroutines of this runtime
  // waiting in wait_all() (see wait_all()): zero when all have finished.
  static constexpr int kWaitingShift = 40;
  static constexpr std::int64_t kLiveMask = (std::int64_t{1} << kWaitingShift) - 1;
  alignas(64) std::atomic<std::int64_t> live_{0};
  alignas(64) std::atomic<std::uint64_t> next_id_{1};
  alignas(64) std::atomic<bool> shutting_down_{false};
  std::atomic<bool> stopping_{false};
  const std::int64_t start_ns_ = now_ns();  // the trace's zero
  // fast_ready_: ready() on a worker may skip its CAS (asymmetric fence).
  const bool fast_ready_ = asymmetric_fence::available();
  std::unique_ptr<TraceRecorder> trace_;  // null unless Config::trace
  std::unique_ptr<Monitor> monitor_;      // null only while the runtime starts

  // Idle workers (Go's sched.pidle) and spinning ones (sched.nmspinning):
  // idle_head_ and the idle workers' idle_next/in_idle_list are guarded by
  // idle_lock_; the counts are read without it.
  SpinLock idle_lock_;
  Worker* idle_head_ = nullptr;
  std::atomic<int> nidle_{0};
  std::atomic<int> nspinning_{0};
  std::atomic<std::uint32_t> monitor_asleep_{0};  // 1: in monitor_wait_while_idle()

  std::atomic<int> external_blocked_{0};
  std::atomic<int> blocked_calls_{0};   // coroutines in a call whose worker was taken
  std::atomic<int> outside_wakers_{0};  // in ready_from_outside()
  std::mutex deadlock_mu_;

  // Coroutines that have parked at least once: one shard per worker plus
  // one spare (live_registry.hpp).
  LiveRegistry registry_;

  // wait_all() waiters (guarded by all_done_lock_): plain threads and other
  // runtimes' coroutines, woken when live_ is zero, and this runtime's
  // coroutines, woken when only waiters are left.
  SpinLock all_done_lock_;
  std::vector<Coroutine*> all_done_waiters_;
  std::vector<Coroutine*> own_waiters_;
  std::mutex all_done_mu_;
  std::condition_variable all_done_cv_;

  // Recycled descriptors beyond the workers' own free lists.
  DescriptorDepot free_depot_;

  // Every thread's record (Machine), and the threads that run no worker.
  SpareThreads spares_{*this};
  NetPoller netpoll_{*this};  // I/O waits (src/corun/io/netpoll.hpp)
};

// The worker running on this thread, or null (not cached across switches:
// a coroutine may resume on another thread). set_this_worker(): when the
// thread takes a worker, or leaves it for a blocking call.
Worker* this_worker() noexcept;
void set_this_worker(Worker* w) noexcept;

// The scheduler a plain thread last used (for deadlock attribution).
void attach_thread(Scheduler* sched) noexcept;
Scheduler* attached_scheduler() noexcept;

}  // namespace corun::detail
