// run_queue.hpp: the run queues of the scheduler.
//
// LocalRunQueue is a worker's bounded ring of runnable coroutines (Go's
// p.runq): the owner pushes and pops at the ends without locks; thieves take
// half of it with one CAS on `head_`. GlobalRunQueue is the unbounded,
// mutex-guarded overflow queue shared by all workers (Go's sched.runq).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "coroutine.hpp"

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
    for (std::uint32_t i = 0; i < n; ++i) slots_[(t + i) & kMask].store(gs[i], std::memory_order_relaxed);
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
  void push(Coroutine* g) noexcept {
    std::lock_guard<std::mutex> lk(mu_);
    push_locked(g);
  }
  void push_list(Coroutine* const* gs, std::uint32_t n) noexcept {
    std::lock_guard<std::mutex> lk(mu_);
    for (std::uint32_t i = 0; i < n; ++i) push_locked(gs[i]);
  }

  // pop_batch() takes up to `max` coroutines: returns the first, stores the
  // rest into `rest` (at most max-1).
  Coroutine* pop_batch(Coroutine** rest, std::uint32_t max, std::uint32_t& nrest) noexcept {
    nrest = 0;
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<std::mutex> lk(mu_);
    Coroutine* first = pop_locked();
    while (first != nullptr && nrest + 1 < max && head_ != nullptr) rest[nrest++] = pop_locked();
    return first;
  }

  bool empty() const noexcept { return size_.load(std::memory_order_seq_cst) == 0; }
  std::int64_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  void push_locked(Coroutine* g) noexcept {
    g->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = g;
    } else {
      head_ = g;
    }
    tail_ = g;
    size_.fetch_add(1, std::memory_order_seq_cst);
  }
  Coroutine* pop_locked() noexcept {
    Coroutine* g = head_;
    if (g == nullptr) return nullptr;
    head_ = g->next;
    if (head_ == nullptr) tail_ = nullptr;
    g->next = nullptr;
    size_.fetch_sub(1, std::memory_order_relaxed);
    return g;
  }

  std::mutex mu_;
  Coroutine* head_ = nullptr;
  Coroutine* tail_ = nullptr;
  std::atomic<std::int64_t> size_{0};
};

}  // namespace corun::detail
