// runtime_sync_test.cpp: WaitGroup, Mutex, and park()/unpark() under stress
// (no lost wake-up).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "corun/corun.hpp"
#include "corun/detail/park.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::test::ProcsTest;
using corun::test::scaled;
using corun::test::Watchdog;

class RuntimeSync : public ProcsTest {};
CORUN_PROCS_TESTS(RuntimeSync);

// ---------------------------------------------------------------------------
// WaitGroup

TEST_P(RuntimeSync, WaitGroupWaitFromPlainThreads) {
  Watchdog dog("WaitGroup.wait from a plain thread never returned");
  constexpr int kCoroutines = 100;
  corun::Runtime rt({.procs = procs()});
  corun::WaitGroup wg;
  std::atomic<int> finished{0};
  wg.add(kCoroutines);
  for (int i = 0; i < kCoroutines; ++i) {
    rt.go([&] {
      corun::this_coroutine::sleep_for(1ms);
      finished.fetch_add(1);
      wg.done();
    });
  }
  std::atomic<int> other_saw{-1};
  std::thread other([&] {  // a thread the runtime has never seen
    wg.wait();
    other_saw = finished.load();
  });
  wg.wait();
  EXPECT_EQ(finished.load(), kCoroutines);
  other.join();
  EXPECT_EQ(other_saw.load(), kCoroutines);
  EXPECT_EQ(wg.count(), 0);
}

TEST_P(RuntimeSync, WaitGroupReleasesAllWaitersAndIsReusable) {
  Watchdog dog("WaitGroup waiters were not all released");
  constexpr int kWaiters = 50;
  corun::Runtime rt({.procs = procs()});
  corun::WaitGroup gate, arrived, released;
  for (int round = 0; round < 3; ++round) {
    gate.add(1);
    arrived.add(kWaiters);
    released.add(kWaiters);
    for (int i = 0; i < kWaiters; ++i) {
      rt.go([&] {
        arrived.done();
        gate.wait();
        released.done();
      });
    }
    arrived.wait();
    EXPECT_EQ(released.count(), kWaiters);
    gate.done();
    released.wait();
  }
  rt.wait();
}

TEST(RuntimeWaitGroup, ZeroCounterWaitReturnsAtOnce) {
  corun::WaitGroup wg;
  wg.wait();
  wg.add(0);
  wg.wait();
  corun::Runtime rt({.procs = 1});
  rt.go([&] { wg.wait(); });
  rt.wait();
}

TEST(RuntimeWaitGroup, NegativeCounterThrowsAndLeavesCounterAlone) {
  corun::WaitGroup wg;
  EXPECT_THROW(wg.add(-1), std::logic_error);
  EXPECT_EQ(wg.count(), 0);
  EXPECT_THROW(wg.done(), std::logic_error);
  EXPECT_EQ(wg.count(), 0);
  wg.add(2);
  wg.done();
  EXPECT_THROW(wg.add(-2), std::logic_error);
  EXPECT_EQ(wg.count(), 1);
  wg.done();
  EXPECT_EQ(wg.count(), 0);
  wg.wait();
}

TEST(RuntimeWaitGroup, NegativeCounterThrowsInsideACoroutine) {
  corun::Runtime rt({.procs = 2});
  std::atomic<bool> threw{false};
  rt.go([&] {
    corun::WaitGroup wg;
    try {
      wg.done();
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  rt.wait();
  EXPECT_TRUE(threw.load());
}

// ---------------------------------------------------------------------------
// Mutex

// 8 coroutines x 10k increments, each yielding inside the critical section
// so the others pile up on the lock: no two are ever inside together.
TEST_P(RuntimeSync, MutexExcludesUnderContention) {
  Watchdog dog("Mutex contention test did not finish");
  constexpr int kCoroutines = 8;
  const long iterations = scaled(10'000, 2'000);
  corun::Runtime rt({.procs = procs()});
  corun::Mutex mu;
  long counter = 0;  // guarded by mu
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  for (int c = 0; c < kCoroutines; ++c) {
    rt.go([&, c] {
      for (long i = 0; i < iterations; ++i) {
        std::lock_guard<corun::Mutex> lk(mu);
        if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
        const long seen = counter;
        if ((i + c) % 2 == 0) corun::this_coroutine::yield();
        counter = seen + 1;
        inside.fetch_sub(1);
      }
    });
  }
  rt.wait();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(counter, kCoroutines * iterations);
}

// Plain threads and coroutines contend for the same Mutex: threads block on
// a futex, coroutines park.
TEST_P(RuntimeSync, MutexSharedByThreadsAndCoroutines) {
  Watchdog dog("Mutex shared by threads and coroutines did not finish");
  constexpr int kCoroutines = 4;
  constexpr int kThreads = 2;
  const long iterations = scaled(5'000, 1'000);
  corun::Runtime rt({.procs = procs()});
  corun::Mutex mu;
  long counter = 0;  // guarded by mu
  for (int c = 0; c < kCoroutines; ++c) {
    rt.go([&] {
      for (long i = 0; i < iterations; ++i) {
        std::unique_lock<corun::Mutex> lk(mu);
        ++counter;
        if (i % 16 == 0) corun::this_coroutine::yield();
      }
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (long i = 0; i < iterations; ++i) {
        std::scoped_lock lk(mu);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  rt.wait();
  EXPECT_EQ(counter, (kCoroutines + kThreads) * iterations);
}

// The coroutine that takes a Mutex after another may destroy it at once,
// while the other's unlock() may still be running: unlock() must not touch
// the Mutex once the next owner can have it (ASan/TSan catch a violation).
TEST_P(RuntimeSync, MutexMayBeDestroyedByItsNextOwner) {
  Watchdog dog("Mutex hand-over rounds did not finish");
  const int rounds = static_cast<int>(scaled(5'000, 1'000));
  corun::Runtime rt({.procs = procs()});
  std::atomic<int> destroyed{0};
  for (int r = 0; r < rounds; ++r) {
    auto* mu = new corun::Mutex;
    mu->lock();
    corun::WaitGroup next_done;
    next_done.add(1);
    rt.go([mu, &destroyed, &next_done] {
      mu->lock();  // queues behind the owner, or barges in after its unlock
      mu->unlock();
      delete mu;
      destroyed.fetch_add(1);
      next_done.done();
    });
    if (r % 2 == 0) std::this_thread::yield();  // sometimes the next owner queues first
    mu->unlock();                               // the last access to *mu on this side
    next_done.wait();
  }
  rt.wait();
  EXPECT_EQ(destroyed.load(), rounds);
}

// A WaitGroup may be destroyed as soon as wait() returns, while the done()
// that released it is still running (ASan/TSan catch a violation).
TEST_P(RuntimeSync, WaitGroupMayBeDestroyedWhenWaitReturns) {
  Watchdog dog("WaitGroup rounds did not finish");
  const int rounds = static_cast<int>(scaled(5'000, 1'000));
  corun::Runtime rt({.procs = procs()});
  std::atomic<int> finished{0};
  rt.go([&] {
    for (int r = 0; r < rounds; ++r) {
      auto wg = std::make_unique<corun::WaitGroup>();
      wg->add(2);
      for (int k = 0; k < 2; ++k) {
        corun::go([w = wg.get(), &finished] {
          finished.fetch_add(1);
          w->done();  // the last access to *w by this coroutine
        });
      }
      wg->wait();
    }  // destroyed here, every round
  });
  rt.wait();
  EXPECT_EQ(finished.load(), 2 * rounds);
}

TEST_P(RuntimeSync, MutexTryLock) {
  corun::Runtime rt({.procs = procs()});
  corun::Mutex mu;
  corun::WaitGroup held, tried;
  held.add(1);
  tried.add(1);
  std::atomic<int> failures{0};
  rt.go([&] {
    if (!mu.try_lock()) failures.fetch_add(1);  // free: taken
    held.done();
    tried.wait();
    mu.unlock();
  });
  rt.go([&] {
    held.wait();
    if (mu.try_lock()) failures.fetch_add(1);  // held by the other: refused
    tried.done();
    mu.lock();  // parks until the other unlocks
    mu.unlock();
    if (!mu.try_lock()) failures.fetch_add(1);
    mu.unlock();
  });
  rt.wait();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(mu.try_lock());  // and from a plain thread
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
}

// ---------------------------------------------------------------------------
// No lost wake-up

// Baton is a binary semaphore written directly on park()/unpark(), the way
// every corun wait is: post() wakes the waiter or leaves a permit.
class Baton {
 public:
  void post() {
    lock_.lock();
    if (waiter_ != nullptr) {
      corun::detail::Coroutine* w = std::exchange(waiter_, nullptr);
      lock_.unlock();
      corun::detail::unpark(w);
      return;
    }
    posted_ = true;
    lock_.unlock();
  }

  void wait() {
    lock_.lock();
    if (posted_) {
      posted_ = false;
      lock_.unlock();
      return;
    }
    waiter_ = corun::detail::current_waiter();
    corun::detail::park(lock_, corun::detail::WaitReason::kChanReceive, nullptr, nullptr);
  }

 private:
  corun::detail::SpinLock lock_;
  corun::detail::Coroutine* waiter_ = nullptr;  // guarded by lock_
  bool posted_ = false;                         // guarded by lock_
};

// spin_for() busy-waits without yielding, so that a coroutine this one just
// woke (queued in this worker's runnext) is stolen by another worker: the
// next wake-up then crosses threads.
void spin_for(std::chrono::microseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) corun::detail::cpu_relax();
}

// 10^6 park/unpark hand-offs between pairs of coroutines. Now and then the
// waker keeps running after the wake-up, so the woken coroutine moves to
// another worker and wake-ups cross threads. A lost wake-up hangs the
// relay; the watchdog turns that into a failure.
TEST_P(RuntimeSync, NoLostWakeupBetweenCoroutines) {
  Watchdog dog("a park/unpark hand-off was lost (the relay hung)");
  const long handoffs = scaled(1'000'000, 100'000);
  const int pairs = procs();
  const long rounds = handoffs / (2 * pairs);
  corun::Runtime rt({.procs = procs()});
  std::vector<Baton> ping(static_cast<std::size_t>(pairs)), pong(static_cast<std::size_t>(pairs));
  std::atomic<long> done{0};
  for (int p = 0; p < pairs; ++p) {
    Baton& a = ping[static_cast<std::size_t>(p)];
    Baton& b = pong[static_cast<std::size_t>(p)];
    rt.go([&, rounds] {
      for (long i = 0; i < rounds; ++i) {
        a.post();
        if (i % 64 == 0) spin_for(5us);
        b.wait();
      }
      done.fetch_add(rounds);
    });
    rt.go([&, rounds] {
      for (long i = 0; i < rounds; ++i) {
        a.wait();
        b.post();
        if (i % 64 == 32) spin_for(5us);
      }
      done.fetch_add(rounds);
    });
  }
  rt.wait();
  EXPECT_EQ(done.load(), 2 * rounds * pairs);
}

// Hand-offs between a plain thread (which blocks on a futex) and a coroutine:
// every wake-up crosses threads.
TEST_P(RuntimeSync, NoLostWakeupBetweenThreadAndCoroutine) {
  Watchdog dog("a thread/coroutine hand-off was lost (the relay hung)");
  const long rounds = scaled(20'000, 5'000);
  corun::Runtime rt({.procs = procs()});
  Baton to_coroutine, to_thread;
  long coroutine_rounds = 0;
  rt.go([&] {
    for (long i = 0; i < rounds; ++i) {
      to_coroutine.wait();
      ++coroutine_rounds;
      to_thread.post();
    }
  });
  for (long i = 0; i < rounds; ++i) {
    to_coroutine.post();
    to_thread.wait();
  }
  rt.wait();
  EXPECT_EQ(coroutine_rounds, rounds);
}

}  // namespace
