// switch.cpp: the switch between coroutines and what follows it
// (PostSwitch), and the coroutines' own operations built on it: yield,
// preemption, park, exit. The design is in scheduler.cpp's essay
// ("Switching"); this file is the hot path every hand-off runs through.
#include <exception>
#include <vector>

#include "corun/arch/sanitizers.hpp"
#include "corun/diag/fatal.hpp"
#include "corun/errors.hpp"
#include "corun/sched/machine.hpp"
#include "corun/sched/scheduler.hpp"
#include "corun/sync/cancel.hpp"

namespace corun::detail {

namespace {

// kTimerCheckMask: a busy worker reads the clock for timers on every 8th
// switch when its run queue still has work (a clock read costs ~20 ns).
constexpr std::uint32_t kTimerCheckMask = 7;

}  // namespace

// pick_next() is pick_local() for a coroutine about to switch away: during
// shutdown, coroutines that never started are dropped instead of started.
// Always inlined (see worker.hpp): out of line it costs every yield a call
// and a frame.
[[gnu::always_inline]] inline Coroutine* Scheduler::pick_next(Worker& w) noexcept {
  for (;;) {
    Coroutine* g = w.pick_local();
    if (g == nullptr || g->started || !shutting_down()) return g;
    drop_unstarted(w, g);
  }
}

void Scheduler::drop_unstarted(Worker& w, Coroutine* g) noexcept {
  g->body.reset();
  on_exit(w, g);
}

void Scheduler::prepare_first_run(Worker& w, Coroutine* g) {
  if (w.stack_cache.empty()) stacks_.allocate_batch(w.stack_cache, 16);
  g->stack = w.stack_cache.back();
  w.stack_cache.pop_back();
  context_make(g->ctx, g->stack.base, g->stack.size, &Scheduler::coroutine_entry, g);
  g->started = true;
  sanitizer::fiber_created(g);
}

// switch_to() is every switch. Its usual case (the next coroutine ran
// before, the one leaving has a guarded stack, no tracer) calls nothing
// before the context switch, so it saves no register of its own and ends
// in a jump to it; the rest (a first run, a canary to check, a trace event
// to record) goes through switch_to_slow().
CORUN_NO_TSAN_FRAME void Scheduler::switch_to(Worker& w, Coroutine* from, Coroutine* to) {
  if (!to->started || trace_ != nullptr || (from != w.g0 && !from->stack.guarded)) [[unlikely]] {
    switch_to_slow(w, from, to);
    return;
  }
  switch_now(w, from, to);
}

CORUN_NO_TSAN_FRAME void Scheduler::switch_to_slow(Worker& w, Coroutine* from, Coroutine* to) {
  if (!to->started) prepare_first_run(w, to);
  if (from != w.g0 && from->stack.overflowed()) {
    fatal("stack overflow in coroutine %llu (stack %zu KiB): raise Config::stack_size",
          static_cast<unsigned long long>(from->id),
          static_cast<std::size_t>(from->stack.size >> 10));
  }
  if (trace_) trace_switch(w, from, to);
  switch_now(w, from, to);
}

[[gnu::always_inline]] CORUN_NO_TSAN_FRAME inline void Scheduler::switch_now(Worker& w,
                                                                             Coroutine* from,
                                                                             Coroutine* to) {
  to->state.store(CoState::kRunning, std::memory_order_relaxed);
  w.current = to;
  // For the monitor: a new run began (owner-only writes, no RMW needed).
  w.switches.store(w.switches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  w.running.store(to != w.g0, std::memory_order_relaxed);
  std::atomic<bool>* preempt_flag = w.preempt_flag.load(std::memory_order_relaxed);
  if (preempt_flag->load(std::memory_order_relaxed)) {
    preempt_flag->store(false, std::memory_order_relaxed);  // it was for `from`
  }
  eh_swap(w.eh_globals, from, to);
  sanitizer::start_switch(
      from, w.post.kind == PostSwitch::kExit, to,
      to == w.g0 ? w.g0_stack : sanitizer::FiberStack{to->stack.base, to->stack.size});
  context_switch(from->ctx, to->ctx);
  sanitizer::finish_switch(from);
}

void Scheduler::trace_switch(Worker& w, Coroutine* from, Coroutine* to) noexcept {
  if (from != w.g0) {
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
  if (to != w.g0) trace_->record(w.index, {.coroutine = to->id, .kind = TraceKind::kRunStart});
}

std::vector<TraceEvent> Scheduler::trace() const {
  return trace_ ? trace_->snapshot() : std::vector<TraceEvent>{};
}

// run_post() runs on the far side of every switch. The usual cases, a
// yield's requeue and a park's commit step, are inline; the rest (exit,
// preemption, a park during shutdown, chaos) goes through
// run_post_action(), so that the usual cases hold few values across calls.
void Scheduler::run_post(Worker& w) noexcept {
  const PostSwitch::Kind kind = w.post.kind;
  if (kind == PostSwitch::kRequeue && !w.chaos()) [[likely]] {
    w.post.kind = PostSwitch::kNone;
    w.put(w.post.g, /*next=*/false);
  } else if (kind == PostSwitch::kUnlock && !w.chaos() && !shutting_down()) [[likely]] {
    w.post.kind = PostSwitch::kNone;
    w.post.commit(w.post.commit_ctx);
  } else if (kind != PostSwitch::kNone || w.chaos()) {
    run_post_action(w);
  }
  if ((w.tick & kTimerCheckMask) == 0 && !w.timers.empty()) w.run_timers(now_ns());
}

void Scheduler::run_post_action(Worker& w) noexcept {
  // Read field by field, not as a copy of the struct: no PostSwitch object
  // on this frame (GCC's AddressSanitizer, at -O1, reported writes to such a
  // copy as use-after-scope on a coroutine's first frame).
  const PostSwitch::Kind kind = w.post.kind;
  Coroutine* const g = w.post.g;
  const ParkCommit commit = w.post.commit;
  void* const commit_ctx = w.post.commit_ctx;
  w.post.kind = PostSwitch::kNone;
  if (w.chaos_roll(8)) w.chaos_delay();
  switch (kind) {
    case PostSwitch::kNone:
      break;
    case PostSwitch::kRequeue:
      w.put(g, /*next=*/false);
      break;
    case PostSwitch::kPreempt:
      // Behind everything else, as Go's gopreempt_m: a coroutine that
      // spawns in a loop lets its whole backlog run before it continues.
      g->state.store(CoState::kRunnable, std::memory_order_relaxed);
      global_.push(g);
      // As Go's goschedImpl: an idle worker may take it. Without this, a
      // worker that held two CPU-bound coroutines would go on alternating
      // them every time slice while other workers slept.
      wakep();
      break;
    case PostSwitch::kUnlock:
      if (shutting_down() && g->cancel_fn != nullptr) {
        cancel_after_park(g, commit, commit_ctx);
      } else {
        commit(commit_ctx);
      }
      break;
    case PostSwitch::kExit:
      on_exit(w, g);
      break;
  }
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
  switch_to(w, g, next != nullptr ? next : w.g0);
  __builtin_unreachable();
}

void cancellation_point_slow() {
  Worker* w = this_worker();
  if (w == nullptr || w->on_g0() || !w->sched.shutting_down()) return;
  if (std::uncaught_exceptions() > 0) return;
  throw Cancelled{};
}

void Scheduler::yield(Worker& w) {
  if (w.current->preempt_depth > 0) fatal("yield() inside a corun::PreemptibleRegion");
  if (shutting_down()) throw Cancelled{};
  give_up(w, PostSwitch::kRequeue);
}

// preempt(): while a preempted coroutine is away, and until the switch that
// resumes it has finished (its post-switch step included), it is marked
// `preempting`. Its worker's `current` names it from the moment that switch
// begins, on the stack of the coroutine leaving, so a SIGURG landing then
// would otherwise take it for a coroutine running in its region and switch
// it out a second time in the middle of the first switch: the post-switch
// step still pending (the leaving coroutine's requeue or park commit) would
// be overwritten and that coroutine lost.
void Scheduler::preempt(Worker& w, bool from_signal) {
  if (!from_signal && shutting_down()) throw Cancelled{};
  Coroutine* g = w.current;
  g->preempting = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  give_up(w, PostSwitch::kPreempt);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  g->preempting = false;
}

// give_up() moves the running coroutine to the back of the run queue and
// runs the next one; with nothing else runnable it carries on.
void Scheduler::give_up(Worker& w, PostSwitch::Kind why) {
  Coroutine* g = w.current;
  // A preempted coroutine has held its worker for a time slice (or the
  // monitor saw a timer of this worker overdue): run the due timers first,
  // so that what they wake runs next (Go's schedule() runs its timers
  // before it picks). The clock is read once per preemption, not per yield.
  if (why == PostSwitch::kPreempt && !w.timers.empty()) w.run_timers(now_ns());
  Coroutine* next = pick_next(w);
  if (next == nullptr && !w.timers.empty() && w.run_timers(now_ns())) next = pick_next(w);
  if (next == nullptr) return;
  w.post = PostSwitch{why, g};
  switch_to(w, g, next);
  run_post(*this_worker());
}

void Scheduler::park(Worker& w, const ParkArgs& a) {
  Coroutine* g = w.current;
  if (w.chaos_roll(8)) w.chaos_delay();  // widens the window wakers race in
  if (g->preempt_depth > 0) fatal("blocking call inside a corun::PreemptibleRegion");
  if (!g->registered) registry_.add(g, static_cast<std::uint32_t>(w.index));
  g->wait_reason = a.reason;
  g->wait_seen_ms.store(0, std::memory_order_relaxed);
  g->cancel_fn = a.cancel;
  g->cancel_ctx = a.cancel_ctx;
  // Release: cancel_parked() reads cancel_fn/ctx after its CAS on state.
  g->state.store(CoState::kParked, std::memory_order_release);
  w.post = PostSwitch{PostSwitch::kUnlock, g, a.commit, a.commit_ctx};
  Coroutine* next = pick_next(w);
  switch_to(w, g, next != nullptr ? next : w.g0);
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

}  // namespace corun::detail
