// io_wait.hpp: IoWait, a coroutine parked on one direction of a descriptor
// (poll_desc.hpp), and how the parties that end such a wait end it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "corun/detail/chan_core.hpp"
#include "corun/io/poll_desc.hpp"

namespace corun::detail {

struct Coroutine;

struct IoWait {
  enum Result : std::uint8_t { kWaiting, kReady, kTimedOut, kClosed };
  Coroutine* g = nullptr;
  Result result = kWaiting;
  SelectWait* sel = nullptr;  // a select's I/O case: ended only by who claims the select
};

// take_waiter() ends the wait of `mode` on `pd` with `result` and returns
// its coroutine for the caller to unpark once it has released pd->lock
// (null: nobody waits). With pd->lock held. A select's waiter is ended only
// if the select is claimed; a select that another case completed first
// unregisters itself (the `ready` flag set by the caller stays for the next
// reader).
inline Coroutine* take_waiter(PollDesc* pd, IoMode mode, IoWait::Result result) noexcept {
  IoWait* w = pd->waiter[mode];
  if (w == nullptr) return nullptr;
  pd->waiter[mode] = nullptr;
  if (w->sel != nullptr && !w->sel->try_claim()) return nullptr;
  w->result = result;
  return w->g;  // read before the lock is released: `w` lives on g's stack
}

}  // namespace corun::detail

namespace corun::detail {

// throw_second_waiter(): one waiter per direction per descriptor; `op` names
// the call that would have been the second.
[[noreturn]] inline void throw_second_waiter(IoMode mode, const char* op) {
  throw std::logic_error(std::string(op) + ": another wait to " +
                         (mode == kRead ? "read" : "write") +
                         " this descriptor is in progress (one waiter per direction)");
}

}  // namespace corun::detail
