// park.hpp: the one blocking primitive everything else is built on (Go's
// gopark/goready).
//
// park() suspends the caller until another party calls unpark() on it. The
// caller is "a waiter": the running coroutine, or, when called from a plain
// OS thread, a stand-in for that thread (it then blocks on a futex). Every
// wait in corun (channels, select, WaitGroup, Mutex, sleep, Runtime::wait)
// is park() plus a WaitQueue (wait_queue.hpp) or a timer.
//
// The waiter makes itself findable by wakers in its commit step (Go's
// unlockf), which park() runs once the waiter is fully suspended: for a
// coroutine, on the other side of the switch, after its registers are saved
// (so a waker that finds it may requeue it at once); for a thread, before it
// blocks on its futex. Typically the commit releases the lock that guards
// the queue the waiter was put in (park(SpinLock&, ...)); a select releases
// all its channels' locks and arms its timeout, a sleep arms its timer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "corun/detail/spin_lock.hpp"

namespace corun::detail {

struct Coroutine;  // opaque: a coroutine, or a plain thread's stand-in

// WaitReason says why a waiter is parked; deadlock reports print it.
enum class WaitReason : std::uint8_t {
  kNone,
  kSleep,
  kChanSend,
  kChanReceive,
  kSelect,
  kSelectNoCases,
  kWaitGroup,
  kMutex,
  kRuntimeWait,
  kIOWait,    // a descriptor not ready (corun/io.hpp, corun/net.hpp)
  kSelectIO,  // a select with an I/O case (corun::readable, corun::writable)
  // A new reason goes above this line, and kWaitReasons below names it.
};
// kWaitReasons: how many there are (the debugger helper's table of names).
inline constexpr std::size_t kWaitReasons = static_cast<std::size_t>(WaitReason::kSelectIO) + 1;

const char* to_string(WaitReason reason) noexcept;

// CancelFn removes `w` from whatever queue it waits in, under that queue's
// lock; it returns false when `w` was already taken off by a waker (who will
// unpark it). The runtime calls it when it shuts down with `w` still parked.
using CancelFn = bool (*)(Coroutine* w, void* ctx) noexcept;

// current_waiter() is the running coroutine, or the calling thread's stand-in.
Coroutine* current_waiter() noexcept;

// ParkCommit is a waiter's commit step (see above). It must not block.
using ParkCommit = void (*)(void* ctx) noexcept;

// ThreadDeadline bounds a plain thread's park(): at steady-clock `when`
// (nanoseconds) the thread calls expire(ctx), which returns true when it
// ended the wait itself (park() returns) and false when a waker got there
// first (the thread waits on for its unpark()). A coroutine's deadline is a
// timer its commit step arms instead. A thread that will wake by itself is
// not counted as blocked for deadlock detection.
struct ThreadDeadline {
  std::int64_t when;
  bool (*expire)(void* ctx) noexcept;
  void* ctx;
};

// park() blocks the current waiter; `commit(commit_ctx)` runs once it is
// fully suspended. `cancel` (may be null: never cancelled) is how shutdown
// takes it out of its wait; park() then throws corun::Cancelled (cancel has
// already dequeued it). `deadline` applies only to a plain thread.
void park(ParkCommit commit, void* commit_ctx, WaitReason reason, CancelFn cancel, void* cancel_ctx,
          const ThreadDeadline* deadline = nullptr);

// The usual form: call it with `lock` held, after putting the waiter into a
// queue that `lock` guards; the commit releases the lock.
inline void unlock_commit(void* lock) noexcept { static_cast<SpinLock*>(lock)->unlock(); }
inline void park(SpinLock& lock, WaitReason reason, CancelFn cancel, void* cancel_ctx) {
  park(&unlock_commit, &lock, reason, cancel, cancel_ctx);
}

// park_forever() never returns: an operation on a nil channel, `select {}`.
// Only shutdown ends it, with corun::Cancelled (a plain thread waits for
// good; the deadlock detector sees it).
[[noreturn]] void park_forever(WaitReason reason);

// unpark() makes a parked waiter runnable. A coroutine woken by a coroutine
// runs next on the waker's worker (Go's runnext), so hand-offs stay local.
void unpark(Coroutine* w) noexcept;

// waiter_id() is the coroutine id of `w` (0 for a plain thread).
std::uint64_t waiter_id(const Coroutine* w) noexcept;

}  // namespace corun::detail
