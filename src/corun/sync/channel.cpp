// channel.cpp: ChanCore (see corun/detail/chan_core.hpp), Go's
// runtime/chan.go in C++: one send(block) and one recv(block), whose
// non-waiting step (send_locked/recv_locked) select's poll shares.
//
// Locking: every queue and the ring are guarded by the channel's SpinLock. A
// blocking operation queues its waiter and parks with that lock held; park()'s
// commit step releases it only once the coroutine has fully switched out, so
// whoever takes the lock and finds the waiter may wake it at once. A waker
// dequeues the waiter, moves the value, releases the lock and only then
// unparks.
#include "corun/channel.hpp"

#include <limits>
#include <stdexcept>

#include "corun/sync/cancel.hpp"

namespace corun::detail {

// dequeue() takes the first waiter of `q` that can still complete: a waiter
// of a select already completed by someone else is unlinked and skipped. A
// select waiter it returns has been claimed, and its `fired` set.
ChanWaiter* ChanCore::dequeue(WaitQueue<ChanWaiter>& q) noexcept {
  while (ChanWaiter* w = q.pop_front()) {
    if (w->sel != nullptr) {
      // The select may have been completed through another of its cases (it
      // then unlinks its other waiters itself, under their locks, but may not
      // have got to this channel yet): claim it or skip this waiter.
      if (!w->sel->try_claim()) continue;
      w->sel->fired = w;
    }
    return w;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// ChanCore

namespace {

unsigned char* allocate_ring(std::size_t capacity, std::size_t slot_size, std::size_t align) {
  if (capacity == 0) return nullptr;
  if (capacity > std::numeric_limits<std::size_t>::max() / 2 / slot_size) {
    throw std::length_error("corun::Channel: capacity out of range");
  }
  return static_cast<unsigned char*>(::operator new (capacity* slot_size, std::align_val_t{align}));
}

}  // namespace

ChanCore::ChanCore(std::size_t capacity, std::size_t slot_size, std::size_t slot_align,
                   const ElemOps& ops)
    : cap_(capacity),
      slot_size_(slot_size),
      slot_align_(slot_align),
      ops_(ops),
      ring_(allocate_ring(capacity, slot_size, slot_align)) {}

ChanCore::~ChanCore() {
  std::size_t n = count_.load(std::memory_order_relaxed);
  for (std::size_t i = recvx_; n > 0; --n, i = (i + 1 == cap_ ? 0 : i + 1)) ops_.destroy(slot(i));
  if (ring_ != nullptr) ::operator delete (ring_, std::align_val_t{slot_align_});
}

void ChanCore::throw_send_on_closed() {
  throw std::logic_error("corun::Channel: send on closed channel");
}

void ChanCore::send_to_locked(ChanWaiter* receiver, void* src) noexcept {
  ops_.emplace(receiver->elem, src);
  receiver->success = true;
}

void ChanCore::recv_from_locked(ChanWaiter* sender, void* dst) noexcept {
  if (cap_ == 0) {
    ops_.emplace(dst, sender->elem);
  } else {
    // The buffer is full (a sender waits): take its head and put the
    // sender's value in the slot it frees, which is the tail.
    void* s = slot(recvx_);
    ops_.emplace(dst, s);
    ops_.destroy(s);
    ops_.construct(s, sender->elem);
    recvx_ = recvx_ + 1 == cap_ ? 0 : recvx_ + 1;
    sendx_ = recvx_;
  }
  sender->success = true;
}

void ChanCore::buffer_put_locked(void* src) noexcept {
  ops_.construct(slot(sendx_), src);
  sendx_ = sendx_ + 1 == cap_ ? 0 : sendx_ + 1;
  count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void ChanCore::buffer_take_locked(void* dst) noexcept {
  void* s = slot(recvx_);
  ops_.emplace(dst, s);
  ops_.destroy(s);
  recvx_ = recvx_ + 1 == cap_ ? 0 : recvx_ + 1;
  count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

bool ChanCore::cancel_wait(Coroutine*, void* waiter) noexcept {
  auto* w = static_cast<ChanWaiter*>(waiter);
  ChanCore* c = w->chan;
  c->lock_.lock();
  const bool removed = (w->is_send ? c->sendq_ : c->recvq_).remove(w);
  c->lock_.unlock();
  return removed;
}

ChanStatus ChanCore::send_locked(void* src, ChanWaiter** woken) noexcept {
  if (closed_) return ChanStatus::kClosed;
  if (ChanWaiter* r = dequeue(recvq_)) {
    send_to_locked(r, src);
    *woken = r;
    return ChanStatus::kOk;
  }
  if (can_buffer_locked()) {
    buffer_put_locked(src);
    return ChanStatus::kOk;
  }
  return ChanStatus::kWouldBlock;
}

ChanStatus ChanCore::recv_locked(void* dst, ChanWaiter** woken) noexcept {
  if (closed_) {
    if (!has_buffered_locked()) return ChanStatus::kClosed;
  } else if (ChanWaiter* s = dequeue(sendq_)) {
    recv_from_locked(s, dst);
    *woken = s;
    return ChanStatus::kOk;
  }
  if (has_buffered_locked()) {
    buffer_take_locked(dst);
    return ChanStatus::kOk;
  }
  return ChanStatus::kWouldBlock;
}

// exchange() is send() and recv() (Go's chansend and chanrecv, one body
// here): the step under the lock, and when that would block, a waiter on
// the direction's queue and a park. A template, so each direction's hot
// path has no test of the direction.
template <bool kSend>
ChanStatus ChanCore::exchange(void* elem, bool block) {
  cancellation_point();
  lock_.lock();
  ChanWaiter* woken = nullptr;
  const ChanStatus st = kSend ? send_locked(elem, &woken) : recv_locked(elem, &woken);
  if (st != ChanStatus::kWouldBlock || !block) {
    lock_.unlock();
    if (woken != nullptr) wake(woken);
    return st;
  }
  ChanWaiter me;
  me.g = current_waiter();
  me.elem = elem;
  me.chan = this;
  me.is_send = kSend;
  (kSend ? sendq_ : recvq_).push_back(&me);
  park(lock_, kSend ? WaitReason::kChanSend : WaitReason::kChanReceive, &ChanCore::cancel_wait,
       &me);
  return me.success ? ChanStatus::kOk : ChanStatus::kClosed;  // not success: woken by close()
}

ChanStatus ChanCore::send(void* src, bool block) { return exchange<true>(src, block); }

ChanStatus ChanCore::recv(void* dst, bool block) { return exchange<false>(dst, block); }

void ChanCore::close() {
  lock_.lock();
  if (closed_) {
    lock_.unlock();
    throw std::logic_error("corun::Channel: close of closed channel");
  }
  closed_ = true;
  // Take every waiter (receivers get nothing: a receiver waits only when the
  // buffer is empty; senders will throw), then wake them outside the lock.
  // The dequeued waiters are chained through their now unused `next`.
  ChanWaiter* woken = nullptr;
  for (WaitQueue<ChanWaiter>* q : {&recvq_, &sendq_}) {
    while (ChanWaiter* w = dequeue(*q)) {
      w->success = false;
      w->next = woken;
      woken = w;
    }
  }
  lock_.unlock();
  while (woken != nullptr) {
    auto* next = static_cast<ChanWaiter*>(woken->next);  // read before the waiter can run
    wake(woken);
    woken = next;
  }
}

}  // namespace corun::detail
