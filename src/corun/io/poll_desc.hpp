// poll_desc.hpp: PollDesc, what the network poller knows of one registered
// file descriptor (Go's pollDesc), and the process-wide pool they come from.
//
// A descriptor is registered with its runtime's epoll instance once, when it
// is opened, edge-triggered for both directions; it is never re-armed. Per
// direction (kRead, kWrite) the PollDesc holds
//   - `ready`: 1 when an event has come since the owner last cleared it, or
//     when the owner's last call did not prove the descriptor drained (read)
//     or full (write); 0 when the last call proved it and no event has come
//     since. The owner clears it before each system call, so a call that
//     finds the descriptor ready is never followed by a wait that misses the
//     event (edge-triggered events are never repeated);
//   - `waiter`: the wait of the coroutine parked on this direction (at most
//     one per direction), which the poller, a deadline or close() ends.
// Everything but `ready`'s plain reads is guarded by `lock`.
//
// PollDescs are never freed: a descriptor's events may still be in flight
// (collected by one worker's epoll_wait, handled after another worker closed
// the descriptor), so an event names its PollDesc by index and generation
// (`seq`, bumped at each reuse) and a stale one is dropped (Go's pollCache and
// fdseq).
#pragma once

#include <atomic>
#include <cstdint>

#include "corun/detail/spin_lock.hpp"

namespace corun::detail {

class NetPoller;
struct IoWait;

enum IoMode : int { kRead = 0, kWrite = 1 };

struct PollDesc {
  SpinLock lock;
  std::uint32_t index = 0;  // in the pool, for good
  std::uint32_t seq = 0;    // generation: bumped when taken from the pool
  int fd = -1;
  NetPoller* poller = nullptr;
  bool closing = false;                    // close() has begun: every wait fails
  std::atomic<std::uint8_t> ready[2]{};    // see above
  IoWait* waiter[2] = {nullptr, nullptr};  // the parked coroutine's wait
  std::atomic<int> inside{0};              // calls in progress (close waits them out)
  PollDesc* next_free = nullptr;

  // event_tag() is what epoll carries for this descriptor: seq and index.
  std::uint64_t event_tag() const noexcept { return (std::uint64_t{seq} << 32) | index; }
};

// The pool: alloc() returns a PollDesc with a new generation, ready in both
// directions, no waiter; release() puts it back. at() finds one by index.
PollDesc* poll_desc_alloc();
void poll_desc_release(PollDesc* pd) noexcept;
PollDesc* poll_desc_at(std::uint32_t index) noexcept;

}  // namespace corun::detail
