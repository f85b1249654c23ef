// sleep_kind.hpp: --sleep corun|os|blocking, how a demo task waits, and the sentence
// that says from a run's own numbers whether its waits overlapped.
//
// corun (the default) parks the coroutine (this_coroutine::sleep_for): its
// worker runs the other coroutines meanwhile. os calls
// std::this_thread::sleep_for, which holds the worker's thread for the whole
// sleep: at --procs 1 no other coroutine runs meanwhile, so the sleeps no
// longer overlap (the pitfall of any blocking call in a coroutine). blocking
// makes the same OS sleep inside corun::blocking(): the runtime hands the
// worker to another thread while the sleep holds this one, so the sleeps
// overlap again.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace demo {

enum class SleepKind { kCorun, kOs, kBlocking };

// parse_sleep_kind() reads --sleep: corun, os or blocking (a UsageError
// otherwise).
SleepKind parse_sleep_kind(std::string_view option, std::string_view text);

// to_string() is the kind's name as --sleep takes it.
const char* to_string(SleepKind kind) noexcept;

// sleep_as() waits `d` the way `kind` says. An OS sleep (os, blocking) is
// not cut short by Ctrl-C: a run ends at most one sleep after it.
void sleep_as(SleepKind kind, std::chrono::nanoseconds d);

// WaitFigures are a completed run's numbers about its waits.
struct WaitFigures {
  SleepKind kind = SleepKind::kCorun;
  int waiters = 0;        // tasks (or handlers) that waited
  int procs = 0;          // workers of the run
  int workers_used = 0;   // workers the waiters were seen on
  double waited_ms = 0;   // the sum of their waits
  double elapsed_ms = 0;  // the time they had: wall time from the first start
};

// kOverlapShown is the overlap (waited / elapsed) from which waits count as
// overlapping: below it, timer and scheduling delays could explain it.
inline constexpr double kOverlapShown = 1.2;

// wait_verdict() says what the figures show, as the end of a sentence that
// begins with them (": their waits overlapped (concurrency)."), or an empty
// string when there is nothing to say about overlap (no waits, one waiter).
std::string wait_verdict(const WaitFigures& f);

}  // namespace demo
