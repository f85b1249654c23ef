// scheduler.cpp: the scheduler: what is between workers (finding work,
// stealing, waking and parking threads) and the switch.
//
// # Model
// corun follows Go's G-M-P scheduler (runtime/proc.go).
//   G  a Coroutine: a stack, saved registers, a body. Cheap: the descriptor
//      is recycled, and the stack is taken from a per-worker cache only when
//      the coroutine first runs, so a million spawned-but-not-started
//      coroutines cost a million descriptors, not a million stacks.
//   P  a Worker: one of `procs` logical processors, with a bounded lock-free
//      run queue (256 slots), a `runnext` slot and a timer heap.
//   M  a Machine (machine.hpp): an OS thread, which runs one worker at a
//      time; its native stack runs the scheduling loop (g0), coroutines run
//      on their own stacks. There are `procs` of them, plus one per
//      blocking call the monitor found stuck: it hands the call's worker to
//      a spare thread (syscall.cpp, spare_threads.hpp).
//
// # Where runnable coroutines live
//   - runnext: a coroutine made runnable by the running one (unparked, or
//     spawned) runs next on the same worker and inherits the time slice.
//     This keeps a producer/consumer pair on one worker, in cache, with no
//     wake-up of another thread: a channel ping-pong costs two switches.
//   - the local ring: everything else runnable on this worker. When full,
//     half of it moves to the global queue (Go's runqputslow).
//   - the global queue: spawns from plain threads and overflow. A worker
//     checks it first on every 61st round (Go's number: a prime, so it does
//     not resonate with program patterns) so it cannot starve, and otherwise
//     when its local queues are empty.
//
// # Switching
// A coroutine that yields, parks or exits switches directly to the next
// runnable coroutine of its worker when there is one (one context switch,
// no detour through g0); only when the worker has nothing local does it
// switch to g0, which may steal or sleep. Whatever must happen to the
// coroutine that switched away (requeue it, run its park commit step, which
// releases the lock its wakers take, free it) happens in PostSwitch on the
// other side of the switch, once its registers are saved: nobody can resume
// a half-saved coroutine.
//
// # Finding work, spinning and parking (the invariants)
// An idle worker (find_runnable) tries, in order: runnext, local ring,
// global queue, expired timers, then steals: 4 passes over all workers in
// random order, taking half of a victim's ring, expired timers of the victim,
// and on the last pass its runnext, if the victim has not switched during a
// short grace (it would have run it itself). A worker doing that is
// "spinning".
//   I1: at most half of the busy workers spin (2*spinning <= busy), so idle
//       workers do not burn the CPUs that busy ones need.
//   I2: when work is made runnable and no worker spins, an idle worker is
//       woken (wakep). A spinning worker that finds work and was the last
//       spinner wakes another (reset_spinning), so newly arriving work keeps
//       finding a spinner.
//   I3 (no lost wake-up): a worker that stops spinning re-checks every queue
//       after decrementing the spinner count, and a worker that parks
//       re-checks after publishing itself idle; a producer publishes its work
//       before reading those counts. Work published with a locked
//       instruction (the global queue) is ordered before those reads, so
//       either the producer sees the idle worker and wakes it, or the worker
//       sees the work (Dekker). Work a worker queues for itself (runnext and
//       its ring, published with plain stores: no fence on the hot path) can
//       lose that race: its producer may read the counts before its store is
//       visible. Nothing is lost for good, since that worker runs the work
//       at its next switch; and should it keep running one coroutine
//       instead, the monitor, every period, wakes a worker for a busy
//       worker's queued work while workers sleep and none spins.
// A parked worker sleeps on a futex, at most until its earliest timer, and
// the monitor (preemption) sleeps while every worker is idle: an idle
// runtime uses no CPU.
//
// # Timers
// A sleeping coroutine's timer goes on the heap of the worker it slept on
// (timer_heap.hpp). Expired timers are run
//   - by their owner: every 8th switch (run_post; a clock read, ~20 ns,
//     on every switch would slow each one), when it runs out of local work, and
//     whenever its coroutine is preempted, before it picks the next one
//     (give_up), so that what they wake runs next;
//   - by idle workers: a parked worker sleeps at most until the earliest
//     timer of any worker, and a spinning one takes a busy worker's expired
//     timers (steal_work);
//   - on the monitor's request: a worker that runs one coroutine while one
//     of its timers is overdue is asked to switch, as at the end of a time
//     slice (with preemption off, an idle worker is woken to take them).
// So a due timer fires within about one monitor period (half a time slice)
// of its deadline whatever runs beside it, as long as the coroutines there
// can be preempted (preempt_point() or a preemptible region). Without the
// last two, two CPU-bound coroutines at procs 1, switching once per time
// slice, held a sleeper 9 slices late. Deadlines saturate
// (detail/deadline.hpp): a huge duration is a deadline never reached, not
// one in the past.
//
// # Shared counters
// Spawning and exiting touch no cache line that other workers write: ids
// come from per-worker batches, the live count is kept as per-worker credit
// against one shared counter (see count_spawn below), recycled descriptors
// move between workers as whole chains. A counter every spawn and exit
// updated was most of a spawn's cost at procs 2 and grew with procs.
//
// # Deadlock
// When the last worker parks (all idle), no coroutine is runnable and no
// timer pending, nothing inside the runtime can ever run again. If a plain
// thread is then blocked in a corun wait, it waits forever: that is Go's
// "all goroutines are asleep - deadlock!", reported with every coroutine's
// wait reason. A plain thread not blocked in corun could still wake a
// coroutine, so without a blocked thread nothing is reported. What the
// runtime cannot see is a thread (or another Runtime) that is not blocked
// now and will wake a coroutine later: the report ends by naming the way
// out for such programs, Config::detect_deadlock = false. corun::run()
// refuses to run inside a coroutine (runtime.hpp) rather than nest a
// runtime whose progress its parent's detector could not see.
//
// # Waking
// ready() is half of every hand-off, so it avoids locked instructions: its
// waker took the coroutine off a wait queue, and until shutdown nobody else
// writes a parked coroutine's state, so a plain store makes it runnable. The
// one exception, shutdown's pinning of parked coroutines, is kept out with
// an asymmetric fence (asymmetric_fence.hpp): the waker announces itself
// and checks a flag with plain instructions; shutdown, once per runtime,
// pays for both sides with a membarrier. See ready().
//
// # Shutdown
// Destroying the runtime cancels parked coroutines: their cancel hook takes
// them out of their wait queue, and they resume with corun::Cancelled thrown
// from the blocking call, so their stacks unwind. A sweep from the
// destroying thread cancels those parked already; a coroutine that parks
// later is cancelled by its own worker right after it switches away (the
// sweep alone could not catch coroutines that keep waking each other).
// A coroutine that never parks is cancelled at its next cancellation point:
// every corun call that waits or polls (cancel.hpp), which reads the preempt
// flag that each sweep sets on every worker. Coroutines never started are
// dropped. Workers stop when no coroutine is left.
//
// # I/O (src/corun/io/)
// Readiness comes from one epoll instance per runtime (netpoll.hpp): a worker
// out of local work polls it without blocking before it steals, and the last
// worker to go idle while coroutines wait on I/O blocks in it instead of on
// its futex (woken through an eventfd). A worker that polls, either way, runs
// the first coroutine it found ready itself and wakes idle workers only for
// the rest (ready_here, as Go's findrunnable): with one request-response
// pair, a wake-up for the first would wake the other worker twice per round
// trip to find nothing. The reads and writes themselves are
// batched per worker (submit_ring.hpp): a coroutine that makes one while
// others are runnable queues it in the worker's io_uring and parks; the
// worker submits the batch in one system call at the end of its turn
// (find_runnable, before anything else, and every 61st pick), the calls
// complete inside it, and their coroutines are made runnable. A worker never
// goes idle with calls queued, and the monitor submits for one that a single
// coroutine has held for a whole period.
//
// # Runtime::wait() from a coroutine
// A coroutine of this runtime waits for all the others: while it waits it is
// counted apart in live_ (see wait_all), so that the count of the others
// reaching zero releases it, and with it every other coroutine waiting so.
//
// # Where the code lives (src/corun/sched/)
//   worker.hpp/.cpp   Worker, the P: its ring, its runnext slot, its timers,
//                     what it runs, its idle/spinning state and caches; the
//                     hot paths (put, pick_local) inline in the header.
//   runnext_slot.hpp  the runnext protocol: the owner's plain swap, the
//                     thieves' announcement and fence.
//   scheduler.cpp     this file: construction, ready(), finding
//                     and stealing work, waking and parking worker threads.
//   switch.cpp        the switch and what follows it (PostSwitch), the
//                     coroutines' own operations (yield, park, exit).
//   bookkeeping.cpp   spawn, descriptors, ids, the live count, wait_all().
//   shutdown.cpp      cancellation, stopping the workers, deadlock reports.
//   live_registry.*   the coroutines that have parked at least once.
//   monitor.*         the watchdog thread; preempt.cpp, the flag and signal
//                     it preempts with.
//   machine.*         a thread apart from the worker it runs: its
//                     thread-local state, its binding to a worker, its
//                     scheduling loop (g0).
//   syscall.cpp, spare_threads.*
//                     blocking calls, hand-off, spare threads.
//   run_queue.*, timer_heap.*, coroutine.hpp   the data structures.
#include "corun/sched/scheduler.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <latch>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "corun/arch/sanitizers.hpp"
#include "corun/diag/fatal.hpp"
#include "corun/diag/trace_waker.hpp"
#include "corun/errors.hpp"
#include "corun/os/asymmetric_fence.hpp"
#include "corun/os/futex.hpp"
#include "corun/preempt.hpp"
#include "corun/sched/machine.hpp"
#include "corun/sched/monitor.hpp"
#include "corun/sync/cancel.hpp"

namespace corun::detail {

namespace {

// kStealPasses: Go's stealTries.
constexpr int kStealPasses = 4;
// kRunnextGrace: before stealing a victim's runnext, give the victim this
// long to run it itself, asleep (Go's usleep(3)), so that a ping-pong pair
// stays together. The sleep, not a busy wait, matters: the kernel rounds
// it up to tens of microseconds (timer slack), during which this worker
// still counts as the spinning one, so the pair's every ready() finds a
// spinner and wakes no thread (I2); a thief that gave up at once would park
// and be woken by a futex call on nearly every hand-off.
constexpr std::chrono::microseconds kRunnextGrace{3};

}  // namespace

// ---------------------------------------------------------------------------
// Construction

Scheduler::Scheduler(const Config& config) : config_(config), stacks_(config.stack_size) {
  if (config_.procs == 0) config_.procs = available_cpus();
  if (config_.procs < 1 || config_.procs > Config::kMaxProcs) {
    throw std::invalid_argument("corun: procs must be 1.." + std::to_string(Config::kMaxProcs) +
                                " (or 0 for all CPUs), got " + std::to_string(config.procs));
  }
  if (config_.stack_size < Config::kMinStackSize || config_.stack_size > Config::kMaxStackSize) {
    throw std::invalid_argument("corun: stack_size must be 16 KiB..1 GiB, got " +
                                std::to_string(config.stack_size) + " bytes");
  }
  config_.stack_size = stacks_.stack_size();
  if (config_.trace) trace_ = std::make_unique<TraceRecorder>(config_.procs, start_ns_);
  if (config_.time_slice < std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("corun: time_slice must be >= 0 (0 turns preemption off)");
  }
  registry_.init(static_cast<std::uint32_t>(config_.procs) + 1);
  WorkerSetup setup{.procs = config_.procs,
                    .time_slice_ns = config_.time_slice.count(),
                    .fast_fence = fast_ready_};
  // CORUN_CHAOS=<seed> in the environment injects random delays and
  // scheduling decisions at scheduling points, to shake out races.
  if (const char* chaos = std::getenv("CORUN_CHAOS"); chaos != nullptr && *chaos != '\0') {
    setup.chaos = true;
    setup.chaos_seed = std::strtoull(chaos, nullptr, 10);
  }
  workers_.reserve(static_cast<std::size_t>(config_.procs));
  for (int i = 0; i < config_.procs; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i, global_, setup));
  }
  install_overflow_handler(&guard_page_of_running);
  std::latch started(config_.procs);
  for (auto& w : workers_) {
    Worker* wp = w.get();
    try {
      Machine* m = &spares_.add();
      wp->thread = std::thread([this, wp, m, &started] {
        const std::string name = "corun-w" + std::to_string(wp->index);  // for ps, top, debuggers
        pthread_setname_np(pthread_self(), name.c_str());
        machine_init(*m);
        bind(*wp, *m);
        started.count_down();
        worker_main(*m);
      });
    } catch (const std::system_error& e) {
      // The threads started so far are joined (they count `started` down
      // first) before the latch and the workers go.
      stop_workers();
      throw std::system_error(e.code(), "cannot start worker thread " +
                                            std::to_string(wp->index + 1) + " of " +
                                            std::to_string(config_.procs));
    } catch (...) {  // std::bad_alloc
      stop_workers();
      throw;
    }
  }
  started.wait();  // the workers' thread-local addresses are now published
  // The monitor preempts (with a time slice), makes up lost wake-ups (with
  // more than one worker; see I3) and hands off the workers of blocking
  // calls (syscall.cpp). It sleeps while every worker is idle.
  {
    try {
      monitor_ = std::make_unique<Monitor>(*this, config_.time_slice);
    } catch (const std::system_error& e) {
      stop_workers();
      throw std::system_error(e.code(), "cannot start the monitor thread");
    } catch (...) {
      stop_workers();
      throw;
    }
  }
}

Scheduler::~Scheduler() {
  shutdown();
  for (auto& w : workers_) DescriptorDepot::delete_chain(w->free_gs);
}

// ---------------------------------------------------------------------------
// Waking

// ready() takes g out of kParked. Its waker took it off the wait queue, so
// until shutdown nobody else writes g's state; shutdown's cancel_parked()
// does, pinning g (kParked -> kCancelling) while it runs g's cancel hook,
// whose context lives on g's stack: a waker must then wait for the pin to
// end (leave_parked). A waker on a worker therefore marks its plain section
// (Worker::readying), checks shutting_down_ and stores plainly; shutdown sets
// shutting_down_, runs the heavy side of an asymmetric fence and waits out
// announced wakers (wait_for_fast_wakers) before its first pin. Either the
// waker sees shutting_down_ and takes the CAS path, or shutdown sees it
// announced and waits. The CAS it saves was a fifth of a channel hand-off.
void Scheduler::ready(Coroutine* g) noexcept { make_ready(g, /*wake_idle=*/true); }

void Scheduler::ready_here(Coroutine* g) noexcept { make_ready(g, /*wake_idle=*/false); }

void Scheduler::make_ready(Coroutine* g, bool wake_idle) noexcept {
  Worker* w = this_worker();
  const bool on_worker = w != nullptr && &w->sched == this;
  if (!on_worker) {
    ready_from_outside(g);
    return;
  }
  if (on_worker && fast_ready_) {
    w->readying.enter();
    const bool plain = !shutting_down_.load(std::memory_order_relaxed);
    if (plain) g->state.store(CoState::kRunnable, std::memory_order_relaxed);
    w->readying.leave();
    if (!plain) leave_parked(g);
  } else {
    leave_parked(g);
  }
  if (trace_) {
    trace_->record(on_worker ? w->index : -1, {.coroutine = g->id,
                                               .arg = trace_waker(on_worker ? w : nullptr),
                                               .kind = TraceKind::kUnblock});
  }
  if (on_worker && !w->chaos_roll(4)) {
    w->put(g, /*next=*/true);
    if (config_.procs == 1) return;  // the only worker is this one, and busy
    if (!wake_idle) return;          // this worker runs it next
    // Under chaos, now and then the wake-up that I3's race can lose is lost.
    if (w->chaos_roll(8)) return;
  } else {
    g->state.store(CoState::kRunnable, std::memory_order_relaxed);
    global_.push(g);
  }
  wakep();
}

// ready_from_outside() is ready() called by a plain thread or by a worker of
// another runtime (a channel between runtimes, Runtime::wait()). Once g is
// queued it may run and finish, and this runtime may be destroyed while the
// waker is still waking a worker here: shutdown waits for such wakers to
// leave (outside_wakers_), whose decrement is their last touch of it.
void Scheduler::ready_from_outside(Coroutine* g) noexcept {
  outside_wakers_.fetch_add(1, std::memory_order_acq_rel);
  leave_parked(g);
  if (trace_) {
    trace_->record(-1,
                   {.coroutine = g->id, .arg = trace_waker(nullptr), .kind = TraceKind::kUnblock});
  }
  g->state.store(CoState::kRunnable, std::memory_order_relaxed);
  global_.push(g);
  wakep();
  outside_wakers_.fetch_sub(1, std::memory_order_release);
}

// leave_parked() is ready()'s CAS path: kParked -> kRunnable, waiting while
// cancel_parked() has g pinned.
void Scheduler::leave_parked(Coroutine* g) noexcept {
  for (CoState s = g->state.load(std::memory_order_relaxed);;) {
    if (s == CoState::kCancelling) {
      cpu_relax();
      s = g->state.load(std::memory_order_relaxed);
    } else if (g->state.compare_exchange_weak(s, CoState::kRunnable, std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
      return;
    }
  }
}

std::int64_t Scheduler::earliest_timer() const noexcept {
  std::int64_t when = TimerHeap::kNever;
  for (const auto& v : workers_) when = std::min(when, v->timers.earliest());
  return when;
}

bool Scheduler::any_work_visible() const noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!global_.empty()) return true;
  for (const auto& v : workers_) {
    if (v->has_local_work()) return true;
  }
  return false;
}

bool Scheduler::any_timer_pending() const noexcept {
  for (const auto& v : workers_) {
    if (!v->timers.empty()) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Stealing, spinning, parking

Coroutine* Scheduler::steal_from(Worker& w, Worker& victim, bool take_runnext) noexcept {
  Coroutine* batch[LocalRunQueue::kCapacity / 2];
  std::uint32_t n = victim.runq.grab_half(batch);
  if (n > 0) {
    if (trace_) {
      trace_->record(w.index, {.coroutine = static_cast<std::uint64_t>(victim.index),
                               .arg = n,
                               .kind = TraceKind::kSteal});
    }
    if (n > 1) w.runq.push_batch(batch + 1, n - 1);
    return batch[0];
  }
  if (!take_runnext) return nullptr;
  Coroutine* g = victim.runnext.load_acquire();
  if (g == nullptr) return nullptr;
  // The victim is probably about to run it: give it a moment. If it has
  // switched meanwhile, it did run it, and whatever the slot holds now was
  // readied since: a pair handing off through the slot (a channel
  // ping-pong) comes back to the same few coroutines, and taking one would
  // split the pair across workers. Take it only from a victim that has
  // kept running one coroutine all along.
  const std::uint64_t switches = victim.switches.load(std::memory_order_relaxed);
  std::this_thread::sleep_for(kRunnextGrace);
  if (victim.switches.load(std::memory_order_relaxed) != switches) return nullptr;
  return victim.runnext.steal(g);
}

Coroutine* Scheduler::steal_work(Worker& w) noexcept {
  const auto n = static_cast<std::uint32_t>(workers_.size());
  for (int pass = 0; pass < kStealPasses; ++pass) {
    const bool last = pass == kStealPasses - 1;
    const auto start = static_cast<std::uint32_t>(w.random() % n);
    for (std::uint32_t i = 0; i < n; ++i) {
      if (stopping_.load(std::memory_order_relaxed)) return nullptr;
      Worker& victim = *workers_[(start + i) % n];
      if (&victim == &w) continue;
      if (last && !victim.timers.empty() && victim.timers.earliest() <= now_ns()) {
        // Fired timers land in this worker's runnext.
        if (victim.run_timers(now_ns())) {
          if (Coroutine* g = w.pick_local()) return g;
        }
      }
      if (Coroutine* g = steal_from(w, victim, last)) return g;
    }
  }
  return nullptr;
}

// wakep() wakes an idle worker to spin, unless one already spins (I2). Work
// published with a sequentially consistent read-modify-write (the global
// queue's size) is ordered before the loads below (I3) with no extra fence;
// work the caller queued on its own worker with plain stores may not be,
// and the monitor makes up what that loses (see I3).
void Scheduler::wakep() noexcept {
  if (nidle_.load(std::memory_order_seq_cst) == 0) return;
  // Read before the CAS: with a spinner about (the common case while work
  // flows), a failing CAS would still take the line from it on every call.
  if (nspinning_.load(std::memory_order_seq_cst) != 0) return;
  int expected = 0;
  if (!nspinning_.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) return;
  idle_lock_.lock();
  Worker* v = idle_head_;
  if (v == nullptr) {
    idle_lock_.unlock();
    nspinning_.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  idle_head_ = v->idle_next;
  v->in_idle_list = false;
  nidle_.fetch_sub(1, std::memory_order_seq_cst);
  v->spinning = true;  // the spinner counted above is v
  v->wake_word.store(1, std::memory_order_release);
  idle_lock_.unlock();
  futex_wake(v->wake_word);
  netpoll_.wake(*v);  // v may be blocked in the poller instead
  monitor_wake();
}

void Scheduler::wake_for_stranded_work(Worker& w) noexcept {
  if (w.has_local_work()) wakep();
}

void Scheduler::reset_spinning(Worker& w) noexcept {
  w.spinning = false;
  if (nspinning_.fetch_sub(1, std::memory_order_seq_cst) == 1) wakep();
}

void Scheduler::park_worker(Worker& w) {
  idle_lock_.lock();
  w.in_idle_list = true;
  w.idle_next = idle_head_;
  idle_head_ = &w;
  const int idle = nidle_.fetch_add(1, std::memory_order_seq_cst) + 1;
  idle_lock_.unlock();

  auto leave_idle_list = [&] {
    idle_lock_.lock();
    if (w.in_idle_list) {
      Worker** p = &idle_head_;
      while (*p != &w) p = &(*p)->idle_next;
      *p = w.idle_next;
      w.in_idle_list = false;
      nidle_.fetch_sub(1, std::memory_order_seq_cst);
    }
    idle_lock_.unlock();
    monitor_wake();
    // If a waker took us off the list, it set wake_word: consume it.
    w.wake_word.store(0, std::memory_order_relaxed);
  };

  if (any_work_visible() || stopping_.load(std::memory_order_seq_cst)) {
    leave_idle_list();
    return;
  }
  if (idle == config_.procs) check_deadlock();

  // Sleep until the earliest timer of any worker: a busy worker may not get
  // round to its own; and not for long while a batched call is late.
  std::int64_t deadline = earliest_timer();
  if (w.io_ring.busy()) deadline = std::min(deadline, now_ns() + kLateCompletionRecheckNs);
  // While coroutines wait on I/O, one idle worker waits in the poller.
  Coroutine* io_ready = nullptr;
  for (bool polled = netpoll_.block(w, deadline, stopping_, io_ready); !polled;) {
    std::int64_t timeout = -1;
    if (deadline != TimerHeap::kNever) {
      timeout = deadline - now_ns();
      if (timeout <= 0) break;
    }
    futex_wait(w.wake_word, 0, timeout);
    if (w.wake_word.load(std::memory_order_acquire) != 0) break;
    if (stopping_.load(std::memory_order_acquire)) break;
  }
  leave_idle_list();
  netpoll_.make_runnable(io_ready, /*first_here=*/true);
}

Coroutine* Scheduler::find_runnable(Worker& w) {
  flush_live_credit(w);  // out of local work: return the share of live_
  for (;;) {
    if (stopping_.load(std::memory_order_acquire)) return nullptr;
    if (w.io_ring.busy()) w.flush_io_ring();
    if (!w.timers.empty()) w.run_timers(now_ns());
    if (Coroutine* g = w.pick_local()) {
      if (w.spinning) reset_spinning(w);
      return g;
    }
    if (netpoll_.poll_ready()) continue;  // I/O made coroutines runnable here
    const int busy = config_.procs - nidle_.load(std::memory_order_relaxed);
    if (w.spinning || 2 * nspinning_.load(std::memory_order_relaxed) < busy) {
      if (!w.spinning) {
        w.spinning = true;
        nspinning_.fetch_add(1, std::memory_order_seq_cst);
      }
      if (Coroutine* g = steal_work(w)) {
        reset_spinning(w);
        return g;
      }
    }
    if (w.spinning) {
      w.spinning = false;
      nspinning_.fetch_sub(1, std::memory_order_seq_cst);
      if (any_work_visible()) {  // I3: re-check after no longer counting as a spinner
        w.spinning = true;
        nspinning_.fetch_add(1, std::memory_order_seq_cst);
        continue;
      }
    }
    park_worker(w);
  }
}

// monitor_wait_while_idle(): the flag is set before the idle count is read,
// and a worker leaving the idle list decrements the count before reading
// the flag (both sequentially consistent, I3's pattern): either the monitor
// sees a busy worker and does not sleep, or the worker sees the flag and
// wakes it. The same holds for `stop` and the monitor's destructor.
void Scheduler::monitor_wait_while_idle(const std::atomic<std::uint32_t>& stop) noexcept {
  monitor_asleep_.store(1, std::memory_order_seq_cst);
  while (monitor_asleep_.load(std::memory_order_seq_cst) != 0 &&
         nidle_.load(std::memory_order_seq_cst) == config_.procs &&
         stop.load(std::memory_order_seq_cst) == 0) {
    futex_wait(monitor_asleep_, 1, -1);
  }
  monitor_asleep_.store(0, std::memory_order_relaxed);
}

}  // namespace corun::detail
