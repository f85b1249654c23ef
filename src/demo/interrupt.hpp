// interrupt.hpp: Ctrl-C (SIGINT) handling for a run.
//
// While an InterruptScope lives, SIGINT only sets a flag: the handler does
// nothing else (no exit(), no output), so it is async-signal-safe. Tasks
// check interrupted() between steps (and every chunk of the CPU loop), stop
// early, and the subcommand prints what finished and exits 130. A second
// Ctrl-C kills the process as usual (SA_RESETHAND), for a run that does not
// stop.
#pragma once

#include <functional>

namespace demo {

class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

// interrupted() is whether SIGINT arrived since the InterruptScope began.
bool interrupted() noexcept;

// wait_unless_interrupted() waits until done() (true) or SIGINT (false),
// calling tick() (if any) at each poll. It polls every 2 ms: a thread
// blocked in WaitGroup::wait() would not notice the signal. Measure the end
// of a run inside its tasks, not here: this returns up to 2 ms late.
bool wait_unless_interrupted(const std::function<bool()>& done,
                             const std::function<void()>& tick = nullptr);

}  // namespace demo
