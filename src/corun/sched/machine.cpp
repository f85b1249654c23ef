// machine.cpp: a thread of the runtime (machine.hpp): what it keeps in
// thread-local storage (the worker it runs, its Machine), its set-up, its
// binding to a worker (Go's acquirep) and its scheduling loop (g0), which
// runs whichever worker the thread holds. What the loop calls, finding and
// stealing work, is between workers: scheduler.cpp.
#include "corun/sched/machine.hpp"

#include <pthread.h>

#include "corun/arch/sanitizers.hpp"
#include "corun/diag/fatal.hpp"
#include "corun/preempt.hpp"
#include "corun/sched/scheduler.hpp"

extern "C" void* __cxa_get_globals() noexcept;

namespace corun::detail {

namespace {

thread_local Worker* t_worker = nullptr;
thread_local Machine* t_machine = nullptr;
thread_local Scheduler* t_attached = nullptr;

sanitizer::FiberStack thread_stack() noexcept {
  sanitizer::FiberStack s;
  pthread_attr_t attr;
  void* addr = nullptr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &addr, &s.size);
    pthread_attr_destroy(&attr);
  }
  s.bottom = addr;
  return s;
}

}  // namespace

// this_worker() must not be inlined: a coroutine can resume on another
// thread, and a compiler may otherwise keep the old thread's TLS address.
__attribute__((noinline)) Worker* this_worker() noexcept {
  Worker* w = t_worker;
  asm volatile("" : "+r"(w));
  return w;
}

void set_this_worker(Worker* w) noexcept { t_worker = w; }
Machine* this_machine() noexcept { return t_machine; }

void attach_thread(Scheduler* sched) noexcept { t_attached = sched; }
Scheduler* attached_scheduler() noexcept { return t_attached; }

// guard_page_of_running() is the fault handler's OverflowProbe (fatal.hpp):
// does `addr` lie in the guard page of the coroutine running on this thread?
// (Async-signal-safe: it reads this thread's worker only.)
bool guard_page_of_running(const void* addr, OverflowSite* site) noexcept {
  Worker* w = this_worker();
  Coroutine* g = w != nullptr ? w->running_coroutine() : nullptr;
  if (g == nullptr || !g->stack.in_guard(addr)) return false;
  site->id = g->id;
  site->stack_bytes = g->stack.size;
  return true;
}

void Scheduler::machine_init(Machine& m) {
  t_machine = &m;
  m.eh_globals = static_cast<void**>(__cxa_get_globals());
  m.preempt_flag = &t_preempt_requested;
  m.os_thread = pthread_self();
  install_overflow_handler(&guard_page_of_running);
  sanitizer::thread_fiber(&m.g0);
  m.g0_stack = thread_stack();
}

// bind() makes thread `m` (the caller) the one that runs `w` (Go's
// acquirep). The previous owner, if any, is done with it: it lost it to the
// monitor's hand-off, whose compare-and-swap orders its writes before these.
void Scheduler::bind(Worker& w, Machine& m) noexcept {
  w.g0 = &m.g0;
  w.g0_stack = m.g0_stack;
  w.eh_globals = m.eh_globals;
  // Release: the monitor and shutdown store through it from other threads.
  w.preempt_flag.store(m.preempt_flag, std::memory_order_release);
  w.os_thread.store(m.os_thread, std::memory_order_relaxed);
  w.current = &m.g0;
  w.running.store(false, std::memory_order_relaxed);
  t_worker = &w;
}

// worker_main() is a thread's scheduling loop (g0). The worker it runs may
// change under it: after a switch back to g0 it is read again, and a thread
// that came back without one (its coroutine's blocking call lost it) queues
// that coroutine and waits as a spare thread to be given a worker.
void Scheduler::worker_main(Machine& m) {
  Worker* w = t_worker;
  for (;;) {
    if (w == nullptr) {
      w = spares_.park(m);
      if (w == nullptr) break;  // the runtime stops
      bind(*w, m);
    }
    Coroutine* g = find_runnable(*w);
    if (g == nullptr) break;
    if (shutting_down() && !g->started) {
      drop_unstarted(*w, g);  // cancelled before it ever ran
      continue;
    }
    switch_to(*w, w->g0, g);
    w = t_worker;
    if (w == nullptr) {
      requeue_without_worker(m);
      continue;
    }
    run_post(*w);
  }
  remove_overflow_handler_for_thread();
  t_worker = nullptr;
}

}  // namespace corun::detail
