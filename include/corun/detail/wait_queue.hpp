// wait_queue.hpp: WaitQueue<T>, the one FIFO of parked waiters that
// channels, select, Mutex and WaitGroup queue on (Go's waitq of sudogs).
//
// Intrusive: a waiter record lives on the blocked party's stack and derives
// from WaitLink, so queueing allocates nothing, and removing a waiter from
// anywhere in the queue is O(1). That removal is what a cancellation
// (CancelFn, at shutdown) and a select that completed through another case
// do; both race the queue's wakers, and `queued` decides who won: whoever
// unlinks a waiter first (under the queue's lock) owns it, a later remove()
// finds it gone and returns false.
//
// Not thread-safe by itself: every call is made under the lock that guards
// the queue (a channel's, a Mutex's, ...).
#pragma once

#include <cstddef>

namespace corun::detail {

// WaitLink is the queue's part of a waiter record.
struct WaitLink {
  WaitLink* next = nullptr;
  WaitLink* prev = nullptr;
  bool queued = false;  // linked into a WaitQueue
};

template <class T>
class WaitQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }

  void push_back(T* w) noexcept {
    WaitLink* l = w;
    l->next = nullptr;
    l->prev = tail_;
    if (tail_ != nullptr) {
      tail_->next = l;
    } else {
      head_ = l;
    }
    tail_ = l;
    l->queued = true;
    ++size_;
  }

  // pop_front() unlinks and returns the first waiter (null if none).
  T* pop_front() noexcept {
    WaitLink* l = head_;
    if (l == nullptr) return nullptr;
    unlink(l);
    return static_cast<T*>(l);
  }

  // remove() unlinks `w` if it is still queued; false when someone else
  // (a waker, a cancellation) took it off first.
  bool remove(T* w) noexcept {
    WaitLink* l = w;
    if (!l->queued) return false;
    unlink(l);
    return true;
  }

  // take_all() unlinks every waiter and returns the first, the others
  // chained behind it (next_taken()): to be woken after the lock is
  // released. Each node's link is read before its owner is woken (it lives
  // on the owner's stack).
  T* take_all() noexcept {
    WaitLink* first = head_;
    for (WaitLink* l = first; l != nullptr; l = l->next) l->queued = false;
    head_ = tail_ = nullptr;
    size_ = 0;
    return static_cast<T*>(first);
  }
  static T* next_taken(T* w) noexcept { return static_cast<T*>(static_cast<WaitLink*>(w)->next); }

 private:
  void unlink(WaitLink* l) noexcept {
    if (l->prev != nullptr) {
      l->prev->next = l->next;
    } else {
      head_ = l->next;
    }
    if (l->next != nullptr) {
      l->next->prev = l->prev;
    } else {
      tail_ = l->prev;
    }
    l->next = l->prev = nullptr;
    l->queued = false;
    --size_;
  }

  WaitLink* head_ = nullptr;
  WaitLink* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace corun::detail
