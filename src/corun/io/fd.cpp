// fd.cpp: corun::io::Fd (see corun/io.hpp): the read/write loop shared by
// every call, and the wait on a descriptor, parked on the poller in a
// coroutine (with its deadline as a timer, Cancelled at shutdown), in
// poll(2) on a plain thread.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <utility>

#include "corun/arch/sanitizers.hpp"
#include "corun/detail/deadline.hpp"
#include "corun/errors.hpp"
#include "corun/io.hpp"
#include "corun/io/io_wait.hpp"
#include "corun/io/netpoll.hpp"
#include "corun/io/poll_desc.hpp"
#include "corun/io/submit_ring.hpp"
#include "corun/io/sys_io.hpp"
#include "corun/os/thread_errno.hpp"
#include "corun/sched/scheduler.hpp"
#include "corun/sched/wait_timer.hpp"
#include "corun/sync/cancel.hpp"
#include "corun/this_coroutine.hpp"

namespace corun::io {

using detail::Coroutine;
using detail::IoMode;
using detail::IoWait;
using detail::PollDesc;
using detail::Worker;

namespace {

constexpr std::int64_t kNever = INT64_MAX;
// kThreadPollSliceMs: a plain thread blocked in poll(2) looks this often
// whether its Fd is being closed.
constexpr int kThreadPollSliceMs = 50;

[[noreturn]] void throw_errno(int err, const char* op) {
  throw std::system_error(err, std::generic_category(), op);
}

Worker* coroutine_worker() noexcept {
  Worker* w = detail::this_worker();
  return w != nullptr && w->running_coroutine() != nullptr ? w : nullptr;
}

// IoTimer: a parked call's deadline (wait_timer.hpp). A firing ends the
// wait only if it is still the one parked.
struct IoTimer : detail::WaitTimer {
  PollDesc* pd = nullptr;
  IoMode mode = detail::kRead;
  IoWait* iw = nullptr;

  static void on_fire(detail::Timer* t) {
    auto* self = static_cast<IoTimer*>(t);
    PollDesc* pd = self->pd;
    pd->lock.lock();
    Coroutine* g = pd->waiter[self->mode] == self->iw
                       ? detail::take_waiter(pd, self->mode, IoWait::kTimedOut)
                       : nullptr;
    pd->lock.unlock();
    self->done_firing();  // last touch of `self`
    if (g != nullptr) detail::unpark(g);
  }
};

// Parked: what park()'s commit step and shutdown's cancel share.
struct Parked {
  PollDesc* pd;
  IoMode mode;
  IoWait* iw;
  IoTimer* timer;  // null: no deadline

  static void commit(void* ctx) noexcept {
    auto* p = static_cast<Parked*>(ctx);
    if (p->timer != nullptr) p->timer->arm(detail::this_worker()->timers);
    p->pd->lock.unlock();  // now the poller may find it
  }

  static bool cancel(Coroutine*, void* ctx) noexcept {
    auto* p = static_cast<Parked*>(ctx);
    p->pd->lock.lock();
    const bool removed = p->pd->waiter[p->mode] == p->iw;
    if (removed) p->pd->waiter[p->mode] = nullptr;
    p->pd->lock.unlock();
    return removed;
  }
};

// WaitEnd undoes a parked wait's bookkeeping however the park ends
// (Cancelled included).
struct WaitEnd {
  detail::NetPoller* poller;
  IoTimer* timer;
  ~WaitEnd() {
    if (timer != nullptr) timer->disarm();
    poller->wait_end();
  }
};

// park_on(): the coroutine running on `w` waits for direction `mode` of pd.
void park_on(Worker* w, PollDesc* pd, IoMode mode, std::int64_t deadline, const char* op) {
  IoWait iw;
  iw.g = w->current;
  pd->lock.lock();
  if (pd->closing) {
    pd->lock.unlock();
    throw_errno(EBADF, op);
  }
  if (pd->ready[mode].load(std::memory_order_seq_cst) != 0) {  // an event came meanwhile
    pd->lock.unlock();
    return;
  }
  if (deadline != kNever && deadline <= detail::now_ns()) {
    pd->lock.unlock();
    throw_errno(ETIMEDOUT, op);
  }
  if (pd->waiter[mode] != nullptr) {
    pd->lock.unlock();
    detail::throw_second_waiter(mode, op);
  }
  pd->waiter[mode] = &iw;
  IoTimer timer;
  IoTimer* tp = nullptr;
  if (deadline != kNever) {
    timer.when = deadline;
    timer.fire = &IoTimer::on_fire;
    timer.waiter = iw.g;
    timer.pd = pd;
    timer.mode = mode;
    timer.iw = &iw;
    tp = &timer;
  }
  pd->poller->wait_begin();
  Parked parked{pd, mode, &iw, tp};
  {
    WaitEnd end{pd->poller, tp};
    detail::park(&Parked::commit, &parked, detail::WaitReason::kIOWait, &Parked::cancel, &parked);
  }
  switch (iw.result) {
    case IoWait::kTimedOut:
      throw_errno(ETIMEDOUT, op);
    case IoWait::kClosed:
      throw_errno(EBADF, op);
    default:
      return;
  }
}

// poll_thread(): a plain thread (or a coroutine on an unregistered Fd)
// waits in poll(2), in slices, so that close() from elsewhere is noticed.
void poll_thread(int fd, const PollDesc* pd, IoMode mode, std::int64_t deadline, const char* op) {
  for (;;) {
    if (pd != nullptr) {
      auto* p = const_cast<PollDesc*>(pd);
      p->lock.lock();
      const bool closing = p->closing;
      p->lock.unlock();
      if (closing) throw_errno(EBADF, op);
    }
    int slice = kThreadPollSliceMs;
    if (deadline != kNever) {
      const std::int64_t left = deadline - detail::now_ns();
      if (left <= 0) throw_errno(ETIMEDOUT, op);
      slice = static_cast<int>(std::min<std::int64_t>(slice, (left + 999'999) / 1'000'000));
    }
    pollfd p{fd, static_cast<short>(mode == detail::kRead ? POLLIN : POLLOUT), 0};
    const int r = ::poll(&p, 1, slice);
    if (r > 0) return;
    if (r < 0 && errno != EINTR) throw_errno(errno, op);
  }
}

// mark_ready(): a call on pd left direction `mode` possibly ready (it did
// not prove it drained or full): the next call tries first. Another call
// on the same descriptor may have parked meanwhile, having found the flag
// cleared by this one before its system call (two coroutines reading one
// descriptor): it is woken, or it would wait for an event that the data
// left behind never sends. The flag is stored before `inside` is read, and
// a call counts itself inside before it reads the flag (both sequentially
// consistent): either that call sees the flag, or this one sees it inside
// and takes it out of its wait under the lock.
void mark_ready(PollDesc* pd, IoMode mode) noexcept {
  if (pd == nullptr) return;
  pd->ready[mode].store(1, std::memory_order_seq_cst);
  if (pd->inside.load(std::memory_order_seq_cst) <= 1) return;  // no other call
  pd->lock.lock();
  Coroutine* g = detail::take_waiter(pd, mode, IoWait::kReady);
  pd->lock.unlock();
  if (g != nullptr) detail::unpark(g);
}

// QueuedCall: a batched call's commit step queues it in the worker's ring,
// once the coroutine is fully parked (submit_ring.hpp: a flush may follow
// at once).
struct QueuedCall {
  Worker* w;
  int fd;
  const Fd::BatchCall* batch;
  detail::RingCall call;

  static void commit(void* ctx) noexcept {
    auto* q = static_cast<QueuedCall*>(ctx);
    const Fd::BatchCall& b = *q->batch;
    Worker* w = q->w;
    if (b.kind == Fd::BatchCall::kReadv) {
      w->io_ring.queue_readv(q->fd, b.iov, b.iovcnt, &q->call);
    } else {
      w->io_ring.queue_send(q->fd, b.buf, b.len, b.flags, &q->call);
    }
  }
};

// try_batched() makes call `b` through the running coroutine's worker's
// submission ring, parked until the worker's next flush, when that saves a
// system call: another coroutine of the worker is runnable (its calls join
// the same batch) or calls are queued already. False when it did not (make
// the call directly); else `result` is what the system call returned (-1
// with errno) and `drained` what it proved.
bool try_batched(int fd, const Fd::BatchCall& b, long& result, bool& drained) {
  Worker* w = coroutine_worker();
  if (w == nullptr) return false;
  detail::SubmitRing& ring = w->io_ring;
  if (w->io_turn_over.load(std::memory_order_relaxed)) [[unlikely]] {
    // The monitor found this turn long already (a coroutine held the
    // worker a whole period): the call is made now, and what was queued
    // goes with a flush, instead of waiting for the end of the turn.
    w->io_turn_over.store(false, std::memory_order_relaxed);
    if (ring.busy()) w->flush_io_ring();
    return false;
  }
  if (!w->has_local_work() && !ring.busy()) return false;
  if (!ring.can_queue()) return false;
  QueuedCall q{w, fd, &b, {w->current, 0}};
  if (b.kind == Fd::BatchCall::kSend) detail::sanitizer::socket_release();
  // Never cancelled: the flush that wakes it comes within the worker's turn.
  detail::park(&QueuedCall::commit, &q, detail::WaitReason::kIOWait, nullptr, nullptr);
  const long r = q.call.result;
  if (r == detail::kRingCallNotRun) return false;
  if (r < 0) {
    detail::set_thread_errno(static_cast<int>(-r));  // (parked: maybe another thread)
    result = -1;
    return true;
  }
  result = r;
  if (b.kind == Fd::BatchCall::kReadv && r > 0) {
    detail::sanitizer::socket_acquire();
    std::size_t asked = 0;
    for (int i = 0; i < b.iovcnt; ++i) asked += b.iov[i].iov_len;
    drained = static_cast<std::size_t>(r) < asked;
  }
  return true;
}

// Inside counts a call in progress on a registered Fd (close() waits them out).
struct Inside {
  PollDesc* pd;
  explicit Inside(PollDesc* p) : pd(p) {
    if (pd != nullptr) pd->inside.fetch_add(1, std::memory_order_seq_cst);
  }
  ~Inside() {
    if (pd != nullptr) pd->inside.fetch_sub(1, std::memory_order_seq_cst);
  }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;
};

}  // namespace

UnexpectedEof::UnexpectedEof(const char* op, std::size_t got, std::size_t wanted)
    : std::system_error(std::make_error_code(std::errc::io_error),
                        std::string(op) + ": end of file after " + std::to_string(got) + " of " +
                            std::to_string(wanted) + " bytes") {}

Fd::Fd(int fd) {
  if (fd < 0) throw_errno(EBADF, "corun::io::Fd");
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) throw_errno(errno, "corun::io::Fd: fcntl");
  if ((flags & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    throw_errno(errno, "corun::io::Fd: fcntl");
  }
  if (Worker* w = coroutine_worker()) {
    PollDesc* pd = detail::poll_desc_alloc();
    pd->fd = fd;
    try {
      w->sched.netpoller().open(pd);
    } catch (const std::system_error& e) {
      detail::poll_desc_release(pd);
      throw std::system_error(e.code(), "corun::io::Fd: cannot poll this descriptor");
    }
    pd_ = pd;
  }
  fd_ = fd;
}

Fd::Fd(Fd&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      pd_(std::exchange(other.pd_, nullptr)),
      deadline_ns_{other.deadline_ns_[0], other.deadline_ns_[1]} {}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    pd_ = std::exchange(other.pd_, nullptr);
    deadline_ns_[0] = other.deadline_ns_[0];
    deadline_ns_[1] = other.deadline_ns_[1];
  }
  return *this;
}

Fd::~Fd() { close(); }

void Fd::set_read_deadline(Clock::time_point t) noexcept {
  deadline_ns_[0] = t == kNoDeadline ? kNever : detail::saturating_ns(t.time_since_epoch()).count();
}

void Fd::set_write_deadline(Clock::time_point t) noexcept {
  deadline_ns_[1] = t == kNoDeadline ? kNever : detail::saturating_ns(t.time_since_epoch()).count();
}

void Fd::check_open(const char* op) const {
  if (fd_ < 0) throw_errno(EBADF, op);
}

void Fd::set_ready(int dir, bool ready) noexcept {
  if (pd_ != nullptr) pd_->ready[dir].store(ready ? 1 : 0, std::memory_order_seq_cst);
}

void Fd::wait(int dir, const char* op) {
  check_open(op);
  detail::cancellation_point();
  const auto mode = static_cast<IoMode>(dir);
  Worker* w = coroutine_worker();
  if (w != nullptr && pd_ != nullptr) {
    park_on(w, pd_, mode, deadline_ns_[dir], op);
  } else {
    poll_thread(fd_, pd_, mode, deadline_ns_[dir], op);
  }
}

long Fd::perform(int dir, const char* op, Call call, void* ctx, const BatchCall* batch) {
  check_open(op);
  Inside inside(pd_);
  for (;;) {
    if (pd_ != nullptr) {
      // The last call proved the descriptor not ready: wait for an event
      // instead of a system call that would fail.
      if (pd_->ready[dir].load(std::memory_order_seq_cst) == 0) wait(dir, op);
      // Cleared before the call: an event from now on sets it again.
      pd_->ready[dir].store(0, std::memory_order_seq_cst);
    }
    bool drained = false;
    long r;
    if (batch == nullptr || pd_ == nullptr || !try_batched(fd_, *batch, r, drained)) {
      r = call(fd_, ctx, drained);
    }
    if (r >= 0) {
      if (!drained) mark_ready(pd_, static_cast<IoMode>(dir));
      return r;
    }
    const int err = detail::thread_errno();  // (the loop may have parked: see thread_errno.hpp)
    if (err == EINTR) {
      mark_ready(pd_, static_cast<IoMode>(dir));
      continue;
    }
    if (err != EAGAIN && err != EWOULDBLOCK) {
      mark_ready(pd_, static_cast<IoMode>(dir));
      throw_errno(err, op);
    }
    if (pd_ == nullptr) wait(dir, op);  // registered: the loop's first step waits
  }
}

std::size_t Fd::read(void* buf, std::size_t n) {
  if (n == 0) {
    check_open("read");
    return 0;
  }
  std::pair<void*, std::size_t> args(buf, n);
  return static_cast<std::size_t>(perform(
      0, "read",
      [](int fd, void* ctx, bool&) -> long {
        auto* a = static_cast<std::pair<void*, std::size_t>*>(ctx);
        return detail::sys_read(fd, a->first, a->second);
      },
      &args));
}

void Fd::read_exact(void* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const std::size_t r = read(static_cast<char*>(buf) + got, n - got);
    if (r == 0) throw UnexpectedEof("read_exact", got, n);
    got += r;
  }
}

std::size_t Fd::write(const void* buf, std::size_t n) {
  if (n == 0) {
    check_open("write");
    return 0;
  }
  std::pair<const void*, std::size_t> args(buf, n);
  return static_cast<std::size_t>(perform(
      1, "write",
      [](int fd, void* ctx, bool&) -> long {
        auto* a = static_cast<std::pair<const void*, std::size_t>*>(ctx);
        return detail::sys_write(fd, a->first, a->second);
      },
      &args));
}

void Fd::write_all(const void* buf, std::size_t n) {
  std::size_t done = 0;
  while (done < n) done += write(static_cast<const char*>(buf) + done, n - done);
}

// wait_ready(): the flag says nothing certain here (the caller's own calls
// bypass it), so it is cleared and the descriptor asked once, without
// blocking; an event from then on sets the flag again.
void Fd::wait_ready(int dir, const char* op) {
  check_open(op);
  set_ready(dir, false);
  pollfd p{fd_, static_cast<short>(dir == 0 ? POLLIN : POLLOUT), 0};
  if (::poll(&p, 1, 0) > 0) {
    set_ready(dir, true);
    detail::cancellation_point();
    return;
  }
  wait(dir, op);
}

void Fd::wait_readable() { wait_ready(0, "wait_readable"); }

void Fd::wait_writable() { wait_ready(1, "wait_writable"); }

void Fd::close() noexcept {
  if (fd_ < 0) return;
  if (PollDesc* pd = pd_) {
    pd->lock.lock();
    pd->closing = true;
    Coroutine* r = detail::take_waiter(pd, detail::kRead, IoWait::kClosed);
    Coroutine* w = detail::take_waiter(pd, detail::kWrite, IoWait::kClosed);
    pd->lock.unlock();
    if (r != nullptr) detail::unpark(r);
    if (w != nullptr) detail::unpark(w);
    // Calls still inside (woken, or in a system call) leave before the
    // descriptor goes: its number may be reused at once.
    // A coroutine gives its worker way, as those calls may be coroutines
    // of the same worker (never a cancellation point: close() runs in
    // destructors, during shutdown and while exceptions unwind).
    while (pd->inside.load(std::memory_order_seq_cst) > 0) {
      if (Worker* w = coroutine_worker()) {
        w->sched.give_way(*w);
      } else {
        std::this_thread::yield();
      }
    }
    // Closing the descriptor takes it out of the epoll set; events already
    // collected are stale by the generation release() bumps.
    pd_ = nullptr;
    detail::poll_desc_release(pd);
  }
  ::close(std::exchange(fd_, -1));
}

int Fd::release() noexcept {
  if (PollDesc* pd = std::exchange(pd_, nullptr)) {
    pd->poller->close(pd);
    detail::poll_desc_release(pd);
  }
  return std::exchange(fd_, -1);
}

}  // namespace corun::io
