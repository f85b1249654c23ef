// runtime.hpp: Runtime, the M:N scheduler that runs coroutines on `procs`
// worker threads, and go(), which starts a coroutine.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "corun/config.hpp"
#include "corun/detail/closure.hpp"
#include "corun/trace.hpp"

namespace corun {

namespace detail {
class Scheduler;
class Diagnostics;
std::uint64_t spawn(Scheduler* sched, Closure&& body);
Scheduler* current_scheduler() noexcept;
}  // namespace detail

// Runtime owns the worker threads, the run queues, the timers and the stacks.
// Destroying it cancels the coroutines still alive: each blocked one gets
// corun::Cancelled thrown from its blocking call, so its stack unwinds; the
// destructor returns when all have finished (a coroutine that never blocks
// again is waited for).
class Runtime {
 public:
  // Runtime() starts `procs` worker threads (and the monitor thread). It
  // throws std::invalid_argument for a Config out of range or a bad
  // CORUN_DEBUG (see README "Seeing inside a running program"), and
  // std::system_error ("cannot start worker thread 3 of 4: Resource
  // temporarily unavailable") when the system refuses a thread, once the
  // threads it did start have stopped.
  explicit Runtime(Config config = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // go() starts `body` as a new coroutine and returns its id. Callable from
  // any thread, inside or outside the runtime.
  template <class F>
  std::uint64_t go(F&& body) {
    return detail::spawn(sched_.get(), detail::Closure(std::forward<F>(body)));
  }

  // wait() returns once every coroutine has finished. A plain thread calling
  // it blocks. A coroutine of this runtime calling it parks (its worker runs
  // other coroutines) until every other coroutine has finished, except those
  // waiting in wait() too: they are released together, so several may wait
  // at once. A coroutine of another runtime parks until this runtime has no
  // coroutine left. A coroutine waiting here gets corun::Cancelled when its
  // own runtime shuts down.
  void wait();

  int procs() const noexcept;
  const Config& config() const noexcept;

  // live() is the number of coroutines started and not yet finished.
  std::size_t live() const noexcept;

  // trace() is the execution trace so far, in time order (empty unless
  // Config::trace). Safe to call at any time; complete once wait() returned.
  std::vector<TraceEvent> trace() const;

  // trace_epoch() is the moment TraceEvent::time_ns counts from (the
  // runtime's start), to line trace times up with the caller's own clock.
  std::chrono::steady_clock::time_point trace_epoch() const noexcept;

  // coroutine_dump() is every live coroutine as text (Go's goroutine dump):
  // its id, state (running, runnable, or what it waits for and, from the
  // second dump that sees the same wait on, for how long at least) and its
  // backtrace, identical ones grouped with a count, largest groups first.
  // Coroutines that have never blocked are counted, not listed. Callable
  // from any thread, coroutines included; it stops nothing. See README
  // "Seeing inside a running program".
  std::string coroutine_dump() const;
  // dump_coroutines() writes coroutine_dump() to `out` (stderr by default).
  void dump_coroutines(std::FILE* out = stderr) const;

 private:
  std::unique_ptr<detail::Scheduler> sched_;
  // Its entry for debuggers, and what CORUN_DEBUG asks for (schedtrace,
  // SIGQUIT dumps).
  std::unique_ptr<detail::Diagnostics> diag_;
};

// check_debug_environment() throws std::invalid_argument, with the one-line
// message Runtime() would throw, when CORUN_DEBUG is malformed: a program
// can check it before its first output instead of failing halfway.
void check_debug_environment();

// go() starts a coroutine on the runtime of the calling coroutine. Called
// outside any coroutine it throws std::logic_error.
template <class F>
std::uint64_t go(F&& body) {
  return detail::spawn(detail::current_scheduler(), detail::Closure(std::forward<F>(body)));
}

// run() is Go's program model: it starts a runtime, runs `main_body` as a
// coroutine, returns when that coroutine returns, and then cancels every
// coroutine still alive (as destroying a Runtime does). Called from inside a
// coroutine it throws std::logic_error: runtimes do not nest (the outer
// one's deadlock detection could not see the inner one's progress); start
// the work with go() and wait for it with a WaitGroup.
template <class F>
void run(Config config, F&& main_body);

}  // namespace corun

#include "corun/wait_group.hpp"

template <class F>
void corun::run(Config config, F&& main_body) {
  if (detail::current_scheduler() != nullptr) {
    throw std::logic_error(
        "corun::run() called from inside a coroutine: runtimes do not nest; start the work "
        "with corun::go() and wait for it with a corun::WaitGroup");
  }
  Runtime rt(config);
  WaitGroup main_done;
  main_done.add(1);
  rt.go([&main_done, body = std::forward<F>(main_body)]() mutable {
    struct Done {
      WaitGroup& wg;
      ~Done() { wg.done(); }
    } done{main_done};
    body();
  });
  main_done.wait();
}
