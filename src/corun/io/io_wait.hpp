// io_wait.hpp: IoWait, a coroutine parked on one direction of a descriptor
// (poll_desc.hpp), and how the parties that end such a wait end it.
#pragma once

#include <cstdint>

#include "corun/io/poll_desc.hpp"

namespace corun::detail {

struct Coroutine;

struct IoWait {
  enum Result : std::uint8_t { kWaiting, kReady, kTimedOut, kClosed };
  Coroutine* g = nullptr;
  Result result = kWaiting;
};

// take_waiter() ends the wait of `mode` on `pd` with `result` and returns
// its coroutine for the caller to unpark once it has released pd->lock
// (null: nobody waits). With pd->lock held.
inline Coroutine* take_waiter(PollDesc* pd, IoMode mode, IoWait::Result result) noexcept {
  IoWait* w = pd->waiter[mode];
  if (w == nullptr) return nullptr;
  pd->waiter[mode] = nullptr;
  w->result = result;
  return w->g;  // read before the lock is released: `w` lives on g's stack
}

}  // namespace corun::detail
