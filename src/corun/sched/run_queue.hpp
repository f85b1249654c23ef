// run_queue.hpp: the run queues of the scheduler.
//
// LocalRunQueue is a worker's bounded ring of runnable coroutines (Go's
// p.runq): the owner pushes and pops at the ends without locks; thieves take
// half of it with one CAS on `head_`. GlobalRunQueue is the unbounded,
// lock-guarded overflow queue shared by all workers (Go's sched.runq).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "corun/detail/spin_lock.hpp"
#include "corun/sched/coroutine.hpp"

namespace corun::detail {

class LocalRunQueue {
 public:
  // kCapacity: Go's 256. A power of two, so indices wrap with a mask.
  static constexpr std::uint32_t kCapacity = 256;

  // push() appends `g` (owner only); false when the ring is full.
  bool push(Coroutine* g) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= kCapacity) return false;
    slots_[t & kMask].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // pop() takes the oldest coroutine (owner only); null when empty.
  Coroutine* pop() noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      Coroutine* g = slots_[h & kMask].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return g;
      }
    }
  }

  // pop_unshared() is pop() for a ring no thief reaches (the only worker's):
  // a plain load and store instead of the compare-and-swap, which was a
  // fifth of a yield's cost.
  Coroutine* pop_unshared() noexcept {
    const std::uint32_t h = head_.load(std::memory_order_relaxed);
    if (tail_.load(std::memory_order_relaxed) == h) return nullptr;
    Coroutine* g = slots_[h & kMask].load(std::memory_order_relaxed);
    head_.store(h + 1, std::memory_order_release);
    return g;
  }

  // grab_half() moves the older half of the ring into `out` (thieves and the
  // owner's overflow path); returns how many. `out` holds kCapacity/2.
  std::uint32_t grab_half(Coroutine** out) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n -= n / 2;
      if (n == 0) return 0;
      if (n > kCapacity / 2) {  // read head and tail at different moments: retry
        h = head_.load(std::memory_order_acquire);
        continue;
      }
      for (std::uint32_t i = 0; i < n; ++i) {
        out[i] = slots_[(h + i) & kMask].load(std::memory_order_relaxed);
      }
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return n;
      }
    }
  }

  // push_batch() appends coroutines the owner just stole (fits: ring empty).
  void push_batch(Coroutine* const* gs, std::uint32_t n) noexcept {
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < n; ++i)
      slots_[(t + i) & kMask].store(gs[i], std::memory_order_relaxed);
    tail_.store(t + n, std::memory_order_release);
  }

  std::uint32_t size() const noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    return t - h;
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  static constexpr std::uint32_t kMask = kCapacity - 1;
  alignas(64) std::atomic<std::uint32_t> head_{0};  // consumers CAS it
  alignas(64) std::atomic<std::uint32_t> tail_{0};  // only the owner stores it
  alignas(64) std::atomic<Coroutine*> slots_[kCapacity] = {};
};

// GlobalRunQueue keeps its coroutines as pointers in one growable ring, so
// taking a batch copies pointers and never reads the coroutines themselves:
// linked through them, a batch of 128 was a walk of 128 cache misses under
// the lock (a fifth of `spawn`'s time at procs 2, an eighth at procs 1).
// The ring doubles when full and never shrinks: 8 bytes per coroutine of
// the largest backlog the runtime has had.
class GlobalRunQueue {
 public:
  GlobalRunQueue() = default;
  GlobalRunQueue(const GlobalRunQueue&) = delete;
  GlobalRunQueue& operator=(const GlobalRunQueue&) = delete;

  void push(Coroutine* g) noexcept { push_list(&g, 1); }

  // push_list() appends n coroutines in order.
  void push_list(Coroutine* const* gs, std::uint32_t n) noexcept {
    if (n == 0) return;
    lock_.lock();
    const auto count = static_cast<std::size_t>(size_.load(std::memory_order_relaxed));
    if (count + n > capacity_) grow_locked(count + n);
    const std::size_t mask = capacity_ - 1;
    for (std::uint32_t i = 0; i < n; ++i) slots_[(head_ + count + i) & mask] = gs[i];
    // Sequentially consistent: publishes the work before the producer reads
    // the idle and spinning counts (the scheduler's I3).
    size_.fetch_add(n, std::memory_order_seq_cst);
    lock_.unlock();
  }

  // pop_batch() takes up to `max` (>= 1) coroutines: returns the first,
  // stores the rest into `rest` (at most max-1).
  Coroutine* pop_batch(Coroutine** rest, std::uint32_t max, std::uint32_t& nrest) noexcept {
    nrest = 0;
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    lock_.lock();
    Coroutine* first = nullptr;
    const auto count = static_cast<std::size_t>(size_.load(std::memory_order_relaxed));
    if (count > 0) {
      const std::size_t mask = capacity_ - 1;
      const std::size_t take = count < max ? count : max;
      first = slots_[head_];
      for (std::size_t i = 1; i < take; ++i) rest[nrest++] = slots_[(head_ + i) & mask];
      head_ = (head_ + take) & mask;
      size_.fetch_sub(static_cast<std::int64_t>(take), std::memory_order_relaxed);
    }
    lock_.unlock();
    return first;
  }

  bool empty() const noexcept { return size_.load(std::memory_order_seq_cst) == 0; }
  std::int64_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  // grow_locked() makes room for `need` coroutines, the ones queued moved
  // in order to slot 0.
  void grow_locked(std::size_t need) noexcept;

  // A spin lock: held for a copy of pointers (or, rarely, a growth), never
  // across a call that blocks; a futex-backed mutex slept on every
  // contended hand-off between a spawner and a thief.
  SpinLock lock_;
  std::unique_ptr<Coroutine*[]> slots_;  // capacity_ slots, a power of two
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;  // the slot of the oldest
  // How many are queued: changed only under lock_, read without it too.
  std::atomic<std::int64_t> size_{0};
};

}  // namespace corun::detail
