// wait_timer.hpp: WaitTimer, the deadline of one park (a sleep, a select's
// timeout, an I/O call's deadline) on a worker's timer heap.
//
// A wait's timer is armed by the park's commit step, on the worker the
// coroutine just parked on (Go's resetForSleep), so it cannot fire before
// the coroutine is fully parked. Once armed, its firing races with the
// wait's other way of ending (the event it waits for, shutdown's cancel).
// The side that ends the wait some other way calls disarm(), which returns
// once the timer can no longer touch the wait: removed from its heap, or
// its firing, popped by some worker at that moment, done. A firing that may
// lose that race calls done_firing() as its last touch of the timer; one
// that always ends the wait (a sleep's) need not, as nobody disarms it
// after it fired.
#pragma once

#include <atomic>

#include "corun/sched/timer_heap.hpp"

namespace corun::detail {

struct WaitTimer : Timer {
  TimerHeap* heap = nullptr;  // null until armed
  std::atomic<bool> fire_done{false};

  void arm(TimerHeap& on) noexcept {
    heap = &on;
    push();
  }

  // push(): arm() onto `heap`, set before the park. A wait whose cancel may
  // run on another thread before the commit step (shutdown cancelling a
  // sleep) sets it there, so that cancel reads what the parking coroutine
  // wrote before it parked, not what the commit step writes meanwhile.
  void push() noexcept {
    heap->lock().lock();
    heap->push_locked(this);
    heap->lock().unlock();
  }

  // try_remove(): true when the timer was taken off its heap before it
  // fired; false when it fired (or is firing), or was never armed.
  bool try_remove() noexcept {
    if (heap == nullptr) return false;
    heap->lock().lock();
    const bool removed = heap->remove_locked(this);
    heap->lock().unlock();
    return removed;
  }

  // disarm(): returns once the timer can no longer touch the wait. Never
  // armed (cancelled before its commit step ran): nothing to do. Otherwise
  // a firing in progress is waited out; a firing never switches coroutines,
  // so the wait is short.
  void disarm() noexcept {
    if (heap == nullptr || try_remove()) return;
    while (!fire_done.load(std::memory_order_acquire)) cpu_relax();
  }

  void done_firing() noexcept { fire_done.store(true, std::memory_order_release); }
};

}  // namespace corun::detail
