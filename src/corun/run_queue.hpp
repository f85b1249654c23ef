// run_queue.hpp: the run queues of the scheduler.
//
// LocalRunQueue is a worker's bounded ring of runnable coroutines (Go's
// p.runq): the owner pushes and pops at the ends without locks; thieves take
// half of it with one CAS on `head_`. GlobalRunQueue is the unbounded,
// lock-guarded overflow queue shared by all workers (Go's sched.runq).
#pragma once

#include <atomic>
#include <cstdint>

#include "coroutine.hpp"
#include "corun/detail/spin_lock.hpp"

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

class GlobalRunQueue {
 public:
  void push(Coroutine* g) noexcept { push_list(&g, 1); }

  // push_list() appends n coroutines in order; they are linked before the
  // lock is taken, so the lock is held for a constant time.
  void push_list(Coroutine* const* gs, std::uint32_t n) noexcept {
    if (n == 0) return;
    for (std::uint32_t i = 0; i + 1 < n; ++i) gs[i]->next = gs[i + 1];
    gs[n - 1]->next = nullptr;
    lock_.lock();
    if (tail_ != nullptr) {
      tail_->next = gs[0];
    } else {
      head_ = gs[0];
    }
    tail_ = gs[n - 1];
    // Sequentially consistent: publishes the work before the producer reads
    // the idle and spinning counts (the scheduler's I3).
    size_.fetch_add(n, std::memory_order_seq_cst);
    lock_.unlock();
  }

  // pop_batch() takes up to `max` coroutines: returns the first, stores the
  // rest into `rest` (at most max-1).
  Coroutine* pop_batch(Coroutine** rest, std::uint32_t max, std::uint32_t& nrest) noexcept {
    nrest = 0;
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    lock_.lock();
    Coroutine* first = head_;
    if (first != nullptr) {
      Coroutine* g = first->next;
      while (g != nullptr && nrest + 1 < max) {
        rest[nrest++] = g;
        g = g->next;
      }
      head_ = g;
      if (g == nullptr) tail_ = nullptr;
      size_.fetch_sub(nrest + 1, std::memory_order_relaxed);
    }
    lock_.unlock();
    if (first != nullptr) first->next = nullptr;
    for (std::uint32_t i = 0; i < nrest; ++i) rest[i]->next = nullptr;
    return first;
  }

  bool empty() const noexcept { return size_.load(std::memory_order_seq_cst) == 0; }
  std::int64_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  // A spin lock: held for a pointer splice or one batch's walk, never
  // across a call that blocks; a futex-backed mutex slept on every
  // contended hand-off between a spawner and a thief.
  SpinLock lock_;
  Coroutine* head_ = nullptr;
  Coroutine* tail_ = nullptr;
  std::atomic<std::int64_t> size_{0};
};

}  // namespace corun::detail
