// scheduler.cpp: the scheduler.
//
// # Model
// corun follows Go's G-M-P scheduler (runtime/proc.go), minus the M/P split.
//   G  a Coroutine: a stack, saved registers, a body. Cheap: the descriptor
//      is recycled, and the stack is taken from a per-worker cache only when
//      the coroutine first runs, so a million spawned-but-not-started
//      coroutines cost a million descriptors, not a million stacks.
//   P  a Worker: one of `procs` logical processors, with a bounded lock-free
//      run queue (256 slots), a `runnext` slot and a timer heap.
//   M  each Worker owns one OS thread. Its native stack runs the scheduling
//      loop (g0); coroutines run on their own stacks.
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
// # Runtime::wait() from a coroutine
// A coroutine of this runtime waits for all the others: while it waits it is
// counted apart in live_ (see wait_all), so that the count of the others
// reaching zero releases it, and with it every other coroutine waiting so.
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

#include "corun/os/asymmetric_fence.hpp"
#include "corun/sync/cancel.hpp"
#include "corun/errors.hpp"
#include "corun/preempt.hpp"
#include "corun/diag/fatal.hpp"
#include "corun/os/futex.hpp"
#include "corun/sched/monitor.hpp"
#include "corun/arch/sanitizers.hpp"

extern "C" void* __cxa_get_globals() noexcept;

namespace corun::detail {

namespace {

// kTimerCheckInterval: how often a busy worker reads the clock for timers
// when its run queue still has work (a clock read costs ~20 ns).
constexpr std::uint32_t kTimerCheckMask = 7;
// kRunnextFirstCheck/kRunnextMaxInterval: a streak of runnext picks is first
// timed at its 2nd pick (a single hand-off never reads the clock), then at
// most every 16th pick (a clock read costs ~20 ns).
constexpr std::uint32_t kRunnextFirstCheck = 2;
constexpr std::uint32_t kRunnextMaxInterval = 16;
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
// Per-worker caches.
constexpr std::size_t kStackCacheMax = 64;
constexpr std::uint32_t kFreeGsMax = 256;
constexpr std::uint32_t kFreeGsBatch = 128;
// Batches of the shared counters taken per worker (Go's _GoidCacheBatch).
constexpr std::uint64_t kIdBatch = 16;
constexpr std::int64_t kLiveCreditBatch = 64;

thread_local Worker* t_worker = nullptr;
thread_local Scheduler* t_attached = nullptr;

std::uint64_t next_random(std::uint64_t& s) noexcept {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

// eh_swap() keeps C++'s per-thread exception state (the caught-exception
// stack and the uncaught count, two words) per coroutine; `globals` is the
// worker thread's, looked up once.
inline void eh_swap(void** globals, Coroutine* from, Coroutine* to) noexcept {
  from->eh_state[0] = globals[0];
  from->eh_state[1] = globals[1];
  globals[0] = to->eh_state[0];
  globals[1] = to->eh_state[1];
}

sanitizer::FiberStack thread_stack() noexcept {
  sanitizer::FiberStack s;
  pthread_attr_t attr;
  void* addr = nullptr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &addr, &s.size);
    pthread_attr_destroy(&attr);
  }
  s.bottom = addr;
  return s;
}

}  // namespace

// this_worker() must not be inlined: a coroutine can resume on another
// thread, and a compiler may otherwise keep the old thread's TLS address.
__attribute__((noinline)) Worker* this_worker() noexcept {
  Worker* w = t_worker;
  asm volatile("" : "+r"(w));
  return w;
}

void attach_thread(Scheduler* sched) noexcept { t_attached = sched; }
Scheduler* attached_scheduler() noexcept { return t_attached; }

Worker::Worker(Scheduler& s, int i)
    : sched(s), index(i), rng(0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(i + 1)) {
  g0.started = true;
  g0.state.store(CoState::kRunning, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// Construction, spawn, shutdown

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
  fast_runnext_ = config_.procs > 1 && fast_ready_;
  shards_ = std::make_unique<LiveShard[]>(static_cast<std::size_t>(config_.procs) + 1);
  workers_.reserve(static_cast<std::size_t>(config_.procs));
  for (int i = 0; i < config_.procs; ++i) workers_.push_back(std::make_unique<Worker>(*this, i));
  if (const char* chaos = std::getenv("CORUN_CHAOS"); chaos != nullptr && *chaos != '\0') {
    chaos_ = true;
    const auto seed = std::strtoull(chaos, nullptr, 10);
    for (auto& w : workers_) w->rng ^= seed * 0x9E3779B97F4A7C15ULL + 1;
  }
  install_overflow_handler();
  std::latch started(config_.procs);
  for (auto& w : workers_) {
    Worker* wp = w.get();
    try {
      wp->thread = std::thread([this, wp, &started] {
        const std::string name = "corun-w" + std::to_string(wp->index);  // for ps, top, debuggers
        pthread_setname_np(pthread_self(), name.c_str());
        worker_init(*wp);
        started.count_down();
        worker_main(*wp);
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
  // The monitor preempts (with a time slice) and makes up lost wake-ups
  // (with more than one worker; see I3).
  if (config_.procs > 1 || config_.time_slice > std::chrono::nanoseconds::zero()) {
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

Coroutine* Scheduler::new_coroutine(Worker* w) {
  Coroutine* g = nullptr;
  if (w != nullptr) {
    // Refill the private list with a whole chain (Go's gfget).
    if (w->free_gs == nullptr) w->free_gs = free_depot_.take_chain(w->nfree_gs);
    if (w->free_gs != nullptr) {
      g = std::exchange(w->free_gs, w->free_gs->next);
      --w->nfree_gs;
    }
  } else {
    g = free_depot_.take_one();
  }
  if (g == nullptr) g = new Coroutine;
  g->next = nullptr;
  g->sched = this;
  g->started = false;
  g->cancelled = false;
  g->registered = false;
  g->wait_reason = WaitReason::kNone;
  g->cancel_fn = nullptr;
  g->cancel_ctx = nullptr;
  g->eh_state[0] = g->eh_state[1] = nullptr;
  g->state.store(CoState::kRunnable, std::memory_order_relaxed);
  return g;
}

void Scheduler::free_coroutine(Worker& w, Coroutine* g) noexcept {
  g->next = w.free_gs;
  w.free_gs = g;
  if (++w.nfree_gs < kFreeGsMax) return;
  // Keep the most recently freed (warm in this CPU's cache) and hand the
  // older kFreeGsBatch to the depot as one chain (Go's gfput).
  const std::uint32_t keep = kFreeGsMax - kFreeGsBatch;
  Coroutine* last_kept = g;
  for (std::uint32_t i = 1; i < keep; ++i) last_kept = last_kept->next;
  Coroutine* given = std::exchange(last_kept->next, nullptr);
  w.nfree_gs = keep;
  free_depot_.put_chain(given, kFreeGsBatch);
}

std::uint64_t Scheduler::spawn(Closure&& body) {
  Worker* w = this_worker();
  if (w != nullptr && &w->sched != this) w = nullptr;  // a worker of another runtime
  if (w == nullptr) attach_thread(this);
  Coroutine* g = new_coroutine(w);
  g->body = std::move(body);
  g->id = next_id(w);
  count_spawn(w);
  std::uint64_t id = g->id;
  if (trace_) {
    Coroutine* parent = w != nullptr && w->current != &w->g0 ? w->current : nullptr;
    trace_->record(
        w != nullptr ? w->index : -1,
        {.coroutine = id, .arg = parent != nullptr ? parent->id : 0, .kind = TraceKind::kSpawn});
  }
  if (w != nullptr) {
    runq_put(*w, g, /*next=*/true);
  } else {
    global_.push(g);
  }
  wakep();
  // Spawning is a preemption point: a coroutine spawning in a loop lets the
  // ones it spawned run (and recycle) once its time slice is over.
  if (w != nullptr && t_preempt_requested.load(std::memory_order_relaxed)) {
    t_preempt_requested.store(false, std::memory_order_relaxed);
    preempt(*w, /*from_signal=*/false);
  }
  return id;
}

void Scheduler::register_live(Coroutine* g, std::uint32_t shard) noexcept {
  LiveShard& s = shards_[shard];
  g->live_shard = static_cast<std::uint16_t>(shard);
  g->registered = true;
  s.lock.lock();
  g->live_prev = nullptr;
  g->live_next = s.head;
  if (s.head != nullptr) s.head->live_prev = g;
  s.head = g;
  s.lock.unlock();
}

void Scheduler::unregister_live(Coroutine* g) noexcept {
  LiveShard& s = shards_[g->live_shard];
  s.lock.lock();
  if (g->live_prev != nullptr) {
    g->live_prev->live_next = g->live_next;
  } else {
    s.head = g->live_next;
  }
  if (g->live_next != nullptr) g->live_next->live_prev = g->live_prev;
  s.lock.unlock();
}

void Scheduler::on_exit(Worker& w, Coroutine* g) noexcept {
  g->state.store(CoState::kDead, std::memory_order_relaxed);
  if (g->registered) unregister_live(g);
  sanitizer::fiber_destroyed(g);
  if (g->started) {
    w.stack_cache.push_back(g->stack);
    if (w.stack_cache.size() > kStackCacheMax)
      stacks_.release_batch(w.stack_cache, kStackCacheMax / 2);
    g->stack = Stack{};
  }
  free_coroutine(w, g);
  count_exit(w);
}

// next_id(): a worker hands out ids from its own batch (Go's goidcache).
std::uint64_t Scheduler::next_id(Worker* w) noexcept {
  if (w == nullptr) return next_id_.fetch_add(1, std::memory_order_relaxed);
  if (w->id_next == w->id_end) {
    w->id_next = next_id_.fetch_add(kIdBatch, std::memory_order_relaxed);
    w->id_end = w->id_next + kIdBatch;
  }
  return w->id_next++;
}

// The live count is live_ minus every worker's live_credit. A spawn on a
// worker takes one unit of the worker's credit, fetching a batch from live_
// when there is none (count_spawn); an exit adds one to the credit of the
// worker it ran on, giving back all but a batch when it has two
// (count_exit). So a busy worker touches the shared count once per batch,
// and it returns its credit (flush_live_credit) whenever it runs out of
// work. live_ can reach zero only in that flush: while any worker holds
// credit, live_ counts it. When every coroutine has finished, every worker
// finds no work and flushes, and the last flush takes live_ to zero and
// wakes wait_all().
void Scheduler::count_spawn(Worker* w) noexcept {
  if (w == nullptr) {
    live_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::int64_t credit = w->live_credit.load(std::memory_order_relaxed);
  if (credit == 0) {
    live_.fetch_add(kLiveCreditBatch, std::memory_order_relaxed);
    credit = kLiveCreditBatch;
  }
  w->live_credit.store(credit - 1, std::memory_order_relaxed);
}

void Scheduler::count_exit(Worker& w) noexcept {
  const std::int64_t credit = w.live_credit.load(std::memory_order_relaxed) + 1;
  if (credit <= 2 * kLiveCreditBatch) {
    w.live_credit.store(credit, std::memory_order_relaxed);
    return;
  }
  // live_ stays above zero: it still counts the batch kept.
  w.live_credit.store(kLiveCreditBatch, std::memory_order_relaxed);
  live_.fetch_sub(credit - kLiveCreditBatch, std::memory_order_relaxed);
}

void Scheduler::flush_live_credit(Worker& w) noexcept {
  const std::int64_t credit = w.live_credit.load(std::memory_order_relaxed);
  if (credit == 0) return;
  w.live_credit.store(0, std::memory_order_relaxed);
  live_sub(credit);
}

std::size_t Scheduler::live() const noexcept {
  const std::int64_t v = live_.load(std::memory_order_acquire);
  std::int64_t n = (v & kLiveMask) + (v >> kWaitingShift);
  for (const auto& w : workers_) n -= w->live_credit.load(std::memory_order_relaxed);
  return static_cast<std::size_t>(std::max<std::int64_t>(n, 0));
}

// live_sub(): when the count without the waiting coroutines reaches zero,
// every coroutine has finished, or all those left wait in wait_all().
void Scheduler::live_sub(std::int64_t n) noexcept {
  const std::int64_t left = live_.fetch_sub(n, std::memory_order_acq_rel) - n;
  if ((left & kLiveMask) != 0) return;
  all_done_lock_.lock();
  std::vector<Coroutine*> waiters = take_released_waiters_locked();
  all_done_lock_.unlock();
  for (Coroutine* waiter : waiters) unpark(waiter);
  if (left == 0) {
    std::lock_guard<std::mutex> lk(all_done_mu_);
    all_done_cv_.notify_all();
  }
}

// take_released_waiters_locked() (with all_done_lock_ held) returns the
// waiters whose wait is over. Re-checked under the lock: a spawn and a
// wait_all() may have come in since the count hit zero; that waiter is for
// the new coroutines. When only waiting coroutines are left, they are
// counted live again (in the same atomic step that uncounts them as
// waiting, so live_ never reads zero meanwhile) and released; the plain
// threads and other runtimes' coroutines wait on until they finish too.
std::vector<Coroutine*> Scheduler::take_released_waiters_locked() noexcept {
  std::vector<Coroutine*> released;
  const std::int64_t v = live_.load(std::memory_order_acquire);
  if ((v & kLiveMask) != 0) return released;
  if (v != 0) {
    const auto k = static_cast<std::int64_t>(own_waiters_.size());  // == v >> kWaitingShift
    live_.fetch_add(k - (k << kWaitingShift), std::memory_order_acq_rel);
    released.swap(own_waiters_);
  } else {
    released.swap(all_done_waiters_);
  }
  return released;
}

// wait_all(): a plain thread, or a coroutine of another runtime, waits
// until live_ is zero. A coroutine of this runtime waits for the others: it
// moves its own unit of live_ to the waiting count (kWaitingShift) while it
// waits, so the count without waiters reaches zero once every coroutine
// that is not waiting has finished. All of that happens under
// all_done_lock_, so the waiting count is always own_waiters_.size() there.
void Scheduler::wait_all() {
  Worker* w = this_worker();
  Coroutine* g = w != nullptr && w->current != &w->g0 ? w->current : nullptr;
  if (g == nullptr) {
    attach_thread(this);
  } else {
    cancellation_point();  // of the caller's own runtime
  }
  all_done_lock_.lock();
  if (g != nullptr && &w->sched == this) {
    own_waiters_.push_back(g);
    const std::int64_t v =
        live_.fetch_add((std::int64_t{1} << kWaitingShift) - 1, std::memory_order_acq_rel) +
        (std::int64_t{1} << kWaitingShift) - 1;
    if ((v & kLiveMask) == 0) {  // the others have finished already
      std::vector<Coroutine*> released = take_released_waiters_locked();
      all_done_lock_.unlock();
      for (Coroutine* waiter : released) {
        if (waiter != g) unpark(waiter);
      }
      return;
    }
    detail::park(all_done_lock_, WaitReason::kRuntimeWait, &Scheduler::cancel_wait_all, this);
    // Released during shutdown (the others were cancelled first): the wait
    // still ends in Cancelled, as when the sweep reaches this one first.
    if (shutting_down() && std::uncaught_exceptions() == 0) throw Cancelled{};
    return;
  }
  if (live_.load(std::memory_order_acquire) == 0) {
    all_done_lock_.unlock();
    return;
  }
  all_done_waiters_.push_back(current_waiter());
  // (A plain thread's wait is not cancelled: the hook is for coroutines.)
  detail::park(all_done_lock_, WaitReason::kRuntimeWait, &Scheduler::cancel_wait_all, this);
}

// cancel_wait_all(): the cancel hook of a coroutine in wait_all(), run when
// its runtime (this one, or another) shuts down.
bool Scheduler::cancel_wait_all(Coroutine* g, void* self) noexcept {
  auto* s = static_cast<Scheduler*>(self);
  s->all_done_lock_.lock();
  bool found = false;
  if (auto it = std::find(s->own_waiters_.begin(), s->own_waiters_.end(), g);
      it != s->own_waiters_.end()) {
    s->own_waiters_.erase(it);
    // Counted live again: it unwinds and exits as any other.
    s->live_.fetch_add(1 - (std::int64_t{1} << kWaitingShift), std::memory_order_acq_rel);
    found = true;
  } else if (auto jt = std::find(s->all_done_waiters_.begin(), s->all_done_waiters_.end(), g);
             jt != s->all_done_waiters_.end()) {
    s->all_done_waiters_.erase(jt);
    found = true;
  }
  s->all_done_lock_.unlock();
  return found;
}

void Scheduler::cancel_parked() noexcept {
  // Pin each parked g under its shard's lock, run the cancel hooks after
  // releasing it. A hook takes its wait's lock (a channel's, a Mutex's, ...),
  // and a coroutine parking for the first time holds that lock while it
  // registers in its shard (park() -> register_live()): hooks run under the
  // shard's lock would deadlock with it.
  std::vector<Coroutine*> pinned;
  for (int s = 0; s <= config_.procs; ++s) {
    LiveShard& shard = shards_[s];
    shard.lock.lock();
    for (Coroutine* g = shard.head; g != nullptr; g = g->live_next) {
      // Pin g parked while its cancel hook runs: the hook's context lives on
      // g's stack, so a waker that dequeued g meanwhile must not let it run
      // on (and return from its wait) before the hook is done: ready() waits
      // for kCancelling to end. A pinned g cannot run, so it cannot finish
      // and leave the shard either.
      if (try_pin(g)) pinned.push_back(g);
    }
    shard.lock.unlock();
    for (Coroutine* g : pinned) cancel_pinned(g);
    pinned.clear();
  }
}

// request_cancellation() sets every worker thread's preempt flag, which the
// running coroutine's next cancellation point (cancel.hpp) or preempt_point()
// turns into Cancelled: a coroutine that never parks is cancelled there. A
// switch clears the flag (it was for the coroutine switched away from), so
// each sweep sets it again.
void Scheduler::request_cancellation() noexcept {
  for (auto& w : workers_) {
    if (w->preempt_flag != nullptr) w->preempt_flag->store(true, std::memory_order_relaxed);
  }
}

// try_pin(): g goes kParked -> kCancelling; false when it is not parked.
bool Scheduler::try_pin(Coroutine* g) noexcept {
  CoState parked = CoState::kParked;
  return g->state.compare_exchange_strong(parked, CoState::kCancelling, std::memory_order_acq_rel);
}

// cancel_pinned(): g is pinned (kCancelling). Run its cancel hook, unpin it,
// and if the hook took it off its wait queue, wake it to throw Cancelled (a
// hook that found it gone lost to a waker, which wakes it instead).
void Scheduler::cancel_pinned(Coroutine* g) noexcept {
  const bool removed = g->cancel_fn != nullptr && !g->cancelled && g->cancel_fn(g, g->cancel_ctx);
  // Marked before the unpin: the sweep and g's own worker may each pin g in
  // turn, and the second must see that the first cancelled it.
  if (removed) g->cancelled = true;
  g->state.store(CoState::kParked, std::memory_order_release);
  if (removed) ready(g);
}

// cancel_after_park(): a coroutine that parks during shutdown is cancelled
// at once by its own worker, right after the switch. Left to the sweep alone
// (every 2 ms, from another thread), coroutines that keep waking each other
// took up to seconds to be caught parked and still queued: a channel
// ping-pong pair is inside a hand-off nearly all the time. g is pinned
// before its commit step runs (park.hpp), while no waker can find it yet, so
// it is still queued and cannot have run (and exited) meanwhile.
void Scheduler::cancel_after_park(Coroutine* g, ParkCommit commit, void* commit_ctx) noexcept {
  const bool pinned = try_pin(g);
  commit(commit_ctx);
  if (pinned) cancel_pinned(g);  // (not pinned: the sweep has it)
}

void Scheduler::shutdown() {
  if (stopping_.load(std::memory_order_acquire)) return;
  shutting_down_.store(true, std::memory_order_seq_cst);
  wait_for_fast_wakers();  // before cancel_parked() pins anything
  // Sweep until every coroutine has finished: unwinding code may block again.
  while (live_.load(std::memory_order_acquire) > 0) {
    request_cancellation();
    cancel_parked();
    std::unique_lock<std::mutex> lk(all_done_mu_);
    all_done_cv_.wait_for(lk, std::chrono::milliseconds(2),
                          [&] { return live_.load(std::memory_order_acquire) == 0; });
  }
  // A waker from outside may still be on its way out of ready_from_outside().
  while (outside_wakers_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  monitor_.reset();
  stop_workers();
  if (attached_scheduler() == this) attach_thread(nullptr);
}

// stop_workers() ends the worker threads' loops and joins those that were
// started (all of them, unless starting one failed).
void Scheduler::stop_workers() noexcept {
  stopping_.store(true, std::memory_order_seq_cst);
  for (auto& w : workers_) {
    w->wake_word.store(1, std::memory_order_release);
    futex_wake(w->wake_word);
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

// ---------------------------------------------------------------------------
// Run queues

inline void Scheduler::runq_put(Worker& w, Coroutine* g, bool next) noexcept {
  g->state.store(CoState::kRunnable, std::memory_order_relaxed);
  if (next) {
    g = swap_runnext(w, g);
    if (g == nullptr) return;  // the kicked-out runnext goes to the ring
  }
  if (!w.runq.push(g)) runq_put_slow(w, g);
}

// swap_runnext() puts g (or null) in w's runnext and returns what was there.
// Only the owner puts and takes; a thief takes only from a worker that has
// kept running one coroutine through its grace (steal_runnext), which is
// rare. So the owner swaps with a plain load and store, saving the locked
// exchange on both sides of every hand-off (a fifth of a channel
// ping-pong's round trip), unless a thief has announced itself: the owner
// marks its plain section and then looks for thieves; a thief announces
// itself, runs the heavy side of an asymmetric fence and waits any section
// out before its compare-and-swap. Either the owner sees the thief and
// exchanges, or the thief sees the section (or everything it did). With
// one worker there are no thieves at all. Other threads may read the slot,
// as any_work_visible() does: it stays an atomic.
inline Coroutine* Scheduler::swap_runnext(Worker& w, Coroutine* g) noexcept {
  if (config_.procs == 1) {
    Coroutine* old = w.runnext.load(std::memory_order_relaxed);
    w.runnext.store(g, std::memory_order_release);
    return old;
  }
  if (fast_runnext_) {
    w.plain_section.store(true, std::memory_order_relaxed);
    asymmetric_fence::light();
    // Acquire: a thief that has come and gone took g with its CAS first.
    if (w.runnext_thieves.load(std::memory_order_acquire) == 0) {
      Coroutine* old = w.runnext.load(std::memory_order_relaxed);
      if (chaos_ && chaos_roll(w, 8)) chaos_delay(w);  // widens the window thieves race in
      w.runnext.store(g, std::memory_order_release);
      w.plain_section.store(false, std::memory_order_release);
      return old;
    }
    w.plain_section.store(false, std::memory_order_relaxed);
  }
  return w.runnext.exchange(g, std::memory_order_seq_cst);
}

// steal_runnext() takes g from victim's runnext if it is still there (the
// thieves' side of swap_runnext()).
Coroutine* Scheduler::steal_runnext(Worker& victim, Coroutine* g) noexcept {
  if (victim.runnext.load(std::memory_order_relaxed) != g) return nullptr;  // spare the fence
  if (fast_runnext_) {
    victim.runnext_thieves.fetch_add(1, std::memory_order_seq_cst);
    asymmetric_fence::heavy();
    while (victim.plain_section.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  const bool taken = victim.runnext.compare_exchange_strong(g, nullptr, std::memory_order_acq_rel);
  if (fast_runnext_) victim.runnext_thieves.fetch_sub(1, std::memory_order_release);
  return taken ? g : nullptr;
}

// runq_put_slow() moves half the full ring, plus g, to the global queue.
void Scheduler::runq_put_slow(Worker& w, Coroutine* g) noexcept {
  Coroutine* batch[LocalRunQueue::kCapacity / 2 + 1];
  std::uint32_t n = w.runq.grab_half(batch);
  batch[n++] = g;
  global_.push_list(batch, n);
}

// ready() takes g out of kParked. Its waker took it off the wait queue, so
// until shutdown nobody else writes g's state; shutdown's cancel_parked()
// does, pinning g (kParked -> kCancelling) while it runs g's cancel hook,
// whose context lives on g's stack: a waker must then wait for the pin to
// end (leave_parked). A waker on a worker therefore marks its plain section
// (`plain_section`), checks shutting_down_ and stores plainly; shutdown sets
// shutting_down_, runs the heavy side of an asymmetric fence and waits out
// announced wakers (wait_for_fast_wakers) before its first pin. Either the
// waker sees shutting_down_ and takes the CAS path, or shutdown sees it
// announced and waits. The CAS it saves was a fifth of a channel hand-off.
void Scheduler::ready(Coroutine* g) noexcept {
  Worker* w = this_worker();
  const bool on_worker = w != nullptr && &w->sched == this;
  if (!on_worker) {
    ready_from_outside(g);
    return;
  }
  if (on_worker && fast_ready_) {
    w->plain_section.store(true, std::memory_order_relaxed);
    asymmetric_fence::light();
    const bool plain = !shutting_down_.load(std::memory_order_relaxed);
    if (plain) g->state.store(CoState::kRunnable, std::memory_order_relaxed);
    w->plain_section.store(false, std::memory_order_release);
    if (!plain) leave_parked(g);
  } else {
    leave_parked(g);
  }
  if (trace_) {
    const std::uint64_t by = on_worker && w->current != &w->g0 ? w->current->id : 0;
    trace_->record(on_worker ? w->index : -1,
                   {.coroutine = g->id, .arg = by, .kind = TraceKind::kUnblock});
  }
  if (on_worker && !(chaos_ && chaos_roll(*w, 4))) {
    runq_put(*w, g, /*next=*/true);
    if (config_.procs == 1) return;  // the only worker is this one, and busy
    // Under chaos, now and then the wake-up that I3's race can lose is lost.
    if (chaos_ && chaos_roll(*w, 8)) return;
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
  if (trace_) trace_->record(-1, {.coroutine = g->id, .arg = 0, .kind = TraceKind::kUnblock});
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

// wait_for_fast_wakers(): after it, every ready() that took the plain path
// has stored, and every later one sees shutting_down_ (see ready()).
void Scheduler::wait_for_fast_wakers() noexcept {
  if (!fast_ready_) return;
  asymmetric_fence::heavy();
  for (auto& w : workers_) {
    while (w->plain_section.load(std::memory_order_acquire)) std::this_thread::yield();
  }
}

// pick_local() finds work without leaving the current stack: runnext, the
// ring, the global queue. Null when there is none. It runs no timers: its
// caller may hold a wait-queue lock that a timer's firing would take; timers
// run after the switch (run_post) and in find_runnable.
inline Coroutine* Scheduler::pick_local(Worker& w) noexcept {
  ++w.tick;
  if (--w.global_countdown == 0) {
    w.global_countdown = kGlobalQueueInterval;
    std::uint32_t n;
    if (Coroutine* g = global_.pop_batch(nullptr, 1, n)) return g;
  }
  // Thieves rarely touch runnext: look before paying for the exchange.
  if (w.runnext.load(std::memory_order_relaxed) != nullptr) {
    if (Coroutine* g = swap_runnext(w, nullptr)) {
      if (++w.runnext_streak < w.runnext_check || !runnext_slice_spent(w)) return g;
      // The hand-off chain has had its time slice: g goes to the back.
      if (!w.runq.push(g)) runq_put_slow(w, g);
    }
  }
  w.runnext_streak = 0;
  w.runnext_check = kRunnextFirstCheck;
  // With one worker no thief reaches the ring (nor runnext: swap_runnext()).
  if (Coroutine* g = config_.procs == 1 ? w.runq.pop_unshared() : w.runq.pop()) return g;
  if (!global_.empty()) return pick_global(w);
  return nullptr;
}

// runnext_slice_spent() says whether a chain of runnext hand-offs has held
// the worker for a whole time slice. As in Go, a coroutine run from runnext
// inherits the time slice of the one that readied it; otherwise two
// coroutines ping-ponging through a channel would keep the worker forever
// and starve its run queue (Go's TestPingPongHog). Go's sysmon ends such a
// slice; here the chain is timed as it runs, without a clock read per
// switch: pick_local() asks at the streak lengths set in runnext_check,
// spaced by the picks' measured pace so that a slice overruns by about one
// hand-off, and never more than kRunnextMaxInterval picks apart. A zero
// Config::time_slice turns it off.
bool Scheduler::runnext_slice_spent(Worker& w) noexcept {
  const std::int64_t slice = config_.time_slice.count();
  const std::uint32_t n = w.runnext_streak;
  if (slice <= 0) {
    w.runnext_check = UINT32_MAX;  // not for the rest of this streak
    return false;
  }
  const std::int64_t now = now_ns();
  if (n <= kRunnextFirstCheck) {
    w.runnext_since = now;  // the streak is timed from here
    w.runnext_check = n + kRunnextFirstCheck;
    return false;
  }
  const std::int64_t elapsed = now - w.runnext_since;
  if (elapsed >= slice) {
    w.runnext_streak = 0;
    w.runnext_check = kRunnextFirstCheck;
    return true;
  }
  const std::int64_t per_pick = std::max<std::int64_t>(1, elapsed / (n - kRunnextFirstCheck));
  const std::int64_t picks_left = (slice - elapsed) / per_pick + 1;
  w.runnext_check =
      n + static_cast<std::uint32_t>(std::min<std::int64_t>(picks_left, kRunnextMaxInterval));
  return false;
}

// pick_next() is pick_local() for a coroutine about to switch away: during
// shutdown, coroutines that never started are dropped instead of started.
inline Coroutine* Scheduler::pick_next(Worker& w) noexcept {
  for (;;) {
    Coroutine* g = pick_local(w);
    if (g == nullptr || g->started || !shutting_down()) return g;
    drop_unstarted(w, g);
  }
}

void Scheduler::drop_unstarted(Worker& w, Coroutine* g) noexcept {
  g->body.reset();
  on_exit(w, g);
}

// pick_global() takes a fair share of the global queue into the local ring
// (Go's globrunqget): its own function, so the fast path above needs no
// stack frame for the batch.
__attribute__((noinline)) Coroutine* Scheduler::pick_global(Worker& w) noexcept {
  Coroutine* rest[LocalRunQueue::kCapacity / 2];
  std::uint32_t n;
  const std::uint32_t max = std::min<std::uint32_t>(
      LocalRunQueue::kCapacity / 2, static_cast<std::uint32_t>(global_.size() / config_.procs + 1));
  Coroutine* g = global_.pop_batch(rest, max, n);
  if (g != nullptr) w.runq.push_batch(rest, n);
  return g;
}

bool Scheduler::run_timers(Worker& w, std::int64_t now) noexcept {
  return w.timers.run_expired(now) > 0;
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
  Coroutine* g = victim.runnext.load(std::memory_order_acquire);
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
  return steal_runnext(victim, g);
}

Coroutine* Scheduler::steal_work(Worker& w) noexcept {
  const auto n = static_cast<std::uint32_t>(workers_.size());
  for (int pass = 0; pass < kStealPasses; ++pass) {
    const bool last = pass == kStealPasses - 1;
    const auto start = static_cast<std::uint32_t>(next_random(w.rng) % n);
    for (std::uint32_t i = 0; i < n; ++i) {
      if (stopping_.load(std::memory_order_relaxed)) return nullptr;
      Worker& victim = *workers_[(start + i) % n];
      if (&victim == &w) continue;
      if (last && !victim.timers.empty() && victim.timers.earliest() <= now_ns()) {
        // Fired timers land in this worker's runnext.
        if (run_timers(victim, now_ns())) {
          if (Coroutine* g = pick_local(w)) return g;
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
  // round to its own.
  const std::int64_t deadline = earliest_timer();
  for (;;) {
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
}

Coroutine* Scheduler::find_runnable(Worker& w) {
  flush_live_credit(w);  // out of local work: return the share of live_
  for (;;) {
    if (stopping_.load(std::memory_order_acquire)) return nullptr;
    if (!w.timers.empty()) run_timers(w, now_ns());
    if (Coroutine* g = pick_local(w)) {
      if (w.spinning) reset_spinning(w);
      return g;
    }
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

// ---------------------------------------------------------------------------
// Switching

void Scheduler::prepare_first_run(Worker& w, Coroutine* g) {
  if (w.stack_cache.empty()) stacks_.allocate_batch(w.stack_cache, 16);
  g->stack = w.stack_cache.back();
  w.stack_cache.pop_back();
  context_make(g->ctx, g->stack.base, g->stack.size, &Scheduler::coroutine_entry, g);
  g->started = true;
  sanitizer::fiber_created(g);
}

CORUN_NO_TSAN_FRAME void Scheduler::switch_to(Worker& w, Coroutine* from, Coroutine* to) {
  if (!to->started) prepare_first_run(w, to);
  if (from != &w.g0 && from->stack.overflowed()) {
    fatal("stack overflow in coroutine %llu (stack %zu KiB): raise Config::stack_size",
          static_cast<unsigned long long>(from->id),
          static_cast<std::size_t>(from->stack.size >> 10));
  }
  if (trace_) trace_switch(w, from, to);
  to->state.store(CoState::kRunning, std::memory_order_relaxed);
  w.current = to;
  // For the monitor: a new run began (owner-only writes, no RMW needed).
  w.switches.store(w.switches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  w.running.store(to != &w.g0, std::memory_order_relaxed);
  if (w.preempt_flag->load(std::memory_order_relaxed)) {
    w.preempt_flag->store(false, std::memory_order_relaxed);  // it was for `from`
  }
  eh_swap(w.eh_globals, from, to);
  sanitizer::start_switch(
      from, w.post.kind == PostSwitch::kExit, to,
      to == &w.g0 ? w.g0_stack : sanitizer::FiberStack{to->stack.base, to->stack.size});
  context_switch(from->ctx, to->ctx);
  sanitizer::finish_switch(from);
}

void Scheduler::trace_switch(Worker& w, Coroutine* from, Coroutine* to) noexcept {
  if (from != &w.g0) {
    TraceEvent e{.coroutine = from->id, .kind = TraceKind::kRunStop};
    switch (w.post.kind) {
      case PostSwitch::kRequeue:
        e.reason = StopReason::kYield;
        break;
      case PostSwitch::kPreempt:
        e.reason = StopReason::kPreempt;
        break;
      case PostSwitch::kUnlock:
        e.reason =
            from->wait_reason == WaitReason::kSleep ? StopReason::kSleep : StopReason::kBlock;
        e.wait = to_string(from->wait_reason);
        break;
      case PostSwitch::kExit:
        e.reason = StopReason::kExit;
        break;
      case PostSwitch::kNone:
        break;
    }
    trace_->record(w.index, e);
  }
  if (to != &w.g0) trace_->record(w.index, {.coroutine = to->id, .kind = TraceKind::kRunStart});
}

std::vector<TraceEvent> Scheduler::trace() const {
  return trace_ ? trace_->snapshot() : std::vector<TraceEvent>{};
}

void Scheduler::run_post(Worker& w) noexcept {
  PostSwitch p = w.post;
  w.post = PostSwitch{};
  if (chaos_ && chaos_roll(w, 8)) chaos_delay(w);
  switch (p.kind) {
    case PostSwitch::kNone:
      break;
    case PostSwitch::kRequeue:
      runq_put(w, p.g, /*next=*/false);
      break;
    case PostSwitch::kPreempt:
      // Behind everything else, as Go's gopreempt_m: a coroutine that
      // spawns in a loop lets its whole backlog run before it continues.
      p.g->state.store(CoState::kRunnable, std::memory_order_relaxed);
      global_.push(p.g);
      // As Go's goschedImpl: an idle worker may take it. Without this, a
      // worker that held two CPU-bound coroutines would go on alternating
      // them every time slice while other workers slept.
      wakep();
      break;
    case PostSwitch::kUnlock:
      if (shutting_down() && p.g->cancel_fn != nullptr) {
        cancel_after_park(p.g, p.commit, p.commit_ctx);
      } else {
        p.commit(p.commit_ctx);
      }
      break;
    case PostSwitch::kExit:
      on_exit(w, p.g);
      break;
  }
  if ((w.tick & kTimerCheckMask) == 0 && !w.timers.empty()) run_timers(w, now_ns());
}

CORUN_NO_TSAN_FRAME void Scheduler::coroutine_entry(void* arg) {
  auto* g = static_cast<Coroutine*>(arg);
  sanitizer::finish_switch(nullptr);
  Scheduler& s = *g->sched;
  s.run_post(*this_worker());
  try {
    // Never started before shutdown: dropped unrun, as worker_main drops
    // those it picks (yield, park and exit switch here directly).
    if (!s.shutting_down()) g->body();
  } catch (const Cancelled&) {
    // The runtime is shutting down; the stack has unwound.
  } catch (...) {
    panic_uncaught(g->id);
  }
  g->body.reset();
  s.exit_current(*this_worker());
}

CORUN_NO_TSAN_FRAME void Scheduler::exit_current(Worker& w) {
  Coroutine* g = w.current;
  w.post = PostSwitch{PostSwitch::kExit, g};
  Coroutine* next = pick_next(w);
  switch_to(w, g, next != nullptr ? next : &w.g0);
  __builtin_unreachable();
}

bool Scheduler::chaos_roll(Worker& w, std::uint32_t one_in) noexcept {
  return next_random(w.rng) % one_in == 0;
}

void Scheduler::chaos_delay(Worker& w) noexcept {
  const auto spins = static_cast<std::uint32_t>(next_random(w.rng) % 4096);
  for (std::uint32_t i = 0; i < spins; ++i) cpu_relax();
  if (spins % 16 == 0) std::this_thread::yield();  // and now and then lose the CPU
}

void cancellation_point_slow() {
  Worker* w = this_worker();
  if (w == nullptr || w->current == &w->g0 || !w->sched.shutting_down()) return;
  if (std::uncaught_exceptions() > 0) return;
  throw Cancelled{};
}

void Scheduler::yield(Worker& w) {
  if (w.current->preempt_depth > 0) fatal("yield() inside a corun::PreemptibleRegion");
  if (shutting_down()) throw Cancelled{};
  give_up(w, PostSwitch::kRequeue);
}

void Scheduler::preempt(Worker& w, bool from_signal) {
  if (!from_signal && shutting_down()) throw Cancelled{};
  give_up(w, PostSwitch::kPreempt);
}

// give_up() moves the running coroutine to the back of the run queue and
// runs the next one; with nothing else runnable it carries on.
void Scheduler::give_up(Worker& w, PostSwitch::Kind why) {
  Coroutine* g = w.current;
  // A preempted coroutine has held its worker for a time slice (or the
  // monitor saw a timer of this worker overdue): run the due timers first,
  // so that what they wake runs next (Go's schedule() runs its timers
  // before it picks). The clock is read once per preemption, not per yield.
  if (why == PostSwitch::kPreempt && !w.timers.empty()) run_timers(w, now_ns());
  Coroutine* next = pick_next(w);
  if (next == nullptr && !w.timers.empty() && run_timers(w, now_ns())) next = pick_next(w);
  if (next == nullptr) return;
  w.post = PostSwitch{why, g};
  switch_to(w, g, next);
  run_post(*this_worker());
}

void Scheduler::park(Worker& w, const ParkArgs& a) {
  Coroutine* g = w.current;
  if (chaos_ && chaos_roll(w, 8)) chaos_delay(w);  // widens the window wakers race in
  if (g->preempt_depth > 0) fatal("blocking call inside a corun::PreemptibleRegion");
  if (!g->registered) register_live(g, static_cast<std::uint32_t>(w.index));
  g->wait_reason = a.reason;
  g->cancel_fn = a.cancel;
  g->cancel_ctx = a.cancel_ctx;
  // Release: cancel_parked() reads cancel_fn/ctx after its CAS on state.
  g->state.store(CoState::kParked, std::memory_order_release);
  w.post = PostSwitch{PostSwitch::kUnlock, g, a.commit, a.commit_ctx};
  Coroutine* next = pick_next(w);
  switch_to(w, g, next != nullptr ? next : &w.g0);
  run_post(*this_worker());
  g->wait_reason = WaitReason::kNone;
  if (g->cancelled) {
    // Consumed: unwinding code that blocks again (a catch that swallows
    // Cancelled, a destructor) is cancelled again by the next sweep, and a
    // later normal wake-up (a Mutex handed over) is not mistaken for one.
    g->cancelled = false;
    throw Cancelled{};
  }
}

void Scheduler::worker_init(Worker& w) {
  t_worker = &w;
  w.eh_globals = static_cast<void**>(__cxa_get_globals());
  w.preempt_flag = &t_preempt_requested;
  w.os_thread = pthread_self();
  install_overflow_handler();
  sanitizer::thread_fiber(&w.g0);
  w.g0_stack = thread_stack();
  w.current = &w.g0;
}

void Scheduler::worker_main(Worker& w) {
  while (Coroutine* g = find_runnable(w)) {
    if (shutting_down() && !g->started) {
      drop_unstarted(w, g);  // cancelled before it ever ran
      continue;
    }
    switch_to(w, &w.g0, g);
    run_post(w);
  }
  remove_overflow_handler_for_thread();
  t_worker = nullptr;
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

// ---------------------------------------------------------------------------
// Plain threads blocked in corun waits, and deadlock detection

void Scheduler::maybe_check_deadlock() noexcept {
  if (nidle_.load(std::memory_order_seq_cst) == config_.procs) check_deadlock();
}

void Scheduler::check_deadlock() noexcept {
  if (!config_.detect_deadlock || shutting_down()) return;
  std::lock_guard<std::mutex> lk(deadlock_mu_);
  if (external_blocked_.load(std::memory_order_seq_cst) == 0) return;
  if (nidle_.load(std::memory_order_seq_cst) != config_.procs) return;
  if (any_work_visible() || any_timer_pending()) return;
  // Everything is asleep. Confirm once more after the workers' state settled.
  idle_lock_.lock();
  const bool all_idle = nidle_.load(std::memory_order_seq_cst) == config_.procs;
  idle_lock_.unlock();
  if (!all_idle || any_work_visible() || any_timer_pending() ||
      external_blocked_.load(std::memory_order_seq_cst) == 0) {
    return;
  }
  report_deadlock();
}

void Scheduler::report_deadlock() noexcept {
  std::string report = "fatal error: all coroutines are asleep - deadlock!\n";
  std::size_t listed = 0, total = 0;
  constexpr std::size_t kMaxListed = 100;
  for (int s = 0; s <= config_.procs; ++s) {
    LiveShard& shard = shards_[s];
    shard.lock.lock();
    for (Coroutine* g = shard.head; g != nullptr; g = g->live_next) {
      ++total;
      if (listed++ < kMaxListed) {
        report += "\ncoroutine " + std::to_string(g->id) + " [" + to_string(g->wait_reason) + "]";
      }
    }
    shard.lock.unlock();
  }
  if (total > kMaxListed) report += "\n... and " + std::to_string(total - kMaxListed) + " more";
  report += "\n\nthread [blocked in a corun wait]: waits forever\n";
  // The runtime sees only its own workers: name the way out for programs
  // whose other threads, or another runtime, will still wake a coroutine.
  report +=
      "\n(no coroutine of this runtime can run again; if a thread outside it, or another "
      "Runtime, will still wake one, set corun::Config::detect_deadlock = false)\n";
  fatal_raw(report.data(), report.size());
}

}  // namespace corun::detail
