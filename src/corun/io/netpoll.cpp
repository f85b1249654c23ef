// netpoll.cpp: NetPoller (see netpoll.hpp) on Linux's epoll.
#include "corun/io/netpoll.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <system_error>

#include "corun/io/io_wait.hpp"
#include "corun/io/poll_desc.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun::detail {

namespace {

// kBreakTag: the eventfd's tag (no PollDesc has index 2^32-1 in generation
// 2^32-1 before 2^64 reuses).
constexpr std::uint64_t kBreakTag = ~std::uint64_t{0};
constexpr int kMaxEvents = 128;
// kStalePollNs: the monitor polls when nobody has for this long (Go's
// sysmon: 10 ms).
constexpr std::int64_t kStalePollNs = 10'000'000;

}  // namespace

void raise_open_files_limit() noexcept {
  static const bool once = [] {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      (void)setrlimit(RLIMIT_NOFILE, &lim);
    }
    return true;
  }();
  (void)once;
}

NetPoller::NetPoller(Scheduler& sched) : sched_(sched) { raise_open_files_limit(); }

NetPoller::~NetPoller() {
  const int ep = epfd_.load(std::memory_order_acquire);
  if (ep >= 0) ::close(ep);
  if (const int ev = event_fd_.load(std::memory_order_acquire); ev >= 0) ::close(ev);
}

void NetPoller::init() {
  std::lock_guard<std::mutex> lk(init_mu_);
  if (epfd_.load(std::memory_order_relaxed) >= 0) return;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  const int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ev < 0) {
    const int e = errno;
    ::close(ep);
    throw std::system_error(e, std::generic_category(), "eventfd");
  }
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = kBreakTag;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) != 0) {
    const int err = errno;
    ::close(ep);
    ::close(ev);
    throw std::system_error(err, std::generic_category(), "epoll_ctl");
  }
  event_fd_.store(ev, std::memory_order_release);
  epfd_.store(ep, std::memory_order_release);
}

void NetPoller::open(PollDesc* pd) {
  if (epfd_.load(std::memory_order_acquire) < 0) init();
  epoll_event e{};
  e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  e.data.u64 = pd->event_tag();
  if (epoll_ctl(epfd_.load(std::memory_order_relaxed), EPOLL_CTL_ADD, pd->fd, &e) != 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl");
  }
  pd->poller = this;
}

void NetPoller::close(PollDesc* pd) noexcept {
  epoll_event e{};
  (void)epoll_ctl(epfd_.load(std::memory_order_relaxed), EPOLL_CTL_DEL, pd->fd, &e);
}

void NetPoller::interrupt() noexcept {
  const int ev = event_fd_.load(std::memory_order_acquire);
  if (ev < 0) return;
  if (break_pending_.exchange(1, std::memory_order_seq_cst) != 0) return;  // coalesced
  const std::uint64_t one = 1;
  (void)!::write(ev, &one, sizeof one);
}

// wait_events() is epoll_wait with a timeout in nanoseconds (-1: none):
// epoll_pwait2 (Linux 5.11) where there is one, so that a timer is not late
// by up to a millisecond; else epoll_wait, rounding up.
static int wait_events(int ep, epoll_event* events, std::int64_t timeout_ns) noexcept {
  static std::atomic<bool> no_pwait2{false};
  if (timeout_ns > 0 && !no_pwait2.load(std::memory_order_relaxed)) {
    const timespec ts{.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000),
                      .tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000)};
    const int n = epoll_pwait2(ep, events, kMaxEvents, &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    no_pwait2.store(true, std::memory_order_relaxed);
  }
  int ms = -1;
  if (timeout_ns >= 0) {
    ms = static_cast<int>(std::min<std::int64_t>((timeout_ns + 999'999) / 1'000'000, 1 << 30));
  }
  return epoll_wait(ep, events, kMaxEvents, ms);
}

Coroutine* NetPoller::poll(std::int64_t timeout_ns, bool blocker) noexcept {
  const int ep = epfd_.load(std::memory_order_acquire);
  if (ep < 0) return nullptr;
  epoll_event events[kMaxEvents];
  const int n = wait_events(ep, events, timeout_ns);
  last_poll_ns_.store(now_ns(), std::memory_order_relaxed);
  Coroutine* chain = nullptr;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t tag = events[i].data.u64;
    if (tag == kBreakTag) {
      std::uint64_t v;
      (void)!::read(event_fd_.load(std::memory_order_relaxed), &v, sizeof v);
      break_pending_.store(0, std::memory_order_seq_cst);
      // Meant for the blocked worker, if another took it: pass it on.
      if (!blocker && blocker_.load(std::memory_order_seq_cst) != nullptr) interrupt();
      continue;
    }
    PollDesc* pd = poll_desc_at(static_cast<std::uint32_t>(tag));
    if (pd == nullptr) continue;
    const std::uint32_t ev = events[i].events;
    const bool readable = (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    const bool writable = (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
    pd->lock.lock();
    if (pd->seq != static_cast<std::uint32_t>(tag >> 32)) {  // closed since
      pd->lock.unlock();
      continue;
    }
    Coroutine* r = nullptr;
    Coroutine* w = nullptr;
    if (readable) {
      pd->ready[kRead].store(1, std::memory_order_seq_cst);
      r = take_waiter(pd, kRead, IoWait::kReady);
    }
    if (writable) {
      pd->ready[kWrite].store(1, std::memory_order_seq_cst);
      w = take_waiter(pd, kWrite, IoWait::kReady);
    }
    pd->lock.unlock();
    for (Coroutine* g : {r, w}) {
      if (g == nullptr) continue;
      g->next = chain;
      chain = g;
    }
  }
  return chain;
}

void NetPoller::make_runnable(Coroutine* chain, bool first_here) noexcept {
  while (chain != nullptr) {
    Coroutine* g = chain;
    chain = g->next;
    g->next = nullptr;
    if (first_here && !g->is_thread) {
      g->sched->ready_here(g);  // (its own runtime: off it, as any waker from outside)
      first_here = false;
    } else {
      unpark(g);
    }
  }
}

bool NetPoller::poll_ready() {
  if (!waiting() || blocker_.load(std::memory_order_relaxed) != nullptr) return false;
  Coroutine* chain = poll(0, false);
  if (chain == nullptr) return false;
  make_runnable(chain, /*first_here=*/true);
  return true;
}

bool NetPoller::block(Worker& w, std::int64_t deadline, const std::atomic<bool>& stopping,
                      Coroutine*& ready) {
  ready = nullptr;
  if (!waiting()) return false;
  const Worker* none = nullptr;
  if (!blocker_.compare_exchange_strong(none, &w, std::memory_order_seq_cst)) return false;
  for (;;) {
    if (w.wake_word.load(std::memory_order_seq_cst) != 0) break;
    if (stopping.load(std::memory_order_seq_cst)) break;
    std::int64_t timeout_ns = -1;
    if (deadline != TimerHeap::kNever) {
      timeout_ns = deadline - now_ns();
      if (timeout_ns <= 0) break;
    }
    ready = poll(timeout_ns, /*blocker=*/true);
    if (ready != nullptr) break;
  }
  blocker_.store(nullptr, std::memory_order_seq_cst);
  return true;
}

void NetPoller::poll_if_stale(std::int64_t now) noexcept {
  if (!waiting() || blocker_.load(std::memory_order_relaxed) != nullptr) return;
  if (now - last_poll_ns_.load(std::memory_order_relaxed) < kStalePollNs) return;
  make_runnable(poll(0, false));
}

}  // namespace corun::detail
