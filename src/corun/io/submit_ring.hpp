// submit_ring.hpp: SubmitRing, a worker's io_uring used as a batch of
// non-blocking system calls: the socket reads and writes of its coroutines,
// submitted together in one io_uring_enter.
//
// Why: on this project's reference machine every system call flushes the
// TLB (page-table isolation without PCID) and costs about a microsecond
// with what it evicts; a loopback echo round trip is four of them (each end
// sends once and receives once), which is most of its time. Batched, a
// worker running a hundred connections makes a handful of system calls per
// hundred round trips (README, "Performance": epoll or io_uring, measured).
//
// What it is not: a completion-based poller. Every call queued here is
// non-blocking (`MSG_DONTWAIT`, `RWF_NOWAIT`), so the kernel runs it inside
// the io_uring_enter that submits it and posts its completion before that
// call returns: the data, or EAGAIN. Waiting for a descriptor to become
// ready stays with the epoll poller (netpoll.hpp), and with it deadlines,
// close() and select's I/O cases. Hence no request outlives its submission,
// nothing needs cancelling at close() or shutdown, and no completion
// arrives later on its own that a sleeping worker would have to be woken
// for. (Should a kernel complete a call later after all, the worker looks
// again at its next turn, and sleeps at most kLateCompletionRecheckNs while
// one is outstanding: see Scheduler::park_worker.)
//
// Who touches it: the thread that runs the worker, like the owner's side of
// the run queue. When the monitor hands the worker to another thread (a
// blocking call, syscall.cpp), the ring goes with it; the hand-off's
// compare-and-swap orders the two threads' accesses. So the ring is set up
// without IORING_SETUP_SINGLE_ISSUER, which would tie it to one thread.
// One exception: the monitor may submit what is queued (submit_stalled()),
// as a second submitter the kernel serialises with the owner, when one
// coroutine has held the worker for a whole monitor period (a long
// computation, a thread blocked in an OS call outside corun::blocking()):
// the calls queued before it, a reply's send among them, then leave within
// a period instead of waiting for the worker's turn to end. Their
// completions still wait for the owner.
//
// The ring is created the first time the worker queues a call. Where
// io_uring_setup fails (EPERM under seccomp profiles such as Docker's
// default, ENOSYS, /proc/sys/kernel/io_uring_disabled), under valgrind
// (which does not follow the kernel's writes through the ring), or with
// CORUN_IO_URING=0 in the environment, queue_*() return false and the
// calls are made one by one as before.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

struct io_uring_sqe;
struct io_uring_cqe;

namespace corun::detail {

struct Coroutine;

// kLateCompletionRecheckNs: how long an idle worker sleeps at most while a
// submitted call has not completed (none is expected to: see above).
inline constexpr std::int64_t kLateCompletionRecheckNs = 1'000'000;

// RingCall: one call queued by a coroutine, parked until it completes.
struct RingCall {
  Coroutine* g = nullptr;
  long result = 0;  // what the system call returned: bytes, or -errno
};

// SubmitRingStats: counts since the ring was set up (tests, diagnostics).
struct SubmitRingStats {
  std::uint64_t calls = 0;    // calls queued
  std::uint64_t submits = 0;  // the owner's io_uring_enter system calls
};

class SubmitRing {
 public:
  // kEntries: the most calls queued or in flight at once; a call that finds
  // the ring full is made directly.
  static constexpr unsigned kEntries = 1024;

  SubmitRing() = default;
  ~SubmitRing();
  SubmitRing(const SubmitRing&) = delete;
  SubmitRing& operator=(const SubmitRing&) = delete;

  // can_queue(): the ring is (or can be) set up and has room for a call.
  // Nothing but the owner's own queue_*() takes room, so a call that finds
  // room may park first and queue in its commit step (it must: a flush in
  // between, from the owner's next pick, would otherwise wake it before it
  // has finished parking).
  bool can_queue() noexcept;
  // queue_readv()/queue_send(): queue a non-blocking readv(fd, iov, n) or
  // send(fd, buf, len, flags | MSG_DONTWAIT) for `call`, which must stay
  // where it is (and the buffers alive) until flush() returns its
  // coroutine. Only after can_queue() said yes.
  void queue_readv(int fd, const iovec* iov, int n, RingCall* call) noexcept;
  void queue_send(int fd, const void* buf, std::size_t len, int flags, RingCall* call) noexcept;

  // busy(): calls are queued, or submitted and not yet collected.
  bool busy() const noexcept { return outstanding_ != 0; }
  // lagging(): after the last flush, a call had not completed (any thread
  // may ask: the deadlock check, which must not take its coroutine for one
  // asleep for good).
  bool lagging() const noexcept { return lagging_.load(std::memory_order_seq_cst); }

  // flush() submits what is queued and collects every completion there is:
  // it returns their coroutines, in the order the calls completed, chained
  // through Coroutine::next, for the caller to make runnable.
  Coroutine* flush() noexcept;

  // submit_stalled(): the monitor's call (see above): submits what is
  // queued, from a thread other than the owner.
  void submit_stalled() noexcept;

  const SubmitRingStats& stats() const noexcept { return stats_; }
  std::uint64_t stalled_submits() const noexcept {
    return stalled_submits_.load(std::memory_order_relaxed);
  }

 private:
  enum class State : std::uint8_t { kUnopened, kOpen, kUnavailable };

  bool open() noexcept;
  void close() noexcept;
  io_uring_sqe* next_sqe(RingCall* call) noexcept;
  void submit(Coroutine**& tail) noexcept;
  void give_up_queued(Coroutine**& tail) noexcept;
  unsigned unsubmitted() const noexcept;
  void publish() noexcept;
  void collect(Coroutine**& tail) noexcept;

  State state_ = State::kUnopened;
  int fd_ = -1;
  std::atomic<int> shared_fd_{-1};  // fd_ for submit_stalled(); -1: none, or broken
  unsigned outstanding_ = 0;        // queued and not yet collected
  unsigned sq_tail_ = 0;            // the next submission slot
  unsigned sq_entries_ = 0;
  unsigned sq_mask_ = 0;
  unsigned cq_mask_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_shared_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  io_uring_sqe* sqes_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  void* sq_map_ = nullptr;
  std::size_t sq_map_len_ = 0;
  void* cq_map_ = nullptr;
  std::size_t cq_map_len_ = 0;
  std::size_t sqes_len_ = 0;
  std::atomic<bool> lagging_{false};
  SubmitRingStats stats_;
  std::atomic<std::uint64_t> stalled_submits_{0};
};

// kRingCallNotRun: a RingCall's result when the ring broke before the
// kernel took the call (io_uring_enter failed for good): make it directly.
inline constexpr long kRingCallNotRun = -(1L << 40);

}  // namespace corun::detail
