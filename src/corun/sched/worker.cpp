// worker.cpp: Worker's colder paths (see worker.hpp).
#include "corun/sched/worker.hpp"

#include <algorithm>
#include <cstdint>
#include <thread>

#include "corun/detail/park.hpp"

namespace corun::detail {

void Worker::flush_io_ring() noexcept {
  for (Coroutine* g = io_ring.flush(); g != nullptr;) {
    Coroutine* next = g->next;
    g->next = nullptr;
    unpark(g);
    g = next;
  }
}

Worker::Worker(Scheduler& s, int i, GlobalRunQueue& global, const WorkerSetup& setup)
    : sched(s),
      index(i),
      rng(0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(i + 1)),
      global_(global),
      time_slice_ns_(setup.time_slice_ns),
      procs_(setup.procs),
      alone_(setup.procs == 1),
      chaos_(setup.chaos) {
  if (chaos_) rng ^= setup.chaos_seed * 0x9E3779B97F4A7C15ULL + 1;
  runnext.set_mode(alone_             ? RunnextSlot::Mode::kUnshared
                   : setup.fast_fence ? RunnextSlot::Mode::kFenced
                                      : RunnextSlot::Mode::kLocked);
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
bool Worker::runnext_slice_spent() noexcept {
  const std::int64_t slice = time_slice_ns_;
  const std::uint32_t n = runnext_streak;
  if (slice <= 0) {
    runnext_check = UINT32_MAX;  // not for the rest of this streak
    return false;
  }
  const std::int64_t now = now_ns();
  if (n <= kRunnextFirstCheck) {
    runnext_since = now;  // the streak is timed from here
    runnext_check = n + kRunnextFirstCheck;
    return false;
  }
  const std::int64_t elapsed = now - runnext_since;
  if (elapsed >= slice) {
    runnext_streak = 0;
    runnext_check = kRunnextFirstCheck;
    return true;
  }
  const std::int64_t per_pick = std::max<std::int64_t>(1, elapsed / (n - kRunnextFirstCheck));
  const std::int64_t picks_left = (slice - elapsed) / per_pick + 1;
  runnext_check =
      n + static_cast<std::uint32_t>(std::min<std::int64_t>(picks_left, kRunnextMaxInterval));
  return false;
}

// put_slow() moves half the full ring, plus g, to the global queue (Go's
// runqputslow).
void Worker::put_slow(Coroutine* g) noexcept {
  Coroutine* batch[LocalRunQueue::kCapacity / 2 + 1];
  std::uint32_t n = runq.grab_half(batch);
  batch[n++] = g;
  global_.push_list(batch, n);
}

// pick_global() takes a fair share of the global queue into the ring (Go's
// globrunqget): its own function, so the fast path needs no stack frame for
// the batch.
__attribute__((noinline)) Coroutine* Worker::pick_global() noexcept {
  Coroutine* rest[LocalRunQueue::kCapacity / 2];
  std::uint32_t n;
  const std::uint32_t max = std::min<std::uint32_t>(
      LocalRunQueue::kCapacity / 2, static_cast<std::uint32_t>(global_.size() / procs_ + 1));
  Coroutine* g = global_.pop_batch(rest, max, n);
  if (g != nullptr) runq.push_batch(rest, n);
  return g;
}

void Worker::chaos_delay() noexcept {
  const auto spins = static_cast<std::uint32_t>(random() % 4096);
  for (std::uint32_t i = 0; i < spins; ++i) cpu_relax();
  if (spins % 16 == 0) std::this_thread::yield();  // and now and then lose the CPU
}

}  // namespace corun::detail
