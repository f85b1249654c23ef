// submit_ring.cpp: SubmitRing (see submit_ring.hpp) on the raw io_uring
// system calls: the two rings and the submission entries are mapped once,
// entries are filled in place and published by the submission queue's tail
// at flush(), completions are read off the completion queue's head.
#include "corun/io/submit_ring.hpp"

#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORUN_ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define CORUN_ON_VALGRIND() false
#endif

#include "corun/sched/coroutine.hpp"

namespace corun::detail {

namespace {

// kSubmitAttempts: io_uring_enter is retried this often when the kernel is
// short of memory (EAGAIN) or its completion queue of backlog (EBUSY); what
// it still did not take waits for the worker's next flush.
constexpr int kSubmitAttempts = 3;

bool disabled_by_environment() noexcept {
  const char* v = std::getenv("CORUN_IO_URING");
  return (v != nullptr && std::strcmp(v, "0") == 0) || CORUN_ON_VALGRIND();
}

int ring_setup(unsigned entries, io_uring_params& p) noexcept {
  return static_cast<int>(::syscall(__NR_io_uring_setup, entries, &p));
}

long ring_enter(int fd, unsigned to_submit) noexcept {
  return ::syscall(__NR_io_uring_enter, fd, to_submit, 0, 0, nullptr, 0);
}

unsigned load_acquire(const unsigned* p) noexcept {
  return std::atomic_ref<const unsigned>(*p).load(std::memory_order_acquire);
}

void store_release(unsigned* p, unsigned v) noexcept {
  std::atomic_ref<unsigned>(*p).store(v, std::memory_order_release);
}

// call_of(): the RingCall an entry's user_data names (queue_*() put the
// pointer there).
RingCall* call_of(std::uint64_t user_data) noexcept {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): a pointer's round trip
  return reinterpret_cast<RingCall*>(user_data);
}

}  // namespace

SubmitRing::~SubmitRing() { close(); }

bool SubmitRing::open() noexcept {
  state_ = State::kUnavailable;
  if (disabled_by_environment()) return false;
  // SUBMIT_ALL (Linux 5.18): an entry that fails does not stop the rest;
  // COOP_TASKRUN (5.19): no interrupt to run completion work (none is
  // expected: every call completes inline). Older kernels: neither.
  io_uring_params p{};
  p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  int fd = ring_setup(kEntries, p);
  if (fd < 0 && errno == EINVAL) {
    p = io_uring_params{};
    fd = ring_setup(kEntries, p);
  }
  if (fd < 0) return false;
  fd_ = fd;
  sq_map_len_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_map_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  sqes_len_ = p.sq_entries * sizeof(io_uring_sqe);
  auto map = [&](std::size_t len, off_t what) -> void* {
    void* m = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, what);
    return m == MAP_FAILED ? nullptr : m;
  };
  sq_map_ = map(sq_map_len_, IORING_OFF_SQ_RING);
  cq_map_ = map(cq_map_len_, IORING_OFF_CQ_RING);
  void* sqes = map(sqes_len_, IORING_OFF_SQES);
  sqes_ = static_cast<io_uring_sqe*>(sqes);
  if (sq_map_ == nullptr || cq_map_ == nullptr || sqes == nullptr) {
    close();
    return false;
  }
  auto* sq = static_cast<char*>(sq_map_);
  auto* cq = static_cast<char*>(cq_map_);
  sq_head_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
  sq_tail_shared_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  sq_mask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  sq_array_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  cq_head_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
  cq_tail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
  cq_mask_ = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
  // At most sq_entries calls are queued or in flight, so the completion
  // queue (twice that, or more) never overflows.
  sq_entries_ = p.sq_entries;
  sq_tail_ = *sq_tail_shared_;
  state_ = State::kOpen;
  shared_fd_.store(fd, std::memory_order_release);
  return true;
}

void SubmitRing::close() noexcept {
  shared_fd_.store(-1, std::memory_order_relaxed);
  if (sqes_ != nullptr) ::munmap(sqes_, sqes_len_);
  if (cq_map_ != nullptr) ::munmap(cq_map_, cq_map_len_);
  if (sq_map_ != nullptr) ::munmap(sq_map_, sq_map_len_);
  sqes_ = nullptr;
  cq_map_ = sq_map_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SubmitRing::can_queue() noexcept {
  if (state_ != State::kOpen && (state_ != State::kUnopened || !open())) return false;
  return outstanding_ < sq_entries_;
}

io_uring_sqe* SubmitRing::next_sqe(RingCall* call) noexcept {
  const unsigned idx = sq_tail_ & sq_mask_;
  io_uring_sqe* s = &sqes_[idx];
  std::memset(s, 0, sizeof *s);
  sq_array_[idx] = idx;
  s->user_data = reinterpret_cast<std::uint64_t>(call);
  ++outstanding_;
  ++stats_.calls;
  return s;
}

// publish(): the entry just filled becomes the kernel's to take (and the
// monitor's to submit).
void SubmitRing::publish() noexcept { store_release(sq_tail_shared_, ++sq_tail_); }

unsigned SubmitRing::unsubmitted() const noexcept { return sq_tail_ - load_acquire(sq_head_); }

void SubmitRing::queue_readv(int fd, const iovec* iov, int n, RingCall* call) noexcept {
  io_uring_sqe* s = next_sqe(call);
  s->opcode = IORING_OP_READV;
  s->fd = fd;
  s->addr = reinterpret_cast<std::uint64_t>(iov);
  s->len = static_cast<unsigned>(n);
  s->off = ~std::uint64_t{0};  // the current position (a socket has none)
  s->rw_flags = RWF_NOWAIT;    // EAGAIN at once, never a wait in the kernel
  publish();
}

void SubmitRing::queue_send(int fd, const void* buf, std::size_t len, int flags,
                            RingCall* call) noexcept {
  io_uring_sqe* s = next_sqe(call);
  s->opcode = IORING_OP_SEND;
  s->fd = fd;
  s->addr = reinterpret_cast<std::uint64_t>(buf);
  s->len = static_cast<unsigned>(len);
  s->msg_flags = static_cast<unsigned>(flags | MSG_DONTWAIT);
  publish();
}

// submit(): hands the kernel what is queued. It runs each call before
// io_uring_enter returns (they do not wait), so their completions are
// there to collect right after.
void SubmitRing::submit(Coroutine**& tail) noexcept {
  for (int attempt = 0; attempt < kSubmitAttempts;) {
    const unsigned n = unsubmitted();  // (the monitor may have taken some)
    if (n == 0) return;
    ++stats_.submits;
    const long r = ring_enter(fd_, n);
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    if (r == 0 || errno == EAGAIN || errno == EBUSY) {
      ++attempt;
      continue;
    }
    give_up_queued(tail);  // the ring is unusable (EBADF, EFAULT, ...)
    return;
  }
}

// give_up_queued(): io_uring_enter failed for good. The calls it did not
// take are handed back to their coroutines as not run (they make them
// directly), and no call is queued here again, nor submitted by the
// monitor (which would fail the same way); the ring stays mapped for any
// completion still to come.
void SubmitRing::give_up_queued(Coroutine**& tail) noexcept {
  state_ = State::kUnavailable;
  shared_fd_.store(-1, std::memory_order_seq_cst);
  for (unsigned i = load_acquire(sq_head_); i != sq_tail_; ++i) {
    auto* call = call_of(sqes_[sq_array_[i & sq_mask_]].user_data);
    call->result = kRingCallNotRun;
    --outstanding_;
    *tail = call->g;
    tail = &call->g->next;
  }
}

void SubmitRing::submit_stalled() noexcept {
  const int fd = shared_fd_.load(std::memory_order_acquire);
  if (fd < 0) return;
  // Racy by design: the kernel takes what the owner has published, at
  // most `n`, under its own lock; a stale `n` only asks for too few or
  // too many.
  const unsigned n = load_acquire(sq_tail_shared_) - load_acquire(sq_head_);
  if (n == 0) return;
  stalled_submits_.fetch_add(1, std::memory_order_relaxed);
  (void)ring_enter(fd, n);
}

void SubmitRing::collect(Coroutine**& tail) noexcept {
  unsigned head = *cq_head_;
  const unsigned end = load_acquire(cq_tail_);
  for (; head != end; ++head) {
    const io_uring_cqe& e = cqes_[head & cq_mask_];
    auto* call = call_of(e.user_data);
    call->result = e.res;
    --outstanding_;
    *tail = call->g;  // read before the caller wakes it: `call` is on its stack
    tail = &call->g->next;
  }
  store_release(cq_head_, head);
}

Coroutine* SubmitRing::flush() noexcept {
  Coroutine* chain = nullptr;
  Coroutine** tail = &chain;
  if (state_ == State::kOpen) submit(tail);
  if (outstanding_ > 0) collect(tail);
  *tail = nullptr;
  if (lagging_.load(std::memory_order_relaxed) != (outstanding_ > 0)) {
    lagging_.store(outstanding_ > 0, std::memory_order_seq_cst);
  }
  return chain;
}

}  // namespace corun::detail
