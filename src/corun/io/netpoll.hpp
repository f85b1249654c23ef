// netpoll.hpp: NetPoller, a runtime's network poller (Go's netpoll): one
// epoll instance, edge-triggered, with every descriptor the runtime's
// coroutines open registered once (poll_desc.hpp), and an eventfd to
// interrupt a worker blocked in it.
//
// How the scheduler uses it (Go's findrunnable and sysmon):
//   - a worker out of local work polls without blocking before it steals
//     (poll_ready), unless another worker is blocked in epoll_wait;
//   - a worker that would sleep blocks in epoll_wait instead of on its futex
//     (block), one worker at a time, with the earliest timer as timeout; a
//     wake-up for that worker (wakep, stop) interrupts it through the eventfd
//     (wake), one write for any number of wake-ups until it has polled;
//   - the monitor polls when nobody has for 10 ms (poll_if_stale), so that a
//     runtime busy with coroutines that never run out of work still sees
//     its I/O;
//   - while coroutines wait on I/O, the runtime is not deadlocked (waiting).
// Nothing is polled, and no descriptor is created, until a coroutine
// registers its first descriptor.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace corun::detail {

struct Coroutine;
struct PollDesc;
class Scheduler;
class Worker;

class NetPoller {
 public:
  explicit NetPoller(Scheduler& sched);
  ~NetPoller();
  NetPoller(const NetPoller&) = delete;
  NetPoller& operator=(const NetPoller&) = delete;

  // open() registers pd->fd (edge-triggered, both directions); throws
  // std::system_error (e.g. EPERM: a regular file, which epoll refuses).
  void open(PollDesc* pd);
  // close() unregisters pd->fd (before the descriptor is closed).
  void close(PollDesc* pd) noexcept;

  // Coroutines parked on a descriptor of this poller (I/O waits).
  void wait_begin() noexcept { waiting_.fetch_add(1, std::memory_order_seq_cst); }
  void wait_end() noexcept { waiting_.fetch_sub(1, std::memory_order_seq_cst); }
  bool waiting() const noexcept { return waiting_.load(std::memory_order_seq_cst) > 0; }

  // poll_ready(): a worker out of local work polls without blocking and
  // makes what is ready runnable on it; true when something was.
  bool poll_ready();
  // block(): worker `w`, idle, waits in epoll_wait until one of its
  // descriptors is ready, `deadline` (steady-clock ns; TimerHeap::kNever:
  // none) or a wake-up (w.wake_word set, or `stopping`). False when it may
  // not (nobody waits on I/O, or another worker is blocked already): it
  // sleeps on its futex instead. What became ready is returned in `ready`
  // (a chain through Coroutine::next) for the caller to make runnable once
  // it has left the idle list (make_runnable).
  bool block(Worker& w, std::int64_t deadline, const std::atomic<bool>& stopping,
             Coroutine*& ready);
  // make_runnable(): every coroutine of `chain` (and plain thread) is woken.
  // With `first_here`, the calling worker, out of work, runs the first
  // coroutine next: it wakes no idle worker for that one (ready_here), only
  // for the rest. A worker that polls and finds one ready coroutine, as in
  // a request-response exchange, would otherwise wake another worker that
  // finds nothing to do, once per poll (two futex calls and a thread
  // wake-up per hop).
  void make_runnable(Coroutine* chain, bool first_here = false) noexcept;
  // wake(): `w` was taken off the idle list: interrupt its epoll_wait if
  // it is the one blocked there. interrupt() does it for whoever is.
  void wake(const Worker& w) noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // wake_word before blocker_
    if (blocker_.load(std::memory_order_relaxed) == &w) interrupt();
  }
  void interrupt() noexcept;
  // poll_if_stale(): the monitor's call: poll when nobody has for 10 ms.
  void poll_if_stale(std::int64_t now) noexcept;

 private:
  void init();
  // poll(): one epoll_wait (timeout in ns, -1: none; `blocker`: called by
  // the blocked worker); returns the chain of coroutines made ready.
  Coroutine* poll(std::int64_t timeout_ns, bool blocker) noexcept;

  Scheduler& sched_;
  std::mutex init_mu_;
  std::atomic<int> epfd_{-1};
  std::atomic<int> event_fd_{-1};  // set once, by init()
  std::atomic<int> waiting_{0};
  std::atomic<const Worker*> blocker_{nullptr};  // the worker in a blocking epoll_wait
  std::atomic<std::uint32_t> break_pending_{0};  // the eventfd was written, not yet read
  std::atomic<std::int64_t> last_poll_ns_{0};
};

// raise_open_files_limit() sets RLIMIT_NOFILE's soft limit to the hard
// limit, once per process (as Go 1.19 does at start-up).
void raise_open_files_limit() noexcept;

}  // namespace corun::detail
