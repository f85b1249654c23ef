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
// at the select's SelectWait. Every field but `g`, `elem`, `sel`, `chan` and
// `is_send` is guarded by `chan`'s lock.
struct ChanWaiter {
  Coroutine* g = nullptr;
  void* elem = nullptr;  // send: the T to move from; receive: the optional<T> to fill
  SelectWait* sel = nullptr;
  ChanCore* chan = nullptr;
  ChanWaiter* next = nullptr;
  ChanWaiter* prev = nullptr;
  bool is_send = false;
  bool queued = false;   // linked into chan's sendq/recvq
  bool success = false;  // set by the waker: true = a value moved, false = closed
};

// SelectWait is the state a blocked select shares between its waiters (Go's
// g.selectDone plus g.param). The first party to win the CAS on `done` (a
// channel operation, close, the timeout, or shutdown) completes the select;
// the others skip its waiters.
struct SelectWait {
  std::atomic<std::uint32_t> done{0};
  ChanWaiter* fired = nullptr;  // the waiter that completed it; null: timeout or cancel
  bool timed_out = false;       // completed by the timeout
  // `lock` is held from before the first waiter is queued until the select
  // is fully parked: a winner takes and releases it before unpark().
  SpinLock lock;

  bool try_claim() noexcept {
    std::uint32_t expected = 0;
    return done.compare_exchange_strong(expected, 1, std::memory_order_acq_rel,
                                        std::memory_order_relaxed);
  }
};

// WaitQueue is a FIFO of ChanWaiters (Go's waitq).
class WaitQueue {
 public:
  bool empty() const noexcept { return first_ == nullptr; }
  void enqueue(ChanWaiter* w) noexcept;
  // dequeue() takes the first waiter that can still complete: a waiter of a
  // select already completed by someone else is unlinked and skipped. A
  // select waiter it returns has been claimed, and its `fired` set.
  ChanWaiter* dequeue() noexcept;
  // remove() unlinks `w` if it is still queued.
  void remove(ChanWaiter* w) noexcept;

 private:
  ChanWaiter* first_ = nullptr;
  ChanWaiter* last_ = nullptr;
};

class ChanCore {
 public:
  // The ring holds `capacity` slots of `slot_size` bytes aligned to
  // `slot_align`. Throws std::length_error when that does not fit in memory.
  ChanCore(std::size_t capacity, std::size_t slot_size, std::size_t slot_align, const ElemOps& ops);
  ~ChanCore();  // destroys the values still buffered
  ChanCore(const ChanCore&) = delete;
  ChanCore& operator=(const ChanCore&) = delete;

  // send() moves *src (a T) into the channel, blocking until a receiver or a
  // buffer slot takes it. Throws std::logic_error on a closed channel.
  void send(void* src);
  // recv() moves a value into *dst (an optional<T>); false when the channel
  // is closed and drained (dst untouched).
  bool recv(void* dst);
  ChanStatus try_send(void* src);
  ChanStatus try_recv(void* dst);
  void close();

  std::size_t len() const noexcept { return count_.load(std::memory_order_relaxed); }
  std::size_t cap() const noexcept { return cap_; }

  // The pieces select uses, all with lock_ held (`_locked`).
  SpinLock& lock() noexcept { return lock_; }
  bool closed_locked() const noexcept { return closed_; }
  bool can_buffer_locked() const noexcept { return count_.load(std::memory_order_relaxed) < cap_; }
  bool has_buffered_locked() const noexcept { return count_.load(std::memory_order_relaxed) > 0; }
  ChanWaiter* take_receiver_locked() noexcept { return recvq_.dequeue(); }
  ChanWaiter* take_sender_locked() noexcept { return sendq_.dequeue(); }
  void send_to_locked(ChanWaiter* receiver, void* src) noexcept;
  void recv_from_locked(ChanWaiter* sender, void* dst) noexcept;
  void buffer_put_locked(void* src) noexcept;
  void buffer_take_locked(void* dst) noexcept;
  void enqueue_locked(ChanWaiter* w) noexcept { (w->is_send ? sendq_ : recvq_).enqueue(w); }
  void remove_locked(ChanWaiter* w) noexcept { (w->is_send ? sendq_ : recvq_).remove(w); }

  // wake() makes a waiter dequeued under the lock runnable; call it after
  // releasing the lock.
  static void wake(ChanWaiter* w) noexcept;

  [[noreturn]] static void throw_send_on_closed();

 private:
  void* slot(std::size_t i) const noexcept { return ring_ + i * slot_size_; }
  static bool cancel_wait(Coroutine* g, void* waiter) noexcept;

  SpinLock lock_;
  bool closed_ = false;                // guarded by lock_
  std::atomic<std::size_t> count_{0};  // buffered values; written under lock_
  std::size_t recvx_ = 0;              // next slot to receive from
  std::size_t sendx_ = 0;              // next slot to send into
  WaitQueue recvq_;
  WaitQueue sendq_;
  const std::size_t cap_;
  const std::size_t slot_size_;
  const std::size_t slot_align_;
  const ElemOps& ops_;
  unsigned char* ring_ = nullptr;
};

}  // namespace corun::detail
