// dump_signal.cpp: a coroutine dump on SIGQUIT (see dump_signal.hpp).
#include "corun/diag/dump_signal.hpp"

#include <pthread.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigaction
#include <unistd.h>

#include <climits>
#include <mutex>
#include <string>

#include "corun/diag/coroutine_dump.hpp"
#include "corun/diag/write_all.hpp"
#include "corun/os/futex.hpp"

namespace corun::detail {

namespace {

std::atomic<std::uint32_t> g_signals{0};  // SIGQUITs received
std::atomic<int> g_listeners{0};          // runtimes that dump on SIGQUIT
struct sigaction g_previous {};           // what SIGQUIT did before
std::once_flag g_installed;

void on_sigquit(int sig, siginfo_t* info, void* uctx) {
  if (g_listeners.load(std::memory_order_acquire) == 0) {
    // Nobody listens any more: what SIGQUIT did before.
    if (g_previous.sa_flags & SA_SIGINFO) {
      if (g_previous.sa_sigaction != nullptr) g_previous.sa_sigaction(sig, info, uctx);
      return;
    }
    if (g_previous.sa_handler == SIG_IGN) return;
    if (g_previous.sa_handler != SIG_DFL) {
      g_previous.sa_handler(sig);
      return;
    }
    signal(SIGQUIT, SIG_DFL);
    raise(SIGQUIT);
    return;
  }
  g_signals.fetch_add(1, std::memory_order_release);
  futex_wake(g_signals, INT_MAX);
}

void install() {
  struct sigaction sa {};
  sa.sa_sigaction = &on_sigquit;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGQUIT, &sa, &g_previous);
}

}  // namespace

DumpOnSignal::DumpOnSignal(Scheduler& sched) : sched_(sched) {
  std::call_once(g_installed, install);
  g_listeners.fetch_add(1, std::memory_order_acq_rel);
  // Counted from here, not from when the thread gets going: a SIGQUIT in
  // between is dumped.
  const std::uint32_t seen = g_signals.load(std::memory_order_acquire);
  thread_ = std::thread([this, seen] {
    pthread_setname_np(pthread_self(), "corun-sigquit");
    run(seen);
  });
}

DumpOnSignal::~DumpOnSignal() {
  g_listeners.fetch_sub(1, std::memory_order_acq_rel);
  stop_.store(true, std::memory_order_seq_cst);
  futex_wake(g_signals, INT_MAX);  // the others see no new signal and wait on
  thread_.join();
}

void DumpOnSignal::run(std::uint32_t seen) {
  while (!stop_.load(std::memory_order_seq_cst)) {
    const std::uint32_t now = g_signals.load(std::memory_order_acquire);
    if (now == seen) {
      futex_wait(g_signals, seen, 100'000'000);
      continue;
    }
    seen = now;
    const std::string text = "SIGQUIT: " + coroutine_dump(sched_);
    write_all(STDERR_FILENO, text);
  }
}

}  // namespace corun::detail
