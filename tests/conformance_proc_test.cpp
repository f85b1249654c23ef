// conformance_proc_test.cpp: Go's runtime/proc_test.go (TestPingPongHog) and
// runtime/crash_test.go (TestSimpleDeadlock).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "conformance_support.hpp"
#include "corun/corun.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Channel;
using corun::make_channel;
using corun::conformance::ConformanceTest;

// TestPingPongHog: at procs 1, a pair of coroutines doing a lot of work per
// hand-off (the hogs) and a pair doing little (the lights) ping-pong side by
// side; both pairs must get a fair share of the worker: their counts stay
// within a factor of 20 (if the scheduler is not working right, the gap is
// ~1000x). As in Go, only procs 1 makes sense: it is about sharing one P.
TEST(ConformanceProc, TestPingPongHog) {
#if defined(CORUN_SANITIZE_THREAD)
  GTEST_SKIP() << "skipped under ThreadSanitizer, as Go skips it in -race mode";
#endif
  corun::conformance::Deadline deadline;
  std::atomic<long> hog_count{0}, light_count{0};
  corun::run({.procs = 1}, [&] {
    auto done = make_channel<bool>();
    auto hog_chan = make_channel<bool>();
    auto light_chan = make_channel<bool>();

    auto run = [done](long limit, std::atomic<long>* counter, Channel<bool> wake) {
      for (;;) {
        bool stop = false;
        corun::select(corun::recv(done, [&] { stop = true; }), corun::recv(wake, [&] {
                        long local = 0;
                        for (long i = 0; i < limit; ++i) {
                          ++local;
                          asm volatile("" : "+r"(local));  // keep the loop: it is the work
                        }
                        counter->fetch_add(local, std::memory_order_relaxed);
                        wake.send(true);
                      }));
        if (stop) return;
      }
    };

    // Start two co-scheduled hog coroutines.
    std::atomic<long>* hogs = &hog_count;
    std::atomic<long>* lights = &light_count;
    for (int i = 0; i < 2; ++i) corun::go([=] { run(1'000'000, hogs, hog_chan); });
    // Start two co-scheduled light coroutines.
    for (int i = 0; i < 2; ++i) corun::go([=] { run(1'000, lights, light_chan); });

    // Start the coroutine pairs and wait for a few rounds.
    hog_chan.send(true);
    light_chan.send(true);
    corun::this_coroutine::sleep_for(100ms);
    done.close();
    (void)hog_chan.recv();
    (void)light_chan.recv();
  });
  // Within a factor of 20: both pairs handed off the worker to their buddy
  // within a time slice.
  constexpr long kFactor = 20;
  const long hog = hog_count.load(), light = light_count.load();
  EXPECT_FALSE(hog / kFactor > light || light / kFactor > hog)
      << "want hog/light in [1/20, 20]; got " << hog << "/" << light << " = "
      << static_cast<double>(hog) / static_cast<double>(light == 0 ? 1 : light);
}

using ConformanceDeathTest = ConformanceTest;
CORUN_AT_PROCS(ConformanceDeathTest);

// TestSimpleDeadlock: a program whose only coroutine blocks forever in a
// channel receive dies with Go's message and exit status 2.
TEST_P(ConformanceDeathTest, TestSimpleDeadlock) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int p = procs();
  EXPECT_EXIT(corun::run({.procs = p}, [] { (void)make_channel<int>().recv(); }),
              ::testing::ExitedWithCode(2),
              "^fatal error: all coroutines are asleep - deadlock!\n");
}

// Go's own SimpleDeadlock program is `select {}`.
TEST_P(ConformanceDeathTest, TestSimpleDeadlockSelectNoCases) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int p = procs();
  EXPECT_EXIT(corun::run({.procs = p}, [] { corun::select(); }), ::testing::ExitedWithCode(2),
              "^fatal error: all coroutines are asleep - deadlock!\n");
}

}  // namespace
