// park.hpp: the one blocking primitive everything else is built on.
//
// park() suspends the caller until another party calls unpark() on it. The
// caller is "a waiter": the running coroutine, or, when called from a plain
// OS thread, a stand-in for that thread (it then blocks on a futex). Every
// wait in corun (channels, WaitGroup, Mutex, sleep) is park() plus a queue
// of waiters guarded by a SpinLock.
#pragma once

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
};

const char* to_string(WaitReason reason) noexcept;

// CancelFn removes `w` from whatever queue it waits in, under that queue's
// lock; it returns false when `w` was already taken off by a waker (who will
// unpark it). The runtime calls it when it shuts down with `w` still parked.
using CancelFn = bool (*)(Coroutine* w, void* ctx) noexcept;

// current_waiter() is the running coroutine, or the calling thread's stand-in.
Coroutine* current_waiter() noexcept;

// park() blocks the current waiter. Call it with `lock` held, after putting
// the waiter into a queue that `lock` guards; the lock is released once the
// waiter is fully suspended, so a waker that takes the lock and finds the
// waiter may unpark it at once. Throws corun::Cancelled when the runtime shuts
// down while the waiter is parked (cancel has then already dequeued it).
void park(SpinLock& lock, WaitReason reason, CancelFn cancel, void* cancel_ctx);

// unpark() makes a parked waiter runnable. A coroutine woken by a coroutine
// runs next on the waker's worker (Go's runnext), so hand-offs stay local.
void unpark(Coroutine* w) noexcept;

// waiter_id() is the coroutine id of `w` (0 for a plain thread).
std::uint64_t waiter_id(const Coroutine* w) noexcept;

}  // namespace corun::detail
