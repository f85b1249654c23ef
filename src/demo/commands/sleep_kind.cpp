// sleep_kind.cpp: see sleep_kind.hpp.
#include "demo/commands/sleep_kind.hpp"

#include <fmt/core.h>

#include <thread>

#include "corun/corun.hpp"
#include "demo/command.hpp"

namespace demo {

SleepKind parse_sleep_kind(std::string_view option, std::string_view text) {
  if (text == "corun") return SleepKind::kCorun;
  if (text == "os") return SleepKind::kOs;
  if (text == "blocking") return SleepKind::kBlocking;
  throw UsageError(fmt::format("{}: expected corun, os or blocking, got \"{}\"", option, text));
}

const char* to_string(SleepKind kind) noexcept {
  switch (kind) {
    case SleepKind::kCorun:
      return "corun";
    case SleepKind::kOs:
      return "os";
    case SleepKind::kBlocking:
      break;
  }
  return "blocking";
}

void sleep_as(SleepKind kind, std::chrono::nanoseconds d) {
  switch (kind) {
    case SleepKind::kCorun:
      corun::this_coroutine::sleep_for(d);
      return;
    case SleepKind::kOs:
      std::this_thread::sleep_for(d);  // holds the worker's thread: the pitfall shown
      return;
    case SleepKind::kBlocking:
      corun::blocking([d] { std::this_thread::sleep_for(d); });
      return;
  }
}

namespace {

std::string overlapped(const WaitFigures& f) {
  switch (f.kind) {
    case SleepKind::kCorun:
      return f.procs > 1
                 ? ": their waits overlapped (concurrency). Sleeping needs no CPU: one worker "
                   "would do the same."
                 : ": their waits overlapped (concurrency).";
    case SleepKind::kBlocking:
      return fmt::format(
          ": their waits overlapped although each OS sleep held a thread: corun::blocking() "
          "handed the {} on to another thread meanwhile (concurrency kept).",
          f.procs == 1 ? "worker" : "workers");
    case SleepKind::kOs:
      break;
  }
  if (f.workers_used > 1) {
    return fmt::format(
        ": their waits overlapped, but only because they ran on {} worker threads at once: each "
        "OS sleep held its thread, so no more than {} could overlap (at --procs 1 they would "
        "not).",
        f.workers_used, f.workers_used);
  }
  return ": their waits overlapped.";
}

std::string not_overlapped(const WaitFigures& f) {
  const std::string sums =
      fmt::format("({:.0f} ms for {:.0f} ms of sleeps)", f.elapsed_ms, f.waited_ms);
  switch (f.kind) {
    case SleepKind::kCorun:
      return ": the sleeps are too short next to timer and scheduling delays to show an overlap "
             "(try a longer --interval).";
    case SleepKind::kBlocking:
      return fmt::format(
          ": the sleeps did not overlap {}: corun::blocking() did not hand the worker on while "
          "they held its thread.",
          sums);
    case SleepKind::kOs:
      break;
  }
  return fmt::format(
      ": each OS sleep held its worker's thread, so the sleeps ran one after another {}: "
      "concurrency lost. A sleep that parks the coroutine (--sleep corun) lets the worker run the "
      "others meanwhile.",
      sums);
}

}  // namespace

std::string wait_verdict(const WaitFigures& f) {
  if (f.waiters < 2 || f.waited_ms <= 0) return {};
  const double overlap = f.elapsed_ms > 0 ? f.waited_ms / f.elapsed_ms : 0;
  return overlap >= kOverlapShown ? overlapped(f) : not_overlapped(f);
}

}  // namespace demo
