// stress_preempt_test.cpp: asynchronous preemption aimed at the scheduler's
// own switches (ctest label `stress`).
//
// Coroutines spinning in preemptible regions are interrupted by SIGURG many
// thousand times a second (a 200 us time slice), beside ping-pong pairs and
// sleepers that make their workers switch all the time. A signal that lands
// while the worker is switching to, or just resumed, a coroutine that an
// earlier signal took off its worker must not preempt it there: the switch
// is half done, and a second preemption would overwrite what the first still
// has to do (the coroutine leaving is requeued after the switch). A lost
// coroutine shows as a run that never ends, or as the runtime's deadlock
// report once everything else has finished.
//
// Each region spinner checks its own arithmetic as it spins (a register
// restored wrong would show), and every coroutine is counted at its end.
//
// CORUN_STRESS_ITERS=<n> sets the rounds per case (default: a few, for CI).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/preempt.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::test::Watchdog;

int preempt_stress_rounds() {
  if (const char* s = std::getenv("CORUN_STRESS_ITERS"); s != nullptr && *s != '\0') {
    return std::max(1, std::atoi(s));
  }
  return 3;
}

class StressPreemption : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(StressProcs, StressPreemption, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

// spin_checked() spins until `stop`, keeping two running sums whose relation
// it checks every step; it returns false if they ever disagree. Nothing in it
// touches what a preemptible region forbids.
bool spin_checked(const std::atomic<bool>& stop) {
  std::uint64_t a = 0, b = 0;
  for (std::uint64_t i = 1; !stop.load(std::memory_order_relaxed); ++i) {
    a += i;
    b += 3 * i;
    if (b != 3 * a) return false;
    asm volatile("" : "+r"(a), "+r"(b));
  }
  return true;
}

TEST_P(StressPreemption, SignalsDuringSwitchesLoseNoCoroutine) {
#if defined(CORUN_SANITIZE_THREAD)
  GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
#endif
  const int procs = GetParam();
  constexpr int kSpinners = 8;
  constexpr int kPairs = 2;
  constexpr int kSleepers = 2;
  constexpr auto kRun = 400ms;
  Watchdog dog("region spinners beside ping-pong pairs did not all finish", 120s);
  for (int round = 0; round < preempt_stress_rounds(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    corun::Runtime rt({.procs = procs, .time_slice = 200us});
    std::atomic<bool> stop{false};
    std::atomic<int> finished{0};
    std::atomic<int> bad_sums{0};
    std::atomic<long> trips{0};
    for (int i = 0; i < kSpinners; ++i) {
      rt.go([&] {
        if (!corun::preemptible([&] { return spin_checked(stop); })) bad_sums.fetch_add(1);
        finished.fetch_add(1);
      });
    }
    for (int p = 0; p < kPairs; ++p) {
      rt.go([&] {
        corun::Channel<int> ping(0), pong(0);
        corun::go([&, ping, pong]() mutable {
          while (ping.recv().value_or(-1) >= 0) pong.send(0);
          finished.fetch_add(1);
        });
        while (!stop.load(std::memory_order_relaxed)) {
          ping.send(1);
          pong.recv();
          trips.fetch_add(1, std::memory_order_relaxed);
        }
        ping.send(-1);
        finished.fetch_add(1);
      });
    }
    for (int s = 0; s < kSleepers; ++s) {
      rt.go([&] {
        while (!stop.load(std::memory_order_relaxed)) corun::this_coroutine::sleep_for(50us);
        finished.fetch_add(1);
      });
    }
    std::this_thread::sleep_for(kRun);
    stop.store(true);
    rt.wait();
    EXPECT_EQ(finished.load(), kSpinners + 2 * kPairs + kSleepers);
    EXPECT_EQ(bad_sums.load(), 0) << "a region spinner's registers were restored wrong";
    EXPECT_GT(trips.load(), 0) << "the ping-pong pairs never ran beside the spinners";
  }
}

// Region spinners preempted beside coroutines whose blocking() calls are
// handed off: a worker moves to another thread while signals aim at it
// (the monitor signals the thread that runs the worker now; the thread left
// in the call is outside the runtime and ignores one).
TEST_P(StressPreemption, SignalsBesideHandOffsLoseNoCoroutine) {
#if defined(CORUN_SANITIZE_THREAD)
  GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
#endif
  const int procs = GetParam();
  constexpr int kSpinners = 6;
  constexpr int kBlockers = 3;
  constexpr auto kRun = 400ms;
  Watchdog dog("region spinners beside blocking calls did not all finish", 120s);
  for (int round = 0; round < preempt_stress_rounds(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    corun::Runtime rt({.procs = procs, .time_slice = 200us});
    std::atomic<bool> stop{false};
    std::atomic<int> finished{0}, bad_sums{0};
    std::atomic<long> calls{0};
    for (int i = 0; i < kSpinners; ++i) {
      rt.go([&] {
        if (!corun::preemptible([&] { return spin_checked(stop); })) bad_sums.fetch_add(1);
        finished.fetch_add(1);
      });
    }
    for (int b = 0; b < kBlockers; ++b) {
      rt.go([&, b] {
        for (int k = 0; !stop.load(std::memory_order_relaxed); ++k) {
          // Mostly short calls, now and then one long enough to be handed off.
          const auto lasts = (k + b) % 4 == 0 ? 2ms : 20us;
          const int got = corun::blocking([&] {
            std::this_thread::sleep_for(lasts);
            return k;
          });
          if (got != k) bad_sums.fetch_add(1);
          calls.fetch_add(1, std::memory_order_relaxed);
        }
        finished.fetch_add(1);
      });
    }
    std::this_thread::sleep_for(kRun);
    stop.store(true);
    rt.wait();
    EXPECT_EQ(finished.load(), kSpinners + kBlockers);
    EXPECT_EQ(bad_sums.load(), 0);
    EXPECT_GT(calls.load(), 0);
  }
}

// A coroutine switched out by the signal handler resumes inside that
// handler, often on another worker thread. The handler must not then
// restore errno where it read it on entry: that is the first thread's
// errno, which another coroutine is using by then. Checkers set errno and
// read it back while the region spinners are preempted beside them; the
// checkers never switch nor enter a region between the two, so only a write
// from another thread can change what they read.
// this_threads_errno() is where errno of the calling thread lives, found
// anew at every call: the compiler may not reuse one thread's answer after
// the coroutine moved to another (errno's own accessor is declared const).
[[gnu::noipa]] int* this_threads_errno() { return &errno; }

// (At procs 2 and 4: a coroutine needs a second worker thread to resume on.)
class StressPreemptionErrno : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(StressProcs, StressPreemptionErrno, ::testing::Values(2, 4),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

TEST_P(StressPreemptionErrno, HandlerLeavesOtherThreadsErrnoAlone) {
#if defined(CORUN_SANITIZE_THREAD)
  GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
#endif
  const int procs = GetParam();
  constexpr int kSpinners = 8;
  constexpr int kCheckers = 2;
  constexpr auto kRun = 400ms;
  Watchdog dog("errno checkers beside region spinners did not all finish", 120s);
  for (int round = 0; round < preempt_stress_rounds(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    corun::Runtime rt({.procs = procs, .time_slice = 200us});
    std::atomic<bool> stop{false};
    std::atomic<long> checks{0}, changed{0};
    for (int i = 0; i < kSpinners; ++i) {
      rt.go([&] { corun::preemptible([&] { return spin_checked(stop); }); });
    }
    for (int c = 0; c < kCheckers; ++c) {
      rt.go([&, c] {
        const int mine = 100000 + c;
        while (!stop.load(std::memory_order_relaxed)) {
          int* const err = this_threads_errno();  // after the yield: maybe a new thread
          for (int k = 0; k < 1000; ++k) {
            *err = mine;
            for (int i = 0; i < 200; ++i) asm volatile("" ::: "memory");
            if (*err != mine) changed.fetch_add(1, std::memory_order_relaxed);
            checks.fetch_add(1, std::memory_order_relaxed);
          }
          corun::this_coroutine::yield();
        }
      });
    }
    std::this_thread::sleep_for(kRun);
    stop.store(true);
    rt.wait();
    EXPECT_GT(checks.load(), 0);
    EXPECT_EQ(changed.load(), 0) << "errno changed under a coroutine that neither switched nor "
                                    "made a call, out of "
                                 << checks.load() << " checks";
  }
}

}  // namespace
