// interrupt.cpp: see interrupt.hpp.
#include "demo/run/interrupt.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

namespace demo {

namespace {

// The flag must be a global: a signal handler receives no context. A
// lock-free atomic is async-signal-safe and readable from every worker.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int /*signo*/) { g_interrupted.store(true, std::memory_order_relaxed); }

}  // namespace

InterruptScope::InterruptScope() {
  g_interrupted.store(false, std::memory_order_relaxed);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
}

bool interrupted() noexcept { return g_interrupted.load(std::memory_order_relaxed); }

void wait_for_tasks(const TaskTally& tally, const std::function<void()>& tick) {
  while (true) {
    if (tick) tick();
    if (tally.complete() || tally.failed() || interrupted()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace demo
