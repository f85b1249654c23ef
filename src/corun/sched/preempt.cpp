// preempt.cpp: the two ways a coroutine is preempted (see corun/preempt.hpp
// for the contract): the thread's preempt flag, which preempt_point()
// reads, and SIGURG, which interrupts a coroutine in a PreemptibleRegion.
// The monitor (monitor.cpp) decides when; this file is how.
//
// The signal handler switches coroutines on the interrupted coroutine's own
// stack, inside the handler's frame. When that coroutine is resumed, maybe
// on another worker thread, the handler returns and the kernel's sigreturn
// restores every register from the frame. Four things must be right:
//   - SIGURG is unblocked before switching away, or the next coroutine on
//     this thread could never be interrupted;
//   - until the coroutine is back from that switch, no SIGURG preempts it
//     again (Coroutine::preempting, see Scheduler::preempt): neither one
//     pending when it is unblocked nor one landing while another worker
//     switches to it;
//   - sigreturn also restores the alternate signal stack recorded in the
//     frame: it is rewritten to this thread's own before returning;
//   - errno is saved and restored around the handler, on the thread that
//     runs each part of it: after a switch, the first thread's errno belongs
//     to whatever runs there now.
#include "corun/preempt.hpp"

#include <pthread.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigaction, pthread_kill

#include <cerrno>
#include <mutex>

#include "corun/diag/fatal.hpp"
#include "corun/os/thread_errno.hpp"
#include "corun/sched/preempt_signal.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun::detail {

constinit thread_local std::atomic<bool> t_preempt_requested{false};

namespace {

std::atomic<bool> g_async_preemption{false};

// finish_resumed_handler() is the end of the handler of a coroutine that
// it switched out, run when that coroutine is resumed, maybe on another
// thread: with that thread's altstack and errno, read through
// thread_errno(). errno as such would do no good here: its accessor is
// declared const, so the compiler may reuse the address the handler got on
// entry, and writing that after a move would change the errno of another
// coroutine, which by then runs on the first thread.
void finish_resumed_handler(void* uctx) noexcept {
  const int saved_errno = thread_errno();
  stack_t own;
  if (sigaltstack(nullptr, &own) == 0) static_cast<ucontext_t*>(uctx)->uc_stack = own;
  set_thread_errno(saved_errno);
}

// Unused under TSan (see install_preempt_signal).
[[maybe_unused]] void on_preempt_signal(int, siginfo_t*, void* uctx) {
  const int saved_errno = errno;
  Worker* w = this_worker();
  Coroutine* g = w != nullptr ? w->running_coroutine() : nullptr;
  // (Not a coroutine still coming back from its last preemption: see
  // Scheduler::preempt.)
  if (g == nullptr || g->preempt_depth == 0 || g->preempting ||
      !t_preempt_requested.load(std::memory_order_relaxed) || fatal_in_progress()) {
    errno = saved_errno;
    return;
  }
  // Marked before SIGURG is unblocked: one already pending would be taken
  // at once, inside this handler, and would switch the coroutine away
  // before the preempt() below, which would then run, perhaps on another
  // thread, with this thread's worker `w`.
  g->preempting = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  sigset_t urg;
  sigemptyset(&urg);
  sigaddset(&urg, SIGURG);
  pthread_sigmask(SIG_UNBLOCK, &urg, nullptr);
  w->sched.preempt(*w, /*from_signal=*/true);
  finish_resumed_handler(uctx);
}

}  // namespace

bool install_preempt_signal() {
#if defined(CORUN_SANITIZE_THREAD)
  return false;  // TSan defers signal handlers to its own safe points
#else
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_preempt_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    g_async_preemption.store(sigaction(SIGURG, &sa, nullptr) == 0);
  });
  return g_async_preemption.load();
#endif
}

void interrupt_for_preemption(pthread_t thread) noexcept { pthread_kill(thread, SIGURG); }

void preempt_now() {
  t_preempt_requested.store(false, std::memory_order_relaxed);
  Worker* w = this_worker();
  if (w == nullptr || w->on_g0()) return;
  w->sched.preempt(*w, /*from_signal=*/false);
}

void enter_preemptible() noexcept {
  Worker* w = this_worker();
  if (Coroutine* g = w != nullptr ? w->running_coroutine() : nullptr) ++g->preempt_depth;
}

void leave_preemptible() noexcept {
  Worker* w = this_worker();
  if (Coroutine* g = w != nullptr ? w->running_coroutine() : nullptr) --g->preempt_depth;
}

}  // namespace corun::detail
