// public_surface_test.cpp: every name the README's library section
// documents, used with `#include <corun/corun.hpp>` alone (first, and
// without the test binary's precompiled header: see CMakeLists.txt). Each
// public header also compiles on its own (the corun_header_check target).
#include <corun/corun.hpp>
// (nothing of corun's above this line)

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <vector>

namespace {

using namespace std::chrono_literals;

TEST(PublicSurface, EveryDocumentedNameWorksFromTheOneInclude) {
  const corun::Config config{.procs = 2,
                             .stack_size = 64 * 1024,
                             .detect_deadlock = true,
                             .time_slice = 5ms,
                             .trace = true};
  EXPECT_GE(corun::available_cpus(), 1);
  std::atomic<int> checks{0};
  {
    corun::Runtime rt(config);
    EXPECT_EQ(rt.procs(), 2);
    EXPECT_TRUE(rt.config().trace);
    rt.go([&] {
      // this_coroutine::
      EXPECT_NE(corun::this_coroutine::id(), 0u);
      EXPECT_GE(corun::this_coroutine::worker(), 0);
      corun::this_coroutine::yield();
      corun::this_coroutine::sleep_for(1ms);
      corun::this_coroutine::sleep_until(std::chrono::steady_clock::now() + 1ms);
      // Channel<T>, make_channel
      corun::Channel<int> results(0);
      corun::Channel<int> buffered = corun::make_channel<int>(2);
      corun::Channel<int> nil{};
      EXPECT_FALSE(nil);
      EXPECT_EQ(buffered.cap(), 2u);
      EXPECT_EQ(buffered.try_send(1), corun::ChanStatus::kOk);
      EXPECT_EQ(buffered.len(), 1u);
      EXPECT_TRUE(buffered.try_recv().ok());
      // go, WaitGroup, Mutex
      corun::WaitGroup wg;
      corun::Mutex mu;
      int guarded = 0;
      for (int i = 0; i < 3; ++i) {
        wg.add(1);
        corun::go([=, &wg, &mu, &guarded]() mutable {
          {
            std::lock_guard<corun::Mutex> lk(mu);
            ++guarded;
          }
          results.send(i * i);
          wg.done();
        });
      }
      corun::go([&] {
        wg.wait();
        results.close();
      });
      int sum = 0;
      for (int v : results) sum += v;
      EXPECT_EQ(sum, 0 + 1 + 4);
      EXPECT_EQ(results.recv(), std::nullopt);
      EXPECT_EQ(guarded, 3);
      // select: recv, send, timeout, otherwise
      int taken = -1;
      corun::select(corun::send(buffered, 7, [&] { taken = 0; }), corun::otherwise([] {}));
      EXPECT_EQ(taken, 0);
      corun::select(corun::recv(buffered, [&](std::optional<int> v) { taken = *v; }),
                    corun::timeout(1s, [] {}));
      EXPECT_EQ(taken, 7);
      EXPECT_EQ(corun::select(corun::recv(nil), corun::timeout(1ms)), 1u);
      // Preemption: preempt_point, PreemptibleRegion, preemptible
      corun::preempt_point();
      { corun::PreemptibleRegion region; }
      EXPECT_EQ(corun::preemptible([] { return 42; }), 42);
      checks.fetch_add(1);
    });
    rt.wait();
    EXPECT_EQ(rt.live(), 0u);
    // The execution trace.
    const std::vector<corun::TraceEvent> events = rt.trace();
    EXPECT_FALSE(events.empty());
    EXPECT_STRNE(corun::to_string(corun::StopReason::kExit), "");
    EXPECT_LE(rt.trace_epoch(), std::chrono::steady_clock::now());
  }
  // corun::run and corun::Cancelled.
  corun::run({.procs = 1}, [&] {
    corun::go([&] {
      try {
        corun::this_coroutine::sleep_for(1h);
      } catch (const corun::Cancelled&) {
        checks.fetch_add(1);
        throw;
      }
    });
    corun::this_coroutine::yield();
  });
  EXPECT_EQ(checks.load(), 2);
}

}  // namespace
