// runtime_wait_test.cpp: Runtime::wait() called from a coroutine. From one
// of the runtime's own coroutines it waits for all the others (those also
// in wait() excepted), parking the coroutine, not its worker; from a
// coroutine of another runtime it parks that coroutine until the runtime has
// no coroutine left. Shutdown cancels either wait.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::ProcsTest;
using corun::test::Watchdog;

class RuntimeWaitInCoroutine : public ProcsTest {};
CORUN_PROCS_TESTS(RuntimeWaitInCoroutine);

TEST_P(RuntimeWaitInCoroutine, WaitsForAllOthers) {
  Watchdog dog("Runtime::wait() from a coroutine hung");
  constexpr int kOthers = 20;
  corun::Runtime rt({.procs = procs()});
  std::atomic<int> finished{0};
  int seen = -1;
  rt.go([&] {
    for (int i = 0; i < kOthers; ++i) {
      corun::go([&, i] {
        corun::this_coroutine::sleep_for(std::chrono::milliseconds(1 + i % 5));
        finished.fetch_add(1);
      });
    }
    rt.wait();
    seen = finished.load();
  });
  rt.wait();
  EXPECT_EQ(seen, kOthers);
}

TEST_P(RuntimeWaitInCoroutine, AloneReturnsAtOnce) {
  Watchdog dog("Runtime::wait() from the only coroutine hung");
  corun::Runtime rt({.procs = procs()});
  bool returned = false;
  rt.go([&] {
    rt.wait();
    returned = true;
  });
  rt.wait();
  EXPECT_TRUE(returned);
}

// Several coroutines waiting at once do not wait for each other.
TEST_P(RuntimeWaitInCoroutine, SeveralWaitersWaitForTheRest) {
  Watchdog dog("several Runtime::wait() callers hung");
  constexpr int kWaiters = 5;
  corun::Runtime rt({.procs = procs()});
  std::atomic<bool> worker_done{false};
  std::atomic<int> saw_done{0};
  rt.go([&] {  // first: a waiter started before it would have nothing to wait for
    corun::this_coroutine::sleep_for(30ms);
    worker_done.store(true);
  });
  for (int i = 0; i < kWaiters; ++i) {
    rt.go([&] {
      rt.wait();
      if (worker_done.load()) saw_done.fetch_add(1);
    });
  }
  rt.wait();
  EXPECT_EQ(saw_done.load(), kWaiters);
}

// The waiting coroutine parks: its worker runs the others meanwhile (with
// one worker, a blocked worker thread would never let them finish).
TEST_P(RuntimeWaitInCoroutine, ParksTheCoroutineNotTheWorker) {
  Watchdog dog("Runtime::wait() blocked its worker");
  corun::Runtime rt({.procs = procs()});
  corun::Channel<int> ch(0);
  int got = 0;
  rt.go([&] {
    corun::go([ch]() mutable { ch.send(42); });
    corun::go([&] { got = *ch.recv(); });
    rt.wait();
    EXPECT_EQ(got, 42);
  });
  rt.wait();
  EXPECT_EQ(got, 42);
}

// A plain thread's wait() also waits for the coroutines that wait.
TEST_P(RuntimeWaitInCoroutine, PlainThreadWaitsForTheWaitersToo) {
  Watchdog dog("Runtime::wait() from a thread and a coroutine hung");
  corun::Runtime rt({.procs = procs()});
  std::atomic<bool> waiter_finished{false};
  rt.go([&] {
    corun::go([] { corun::this_coroutine::sleep_for(20ms); });
    rt.wait();
    corun::this_coroutine::sleep_for(20ms);
    waiter_finished.store(true);
  });
  rt.wait();
  EXPECT_TRUE(waiter_finished.load());
  EXPECT_EQ(rt.live(), 0u);
}

TEST_P(RuntimeWaitInCoroutine, ShutdownCancelsTheWait) {
  Watchdog dog("shutdown with a coroutine in Runtime::wait() hung");
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
  std::atomic<bool> cancelled{false};
  std::atomic<bool> returned{false};
  corun::WaitGroup started;
  started.add(1);
  rt->go([&] {
    corun::go([] { corun::this_coroutine::sleep_for(1h); });
    started.done();
    try {
      rt->wait();
      returned.store(true);
    } catch (const corun::Cancelled&) {
      cancelled.store(true);
      throw;
    }
  });
  started.wait();
  std::this_thread::sleep_for(20ms);
  const auto start = Clock::now();
  rt.reset();
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_TRUE(cancelled.load());
  EXPECT_FALSE(returned.load());
}

// From a coroutine of another runtime: that coroutine parks (its worker
// runs its runtime's other coroutines) until the runtime waited for is done.
TEST_P(RuntimeWaitInCoroutine, FromAnotherRuntimeParksUntilItIsDone) {
  Watchdog dog("Runtime::wait() from another runtime's coroutine hung");
  // Each runtime knows only its own workers: a wait across runtimes is not
  // a deadlock it could judge.
  corun::Runtime a({.procs = procs(), .detect_deadlock = false});
  corun::Runtime b({.procs = 1, .detect_deadlock = false});
  std::atomic<bool> a_done{false};
  std::atomic<bool> b_other_ran{false};
  bool saw_a_done = false;
  corun::Channel<int> go_on(0);
  a.go([&, go_on]() mutable {
    go_on.recv();  // until b's other coroutine has run
    corun::this_coroutine::sleep_for(10ms);
    a_done.store(true);
  });
  b.go([&] {
    a.wait();
    saw_a_done = a_done.load();
  });
  b.go([&, go_on]() mutable {
    b_other_ran.store(true);  // only if the waiter left b's one worker free
    go_on.send(1);
  });
  b.wait();
  EXPECT_TRUE(b_other_ran.load());
  EXPECT_TRUE(saw_a_done);
  a.wait();
}

// The other runtime's coroutine is cancelled by its own runtime's shutdown,
// and the runtime it waited for forgets it.
TEST(RuntimeWaitInOtherRuntime, ItsShutdownCancelsTheWait) {
  Watchdog dog("shutdown of a runtime whose coroutine waits on another hung");
  corun::Runtime a({.procs = 1, .detect_deadlock = false});
  corun::Channel<int> release(0);
  a.go([release]() mutable { release.recv(); });
  std::atomic<bool> cancelled{false};
  {
    std::optional<corun::Runtime> b(std::in_place,
                                    corun::Config{.procs = 1, .detect_deadlock = false});
    corun::WaitGroup started;
    started.add(1);
    b->go([&] {
      started.done();
      try {
        a.wait();
      } catch (const corun::Cancelled&) {
        cancelled.store(true);
        throw;
      }
    });
    started.wait();
    std::this_thread::sleep_for(20ms);
    b.reset();
  }
  EXPECT_TRUE(cancelled.load());
  release.send(1);  // a finishes: nothing of b's coroutine may be touched
  a.wait();
  EXPECT_EQ(a.live(), 0u);
}

}  // namespace
