// timer_heap.cpp: see timer_heap.hpp.
#include "corun/sched/timer_heap.hpp"

#include <algorithm>
#include <chrono>

#include "corun/sched/timer_firing.hpp"

namespace corun::detail {

namespace {
// kCompactMin: below this many dead entries, compaction is not worth it.
constexpr std::size_t kCompactMin = 64;
}  // namespace

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TimerHeap::publish() {
  earliest_.store(heap_.empty() ? kNever : heap_[0].when, std::memory_order_release);
  armed_.store(heap_.size() - dead_, std::memory_order_release);
}

void TimerHeap::push_locked(Timer* t) {
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[slot] = t;
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(t);
  }
  t->slot = slot;
  heap_.push_back({t->when, slot});
  sift_up(heap_.size() - 1);
  publish();
}

bool TimerHeap::remove_locked(Timer* t) {
  if (t->slot == Timer::kNoSlot) return false;
  slots_[t->slot] = nullptr;  // the entry stays until it surfaces
  t->slot = Timer::kNoSlot;
  ++dead_;
  if (dead_ >= kCompactMin && dead_ > heap_.size() / 2) drop_dead_entries();
  publish();
  return true;
}

void TimerHeap::pop_top() {
  free_slots_.push_back(heap_[0].slot);
  heap_[0] = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
}

void TimerHeap::drop_dead_entries() {
  std::vector<Entry> live;
  live.reserve(heap_.size() - dead_);
  for (const Entry& e : heap_) {
    if (slots_[e.slot] != nullptr) {
      live.push_back(e);
    } else {
      free_slots_.push_back(e.slot);
    }
  }
  heap_.swap(live);
  dead_ = 0;
  for (std::size_t i = heap_.size() / 4 + 1; i-- > 0;) {
    if (i < heap_.size()) sift_down(i);
  }
}

int TimerHeap::run_expired(std::int64_t now) {
  if (earliest() > now) return 0;
  // Fire outside the lock: firing unparks coroutines, which takes other locks.
  constexpr int kBatch = 128;
  Timer* due[kBatch];
  int total = 0;
  for (;;) {
    int n = 0;
    lock_.lock();
    while (n < kBatch && !heap_.empty() && heap_[0].when <= now) {
      Timer* t = slots_[heap_[0].slot];
      pop_top();
      if (t == nullptr) {
        --dead_;
        continue;
      }
      t->slot = Timer::kNoSlot;
      due[n++] = t;
    }
    const bool more = !heap_.empty() && heap_[0].when <= now;
    publish();
    lock_.unlock();
    {
      const FiringTimers firing;  // what they wake, a timer woke (the trace says so)
      for (int i = 0; i < n; ++i) due[i]->fire(due[i]);
    }
    total += n;
    if (!more) return total;
  }
}

void TimerHeap::sift_up(std::size_t i) {
  const Entry e = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 4;
    if (heap_[parent].when <= e.when) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

void TimerHeap::sift_down(std::size_t i) {
  const std::size_t n = heap_.size();
  const Entry e = heap_[i];
  for (;;) {
    const std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    const std::size_t end = std::min(first + 4, n);
    for (std::size_t c = first + 1; c < end; ++c) {
      if (heap_[c].when < heap_[best].when) best = c;
    }
    if (e.when <= heap_[best].when) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = e;
}

}  // namespace corun::detail
