// plain_section.hpp: PlainSection, the frequent side's half of an
// asymmetric-fence handshake (asymmetric_fence.hpp).
//
// A thread about to write with plain instructions what a rare other side
// may also write marks its section (enter), runs the light fence, checks the
// rare side's flag and, if that is clear, writes plainly and ends the
// section (leave). The rare side sets its own flag, runs the heavy fence and
// waits any section out (wait_out): either the frequent side sees the flag
// and takes the locked path, or the rare side sees the section (or
// everything written in it). Each use names its own PlainSection, declared
// beside what it protects, with the handshake written out there.
#pragma once

#include <atomic>
#include <thread>

#include "corun/os/asymmetric_fence.hpp"

namespace corun::detail {

class PlainSection {
 public:
  // enter()/leave(): the frequent side, by the one thread that owns the
  // section (only after asymmetric_fence::available() returned true).
  void enter() noexcept {
    active_.store(true, std::memory_order_relaxed);
    asymmetric_fence::light();
  }
  // Release: the plain writes made in the section are visible to a rare
  // side that has waited it out.
  void leave() noexcept { active_.store(false, std::memory_order_release); }

  // wait_out(): the rare side, once its flag is set and heavy() has run.
  void wait_out() const noexcept {
    while (active_.load(std::memory_order_acquire)) std::this_thread::yield();
  }

 private:
  std::atomic<bool> active_{false};
};

}  // namespace corun::detail
