// timer_heap.cpp: see timer_heap.hpp.
#include "timer_heap.hpp"

#include <chrono>

namespace corun::detail {

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TimerHeap::push_locked(Timer* t) {
  heap_.push_back(t);
  t->index = static_cast<std::uint32_t>(heap_.size() - 1);
  sift_up(t->index);
  publish_earliest();
}

bool TimerHeap::remove_locked(Timer* t) {
  std::uint32_t i = t->index;
  if (i == Timer::kNotInHeap) return false;
  t->index = Timer::kNotInHeap;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (last != t) {
    place(i, last);
    sift_up(i);
    sift_down(last->index);
  }
  publish_earliest();
  return true;
}

int TimerHeap::run_expired(std::int64_t now) {
  if (earliest() > now) return 0;
  // Fire outside the lock: firing unparks coroutines, which takes other locks.
  Timer* due[64];
  int total = 0;
  for (;;) {
    int n = 0;
    lock_.lock();
    while (n < 64 && !heap_.empty() && heap_[0]->when <= now) {
      Timer* t = heap_[0];
      remove_locked(t);
      due[n++] = t;
    }
    bool more = !heap_.empty() && heap_[0]->when <= now;
    lock_.unlock();
    for (int i = 0; i < n; ++i) due[i]->fire(due[i]);
    total += n;
    if (!more) return total;
  }
}

void TimerHeap::sift_up(std::uint32_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    std::uint32_t parent = (i - 1) / 2;
    if (heap_[parent]->when <= t->when) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerHeap::sift_down(std::uint32_t i) {
  const auto n = static_cast<std::uint32_t>(heap_.size());
  Timer* t = heap_[i];
  for (;;) {
    std::uint32_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->when < heap_[child]->when) ++child;
    if (t->when <= heap_[child]->when) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

}  // namespace corun::detail
