// chan_core.hpp: ChanCore, the type-erased channel that Channel<T> and
// select are built on (Go's hchan), and ChanWaiter, a coroutine blocked on
// one (Go's sudog).
//
// The algorithm is Go's runtime/chan.go. A channel is a ring buffer of
// `cap` slots plus two FIFO queues of blocked waiters (senders, receivers),
// all guarded by one SpinLock. A sender that finds a waiting receiver moves
// its value straight into the receiver's destination (no buffer round
// trip); a receiver that finds a waiting sender takes the sender's value (an
// unbuffered channel) or the buffer's head, refilling the tail from the
// sender (a full buffered one). Waiter records live on the blocked
// coroutine's stack and are linked into the queues intrusively: a blocking
// operation allocates nothing.
//
// Elements are moved by three function pointers (ElemOps), so the algorithm
// and select are compiled once, not per element type. Sources are `T*`,
// receive destinations `std::optional<T>*`, buffer slots raw storage for T.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "corun/detail/park.hpp"
#include "corun/detail/spin_lock.hpp"
#include "corun/detail/wait_queue.hpp"

namespace corun {

// ChanStatus is the outcome of a non-blocking channel operation.
enum class ChanStatus : std::uint8_t {
  kOk,          // the value was sent / received
  kWouldBlock,  // the operation would have had to wait
  kClosed,      // the channel is closed (and, for a receive, drained)
};

}  // namespace corun

namespace corun::detail {

// ElemOps moves a channel's element type T. All are noexcept: values move
// while the channel's lock is held, so Channel<T> requires a nothrow move.
struct ElemOps {
  void (*construct)(void* slot, void* src) noexcept;  // new (slot) T(std::move(*src))
  void (*emplace)(void* dst, void* src) noexcept;     // dst->emplace(std::move(*src))
  void (*destroy)(void* slot) noexcept;               // slot->~T()
};

template <class T>
inline constexpr ElemOps kElemOps = {
    [](void* slot, void* src) noexcept { ::new (slot) T(std::move(*static_cast<T*>(src))); },
    [](void* dst, void* src) noexcept {
      static_cast<std::optional<T>*>(dst)->emplace(std::move(*static_cast<T*>(src)));
    },
    [](void* slot) noexcept { static_cast<T*>(slot)->~T(); },
};

class ChanCore;
struct SelectWait;

// ChanWaiter is one blocked operation on one channel (Go's sudog). A plain
// send/recv has one; a blocked select has one per channel case, all pointing
// at the select's SelectWait. The WaitLink and `success` are guarded by
// `chan`'s lock; the other fields are set before it is queued.
struct ChanWaiter : WaitLink {
  Coroutine* g = nullptr;
  void* elem = nullptr;  // send: the T to move from; receive: the optional<T> to fill
  SelectWait* sel = nullptr;
  ChanCore* chan = nullptr;
  bool is_send = false;
  bool success = false;  // set by the waker: true = a value moved, false = closed
};

// SelectWait is the state a blocked select shares between its waiters (Go's
// g.selectDone plus g.param). The first party to win the CAS on `done` (a
// channel operation, close, the timeout, or shutdown) completes the select;
// the others skip its waiters. A waker can find the select's waiters only
// once it is fully parked: the select holds every channel's lock until its
// commit step (park.hpp) releases them.
struct SelectWait {
  std::atomic<std::uint32_t> done{0};
  ChanWaiter* fired = nullptr;  // the waiter that completed it; null: timeout or cancel
  bool timed_out = false;       // completed by the timeout

  bool try_claim() noexcept {
    std::uint32_t expected = 0;
    return done.compare_exchange_strong(expected, 1, std::memory_order_acq_rel,
                                        std::memory_order_relaxed);
  }
};

class ChanCore {
 public:
  // The ring holds `capacity` slots of `slot_size` bytes aligned to
  // `slot_align`. Throws std::length_error when that does not fit in memory.
  ChanCore(std::size_t capacity, std::size_t slot_size, std::size_t slot_align, const ElemOps& ops);
  ~ChanCore();  // destroys the values still buffered
  ChanCore(const ChanCore&) = delete;
  ChanCore& operator=(const ChanCore&) = delete;

  // send() moves *src (a T) into the channel (Go's chansend): kOk once a
  // receiver or a buffer slot took it, kClosed on a closed channel (*src
  // untouched), kWouldBlock when it would have to wait and `block` is false.
  // With `block`, it waits instead, and a close meanwhile returns kClosed.
  ChanStatus send(void* src, bool block);
  // recv() moves a value into *dst (an optional<T>) (Go's chanrecv): kOk,
  // kClosed once the channel is closed and drained (dst untouched), or
  // kWouldBlock when it would have to wait and `block` is false.
  ChanStatus recv(void* dst, bool block);
  void close();

  std::size_t len() const noexcept { return count_.load(std::memory_order_relaxed); }
  std::size_t cap() const noexcept { return cap_; }

  // The pieces select uses, all with lock_ held (`_locked`).
  SpinLock& lock() noexcept { return lock_; }
  // send_locked()/recv_locked() are the step of send()/recv() that does not
  // wait (select's poll): kOk, kClosed or kWouldBlock as above. A waiter
  // they completed is returned in *woken, to be woken with wake() once the
  // lock is released.
  ChanStatus send_locked(void* src, ChanWaiter** woken) noexcept;
  ChanStatus recv_locked(void* dst, ChanWaiter** woken) noexcept;
  void enqueue_locked(ChanWaiter* w) noexcept { (w->is_send ? sendq_ : recvq_).push_back(w); }
  void remove_locked(ChanWaiter* w) noexcept { (w->is_send ? sendq_ : recvq_).remove(w); }

  // wake() makes a waiter dequeued under the lock runnable; call it after
  // releasing the lock.
  static void wake(ChanWaiter* w) noexcept { unpark(w->g); }  // `w` may be gone once g runs

  [[noreturn]] static void throw_send_on_closed();

 private:
  void* slot(std::size_t i) const noexcept { return ring_ + i * slot_size_; }
  static bool cancel_wait(Coroutine* g, void* waiter) noexcept;
  template <bool kSend>
  ChanStatus exchange(void* elem, bool block);
  static ChanWaiter* dequeue(WaitQueue<ChanWaiter>& q) noexcept;
  void send_to_locked(ChanWaiter* receiver, void* src) noexcept;
  void recv_from_locked(ChanWaiter* sender, void* dst) noexcept;
  bool closed_locked() const noexcept { return closed_; }
  bool can_buffer_locked() const noexcept { return count_.load(std::memory_order_relaxed) < cap_; }
  bool has_buffered_locked() const noexcept { return count_.load(std::memory_order_relaxed) > 0; }
  void buffer_put_locked(void* src) noexcept;
  void buffer_take_locked(void* dst) noexcept;

  SpinLock lock_;
  bool closed_ = false;                // guarded by lock_
  std::atomic<std::size_t> count_{0};  // buffered values; written under lock_
  std::size_t recvx_ = 0;              // next slot to receive from
  std::size_t sendx_ = 0;              // next slot to send into
  WaitQueue<ChanWaiter> recvq_;
  WaitQueue<ChanWaiter> sendq_;
  const std::size_t cap_;
  const std::size_t slot_size_;
  const std::size_t slot_align_;
  const ElemOps& ops_;
  unsigned char* ring_ = nullptr;
};

}  // namespace corun::detail
