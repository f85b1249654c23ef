// preempt_test.cpp: time slices (include/corun/preempt.hpp).
#include "corun/preempt.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::Watchdog;

class Preemption : public corun::test::ProcsTest {};
CORUN_PROCS_TESTS(Preemption);

// spin_until_turn() busy-waits, never blocking, until `turn` reaches a value
// whose parity is `me`. `async` spins inside a preemptible region; otherwise
// it calls preempt_point().
void spin_until_turn(const std::atomic<int>& turn, int me, bool async) {
  if (async) {
    corun::preemptible([&] {
      while (turn.load(std::memory_order_relaxed) % 2 != me) {
      }
    });
  } else {
    while (turn.load(std::memory_order_relaxed) % 2 != me) corun::preempt_point();
  }
}

// Go's TestPreemption: two coroutines on ONE worker take turns through an
// atomic, each spinning until it is its turn. Without preemption the first
// spinner holds the only worker forever.
void alternate_on(corun::Runtime& rt, bool async) {
  Watchdog dog("two spinning coroutines on one worker never alternated");
  constexpr int kRounds = 6;
  std::atomic<int> turn{0};
  corun::WaitGroup wg;
  wg.add(2);
  for (int me = 0; me < 2; ++me) {
    rt.go([&, me] {
      for (int r = 0; r < kRounds; ++r) {
        spin_until_turn(turn, me, async);
        turn.fetch_add(1);
      }
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(turn.load(), 2 * kRounds);
}

void alternate_on_one_worker(bool async) {
  corun::Runtime rt({.procs = 1});
  alternate_on(rt, async);
}

TEST(Preemption, TestPreemptionCooperative) { alternate_on_one_worker(false); }

// The monitor sleeps while every worker is idle, as Go parks sysmon: with a
// 1 ms time slice it would otherwise wake every 0.5 ms. And it wakes when
// work comes back: two spinners on the one worker still take turns.
TEST(Preemption, MonitorSleepsWhileIdleAndWakesForWork) {
  corun::Runtime rt({.procs = 1, .time_slice = 1ms});
  // Watch the monitor for 200 ms windows, up to five: on a loaded machine
  // the worker may take a while to park, but a monitor that polled an idle
  // runtime (every 0.5 ms: ~400 wake-ups a window) would fail every window.
  // The monitor names its thread once it runs: wait for that first.
  for (int i = 0; i < 500 && corun::test::voluntary_switches("corun-monitor") < 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  long fewest = -1;
  for (int window = 0; window < 5 && (fewest < 0 || fewest >= 20); ++window) {
    const long before = corun::test::voluntary_switches("corun-monitor");
    ASSERT_GE(before, 0) << "no thread named corun-monitor";
    std::this_thread::sleep_for(200ms);
    const long woke = corun::test::voluntary_switches("corun-monitor") - before;
    if (fewest < 0 || woke < fewest) fewest = woke;
  }
  EXPECT_LT(fewest, 20) << "the monitor polled an idle runtime (every 0.5 ms would be ~400 times)";
  alternate_on(rt, /*async=*/false);
}
TEST(Preemption, TestPreemptionAsynchronous) {
#if defined(CORUN_SANITIZE_THREAD)
  GTEST_SKIP() << "asynchronous preemption is off under ThreadSanitizer (documented)";
#endif
  alternate_on_one_worker(true);
}

// Go's TestPingPongHog with a real hog: a coroutine that never blocks shares
// the only worker with a ping-pong pair, which must still make progress.
TEST(Preemption, PingPongProgressesBesideACpuHog) {
  Watchdog dog("a CPU hog starved a ping-pong pair");
  corun::Runtime rt({.procs = 1});
  std::atomic<bool> stop{false};
  corun::WaitGroup hog_done, pair_done;
  hog_done.add(1);
  rt.go([&] {
    while (!stop.load(std::memory_order_relaxed)) corun::preempt_point();
    hog_done.done();
  });
  constexpr int kRoundTrips = 200;
  corun::Channel<int> ping(0), pong(0);
  pair_done.add(1);
  rt.go([&] {
    for (int i = 0; i < kRoundTrips; ++i) {
      auto v = ping.recv();
      pong.send(*v);
    }
  });
  rt.go([&] {
    for (int i = 0; i < kRoundTrips; ++i) {
      ping.send(i);
      EXPECT_EQ(pong.recv(), i);
    }
    pair_done.done();
  });
  pair_done.wait();
  stop = true;
  hog_done.wait();
  SUCCEED();
}

// A coroutine spinning in a preemptible region is interrupted within two
// time slices (the monitor checks every half slice). The bound is taken on
// the best of several runs: an OS that deschedules the worker thread delays
// one run, not all.
TEST(Preemption, RegionIsInterruptedWithinTwoTimeSlices) {
#if defined(CORUN_SANITIZE_THREAD)
  GTEST_SKIP() << "asynchronous preemption is off under ThreadSanitizer (documented)";
#endif
  Watchdog dog("a preemptible region was never interrupted");
  constexpr auto kSlice = 20ms;
  corun::Runtime rt({.procs = 1, .time_slice = kSlice});
  std::vector<Clock::duration> latencies;
  for (int run = 0; run < 5; ++run) {
    std::atomic<bool> other_ran{false};
    std::atomic<std::int64_t> spin_started{0};
    Clock::duration latency{};
    corun::WaitGroup wg;
    wg.add(2);
    rt.go([&] {
      spin_started = Clock::now().time_since_epoch().count();
      corun::preemptible([&] {
        while (!other_ran.load(std::memory_order_relaxed)) {
        }
      });
      wg.done();
    });
    rt.go([&] {
      latency = Clock::now().time_since_epoch() - Clock::duration(spin_started.load());
      other_ran = true;
      wg.done();
    });
    wg.wait();
    latencies.push_back(latency);
  }
  const auto best = *std::min_element(latencies.begin(), latencies.end());
  EXPECT_LE(best, 2 * kSlice) << "best of 5 preemption latencies";
  for (auto l : latencies) EXPECT_LT(l, 2s);
}

// Code outside any region is never interrupted asynchronously, and code that
// calls no preempt_point() is not preempted at all.
TEST(Preemption, CodeOutsideRegionsIsNeverInterrupted) {
  corun::Runtime rt({.procs = 1, .time_slice = 5ms});
  std::atomic<bool> other_ran{false};
  bool other_ran_during_spin = true;
  corun::WaitGroup wg;
  wg.add(2);
  rt.go([&] {
    const auto until = Clock::now() + 100ms;  // 20 time slices
    while (Clock::now() < until) {
    }
    other_ran_during_spin = other_ran.load();
    wg.done();
  });
  rt.go([&] {
    other_ran = true;
    wg.done();
  });
  wg.wait();
  EXPECT_FALSE(other_ran_during_spin);
}

// time_slice = 0 turns preemption off: preempt_point() never yields.
TEST(Preemption, ZeroTimeSliceTurnsItOff) {
  corun::Runtime rt({.procs = 1, .time_slice = 0ns});
  std::atomic<bool> other_ran{false};
  bool other_ran_during_spin = true;
  corun::WaitGroup wg;
  wg.add(2);
  rt.go([&] {
    const auto until = Clock::now() + 60ms;
    corun::preemptible([&] {
      while (Clock::now() < until) corun::preempt_point();
    });
    other_ran_during_spin = other_ran.load();
    wg.done();
  });
  rt.go([&] {
    other_ran = true;
    wg.done();
  });
  wg.wait();
  EXPECT_FALSE(other_ran_during_spin);
}

// Preempted runs carry their own stop reason in the trace.
TEST(Preemption, TraceShowsPreemptStops) {
  corun::Runtime rt({.procs = 1, .time_slice = 5ms, .trace = true});
  std::atomic<int> turn{0};
  corun::WaitGroup wg;
  wg.add(2);
  for (int me = 0; me < 2; ++me) {
    rt.go([&, me] {
      for (int r = 0; r < 3; ++r) {
        spin_until_turn(turn, me, false);
        turn.fetch_add(1);
      }
      wg.done();
    });
  }
  wg.wait();
  int preempt_stops = 0;
  for (const auto& e : rt.trace()) {
    if (e.kind == corun::TraceKind::kRunStop && e.reason == corun::StopReason::kPreempt) {
      ++preempt_stops;
    }
  }
  EXPECT_GE(preempt_stops, 1);
}

TEST_P(Preemption, NegativeTimeSliceIsRejected) {
  EXPECT_THROW(corun::Runtime({.procs = procs(), .time_slice = -1ms}), std::invalid_argument);
}

TEST(PreemptionDeathTest, BlockingInsideARegionIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        corun::run({.procs = 1},
                   [] { corun::preemptible([] { corun::this_coroutine::sleep_for(1ms); }); });
      },
      ::testing::ExitedWithCode(2), "blocking call inside a corun::PreemptibleRegion");
}

}  // namespace
