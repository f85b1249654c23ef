// runtime_shutdown_test.cpp: destroying a Runtime cancels what is still
// alive, promptly, unwinding every coroutine's stack (RAII runs); never
// started coroutines are dropped unrun.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "corun/corun.hpp"
#include "corun/sched/scheduler.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::ProcsTest;
using corun::test::Watchdog;

class RuntimeShutdown : public ProcsTest {};
CORUN_PROCS_TESTS(RuntimeShutdown);

constexpr int kBlocked = 100;

// Counted counts its destructions: proof that a stack was unwound.
struct Counted {
  std::atomic<int>& destroyed;
  ~Counted() { destroyed.fetch_add(1); }
};

// destroy_timed() destroys the runtime and returns how long that took.
Clock::duration destroy_timed(std::optional<corun::Runtime>& rt) {
  const auto start = Clock::now();
  rt.reset();
  return Clock::now() - start;
}

TEST_P(RuntimeShutdown, CancelsSleepers) {
  Watchdog dog("destroying a runtime with sleepers hung");
  std::atomic<int> destroyed{0};
  std::atomic<int> woke{0};
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
  corun::WaitGroup started;
  started.add(kBlocked);
  for (int i = 0; i < kBlocked; ++i) {
    rt->go([&] {
      Counted c{destroyed};
      started.done();
      corun::this_coroutine::sleep_for(1h);
      woke.fetch_add(1);
    });
  }
  started.wait();
  EXPECT_LT(destroy_timed(rt), 10s);
  EXPECT_EQ(destroyed.load(), kBlocked);
  EXPECT_EQ(woke.load(), 0) << "a cancelled sleep throws corun::Cancelled, it does not return";
}

TEST_P(RuntimeShutdown, CancelsWaitGroupWaiters) {
  Watchdog dog("destroying a runtime with WaitGroup waiters hung");
  std::atomic<int> destroyed{0};
  corun::WaitGroup never;
  never.add(1);
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
  corun::WaitGroup started;
  started.add(kBlocked);
  for (int i = 0; i < kBlocked; ++i) {
    rt->go([&] {
      Counted c{destroyed};
      started.done();
      never.wait();
    });
  }
  started.wait();
  EXPECT_LT(destroy_timed(rt), 10s);
  EXPECT_EQ(destroyed.load(), kBlocked);
  EXPECT_EQ(never.count(), 1);
}

// A WaitGroup outlives the runtime whose coroutine waited on it: the cancelled
// waiter is no longer counted as queued, so a later round hands out no
// spurious pass. At procs 1, so that the round-one waiter is queued before
// the done() that releases it (a pass then would be legitimate). Round two
// has no done(): its waiter must block, and the runtime reports the
// deadlock; had it been let through, the process would exit normally.
TEST(RuntimeShutdownDeathTest, CancelledWaitGroupWaiterLeavesNoPassBehind) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto reuse_after_cancel = [] {
    corun::WaitGroup wg;
    wg.add(1);
    {
      corun::Runtime rt({.procs = 1});
      corun::WaitGroup started;
      started.add(1);
      rt.go([&] {
        started.done();
        wg.wait();
      });
      started.wait();
    }  // cancels the waiter
    corun::Runtime rt({.procs = 1});
    corun::WaitGroup finished;
    finished.add(1);
    rt.go([&] {
      corun::go([&] { wg.done(); });  // runs once this coroutine is queued in wait()
      wg.wait();
      wg.add(1);
      wg.wait();  // nobody calls done()
      finished.done();
    });
    finished.wait();
  };
  EXPECT_DEATH(reuse_after_cancel(), "all coroutines are asleep - deadlock!");
}

// One coroutine holds the Mutex and sleeps; the rest queue on the lock.
// Shutdown cancels both kinds of wait; the holder's lock_guard unlocks as it
// unwinds, and the Mutex ends up free.
TEST_P(RuntimeShutdown, CancelsMutexWaiters) {
  Watchdog dog("destroying a runtime with Mutex waiters hung");
  std::atomic<int> destroyed{0};
  corun::Mutex mu;
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
  corun::WaitGroup held, started;
  held.add(1);
  started.add(kBlocked - 1);
  rt->go([&] {
    Counted c{destroyed};
    std::lock_guard<corun::Mutex> lk(mu);
    held.done();
    corun::this_coroutine::sleep_for(1h);
  });
  held.wait();
  for (int i = 1; i < kBlocked; ++i) {
    rt->go([&] {
      Counted c{destroyed};
      started.done();
      std::lock_guard<corun::Mutex> lk(mu);
    });
  }
  started.wait();
  EXPECT_LT(destroy_timed(rt), 10s);
  EXPECT_EQ(destroyed.load(), kBlocked);
  EXPECT_TRUE(mu.try_lock()) << "the Mutex must be free once every holder unwound";
  mu.unlock();
}

TEST_P(RuntimeShutdown, CancelsYieldLoops) {
  Watchdog dog("destroying a runtime with yield loops hung");
  std::atomic<int> destroyed{0};
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
  corun::WaitGroup started;
  started.add(10);
  for (int i = 0; i < 10; ++i) {
    rt->go([&] {
      Counted c{destroyed};
      started.done();
      for (;;) corun::this_coroutine::yield();
    });
  }
  started.wait();
  EXPECT_LT(destroy_timed(rt), 10s);
  EXPECT_EQ(destroyed.load(), 10);
}

// shutting_down() tells a coroutine that its runtime is being destroyed (a
// test-only peek into the scheduler).
bool shutting_down() { return corun::detail::this_worker()->sched.shutting_down(); }

// Every worker is held by a coroutine that spins (never yields) until the
// runtime is being destroyed, so coroutines spawned meanwhile are still
// queued, never started, when destruction begins. They are dropped: their
// bodies never run, and what their closures captured is destroyed.
TEST_P(RuntimeShutdown, DropsNeverStartedCoroutines) {
  Watchdog dog("destroying a runtime with queued coroutines hung");
  constexpr int kQueued = 1000;
  std::atomic<int> ran{0};
  std::atomic<int> destroyed{0};
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
  corun::WaitGroup holding;
  holding.add(procs());
  for (int i = 0; i < procs(); ++i) {
    rt->go([&] {
      holding.done();
      while (!shutting_down()) std::this_thread::yield();
    });
  }
  holding.wait();
  for (int i = 0; i < kQueued; ++i) {
    auto token = std::make_shared<Counted>(destroyed);
    rt->go([&ran, token] { ran.fetch_add(1); });
  }
  EXPECT_EQ(destroyed.load(), 0);
  EXPECT_LT(destroy_timed(rt), 10s);
  EXPECT_EQ(ran.load(), 0) << "a coroutine not started before shutdown must not start";
  EXPECT_EQ(destroyed.load(), kQueued);
}

// corun::run returns when its main coroutine does, cancelling the rest.
TEST_P(RuntimeShutdown, RunCancelsWhatMainLeftBehind) {
  Watchdog dog("corun::run did not return");
  std::atomic<int> destroyed{0};
  const auto start = Clock::now();
  corun::run({.procs = procs()}, [&] {
    corun::WaitGroup started;
    started.add(10);
    for (int i = 0; i < 10; ++i) {
      corun::go([&] {
        Counted c{destroyed};
        started.done();
        corun::this_coroutine::sleep_for(1h);
      });
    }
    started.wait();
  });
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_EQ(destroyed.load(), 10);
}

// start_pairs() starts `pairs` pairs of coroutines that hand a number back
// and forth over two unbuffered channels forever; each coroutine counts its
// start, and its end in a destructor (normal or unwound).
void start_pairs(corun::Runtime& rt, int pairs, std::atomic<int>& started,
                 std::atomic<int>& finished) {
  for (int p = 0; p < pairs; ++p) {
    corun::Channel<int> ping(0), pong(0);
    rt.go([ping, pong, &started, &finished]() mutable {
      started.fetch_add(1);
      Counted c{finished};
      for (int i = 0;; ++i) {
        ping.send(i);
        (void)pong.recv();
      }
    });
    rt.go([ping, pong, &started, &finished]() mutable {
      started.fetch_add(1);
      Counted c{finished};
      for (;;) pong.send(*ping.recv());
    });
  }
}

// Two coroutines that keep waking each other are parked, but nearly always
// inside a hand-off (already taken off the wait queue by the other): a
// sweep from the destroying thread rarely catches one still queued. Each
// is cancelled as soon as it parks instead. (Left to the sweep, destroying
// 8 pairs took 0.1 to 3 s at procs 1.)
TEST_P(RuntimeShutdown, CancelsCoroutinesThatKeepWakingEachOther) {
  Watchdog dog("destroying a runtime with ping-pong pairs hung");
  constexpr int kPairs = 8;
  Clock::duration total{};
  for (int round = 0; round < 5; ++round) {
    std::atomic<int> started{0}, finished{0};
    std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
    start_pairs(*rt, kPairs, started, finished);
    while (started.load() < 2 * kPairs) std::this_thread::yield();
    total += destroy_timed(rt);
    EXPECT_EQ(finished.load(), 2 * kPairs) << "round " << round;
  }
  EXPECT_LT(total, 2s) << "5 runtimes with " << kPairs << " busy pairs each";
}

// Coroutines readying each other (the waker's plain-store path) while the
// runtime is destroyed at a different moment of their traffic each round:
// every coroutine that started must finish (those not started yet are
// dropped unrun).
TEST_P(RuntimeShutdown, WakersRacingShutdownLoseNoCoroutine) {
  Watchdog dog("destroying a runtime amid hand-offs hung");
  const int rounds = static_cast<int>(corun::test::scaled(100, 25));
  for (int round = 0; round < rounds; ++round) {
    std::atomic<int> started{0}, finished{0};
    {
      corun::Runtime rt({.procs = procs()});
      start_pairs(rt, 8, started, finished);
      while (started.load() < 2) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::microseconds(37 * (round % 11)));
    }
    ASSERT_EQ(finished.load(), started.load()) << "round " << round;
  }
}

// Runtimes come and go quickly, with work in flight or none at all.
TEST_P(RuntimeShutdown, ManyRuntimesInARow) {
  Watchdog dog("creating and destroying runtimes hung");
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> n{0};  // outlives rt, whose destruction may still run coroutines
    corun::Runtime rt({.procs = procs()});
    if (round % 2 == 0) continue;  // never used
    for (int i = 0; i < 20; ++i) {
      rt.go([&] {
        corun::this_coroutine::yield();
        n.fetch_add(1);
      });
    }
    if (round % 4 == 1) {
      rt.wait();
      EXPECT_EQ(n.load(), 20);
    }
  }
}

}  // namespace
