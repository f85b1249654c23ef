// fault_test.cpp: faults and their documented outcomes (issue #7), beyond
// runtime_fatal_test.cpp (deadlock, escaping exception, stack overflow by
// recursion, misused Mutex) and runtime_shutdown_test.cpp / chan_test.cpp
// (shutdown cancels sleepers, WaitGroup, Mutex and channel waiters).
//
//   - A coroutine that blocks its worker thread in a system call: corun has
//     no P hand-off (Go moves the P to another thread); the others keep
//     running on the remaining workers, and with procs = 1 everything
//     waits for the call.
//   - Exceptions: each coroutine keeps its own exception state across
//     switches; corun::Cancelled thrown by hand ends a coroutine quietly; a
//     channel misuse escaping a coroutine is a panic.
//   - Stack overflow by one big frame (not recursion).
//   - Deadlock once the last timer has fired.
//   - Shutdown: a coroutine that swallows corun::Cancelled and blocks again
//     is cancelled again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::ProcsTest;
using corun::test::scaled;
using corun::test::Watchdog;
using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::ExitedWithCode;
using ::testing::HasSubstr;

// HeldPipe is a pipe nobody writes until release().
class HeldPipe {
 public:
  HeldPipe() {
    if (::pipe(fds_) != 0) ADD_FAILURE() << "pipe: " << std::strerror(errno);
  }
  ~HeldPipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // read_one() blocks the calling thread until release().
  char read_one() {
    char c = 0;
    while (::read(fds_[0], &c, 1) < 0 && errno == EINTR) {
    }
    return c;
  }
  void release() { (void)!::write(fds_[1], "x", 1); }

 private:
  int fds_[2] = {-1, -1};
};

// ---------------------------------------------------------------------------
// A worker blocked in a system call

class FaultBlockingCall : public ProcsTest {};
INSTANTIATE_TEST_SUITE_P(Procs, FaultBlockingCall, ::testing::Values(2, 4),
                         ::corun::test::ProcsName{});

// One coroutine blocks its worker in read() on a pipe nobody writes. It
// first spawns the others (so they sit in its worker's run queue) and lets
// some of them start sleeping there (so their timers sit in its worker's
// timer heap). The other workers take all of that over: every other
// coroutine (yields, sleeps, channel ping-pong, a Mutex) finishes while
// the call still blocks. No deadlock is reported meanwhile: a worker in a
// system call is busy, not asleep.
TEST_P(FaultBlockingCall, OthersKeepRunningOnTheRemainingWorkers) {
  Watchdog dog("coroutines stuck behind a worker blocked in read()", std::chrono::seconds(60));
  constexpr int kOthers = 64;
  HeldPipe pipe;
  std::atomic<bool> blocking{false};
  std::atomic<bool> returned{false};
  std::atomic<int> finished{0};
  std::atomic<int> finished_while_blocked{0};
  corun::WaitGroup others;
  others.add(kOthers);
  corun::Mutex mu;
  long guarded = 0;
  corun::Runtime rt({.procs = procs()});
  rt.go([&] {
    for (int i = 0; i < kOthers; ++i) {
      corun::go([&, i] {
        switch (i % 4) {
          case 0:
            for (int k = 0; k < 50; ++k) corun::this_coroutine::yield();
            break;
          case 1:
            for (int k = 0; k < 5; ++k) corun::this_coroutine::sleep_for(2ms);
            break;
          case 2: {
            auto ping = corun::make_channel<int>();
            auto pong = corun::make_channel<int>();
            corun::go([ping, pong]() mutable {
              for (int k = 0; k < 100; ++k) pong.send(*ping.recv() + 1);
            });
            int v = 0;
            for (int k = 0; k < 100; ++k) {
              ping.send(v);
              v = *pong.recv();
            }
            if (v != 100) ADD_FAILURE() << "ping-pong ended at " << v;
            break;
          }
          default:
            for (int k = 0; k < 20; ++k) {
              std::lock_guard<corun::Mutex> lk(mu);
              ++guarded;
              corun::this_coroutine::yield();
            }
            break;
        }
        if (blocking.load() && !returned.load()) finished_while_blocked.fetch_add(1);
        finished.fetch_add(1);
        others.done();
      });
    }
    corun::this_coroutine::yield();  // some start here, and some go to sleep here
    blocking.store(true);
    (void)pipe.read_one();  // blocks this worker's thread
    returned.store(true);
  });
  others.wait();  // a plain thread in a corun wait: deadlock detection is on
  EXPECT_FALSE(returned.load()) << "the blocked call returned without the pipe being written";
  EXPECT_EQ(finished.load(), kOthers);
  EXPECT_EQ(guarded, (kOthers / 4) * 20);
  pipe.release();
  rt.wait();
  EXPECT_TRUE(returned.load());
}

// With one worker there is nobody else: everything waits for the call
// (Go would hand the P to another thread; corun does not).
TEST(FaultBlockingCallOneWorker, EverythingWaitsForTheCall) {
  Watchdog dog("a runtime with one worker blocked in a sleep hung");
  std::atomic<bool> call_done{false};
  std::atomic<int> ran_during_call{0};
  corun::Runtime rt({.procs = 1});
  corun::WaitGroup started;
  started.add(1);
  rt.go([&] {
    corun::go([&] {
      // Runs only once the worker is free again.
      if (!call_done.load()) ran_during_call.fetch_add(1);
    });
    started.done();
    std::this_thread::sleep_for(200ms);  // blocks the only worker thread
    call_done.store(true);
  });
  started.wait();
  rt.wait();
  EXPECT_EQ(ran_during_call.load(), 0);
}

// ---------------------------------------------------------------------------
// Exceptions

class FaultException : public ProcsTest {};
CORUN_PROCS_TESTS(FaultException);

// Coroutines switch (and move between workers) inside catch blocks and
// destructors run by unwinding: std::current_exception() and
// std::uncaught_exceptions() stay per coroutine, and `throw;` rethrows the
// coroutine's own exception.
TEST_P(FaultException, ExceptionStateIsPerCoroutine) {
  Watchdog dog("exception state test hung");
  const int n = static_cast<int>(scaled(200, 40));
  std::atomic<int> ok{0};
  std::atomic<int> bad{0};
  corun::Runtime rt({.procs = procs()});
  for (int i = 0; i < n; ++i) {
    rt.go([&, i] {
      const std::string mine = "coroutine " + std::to_string(i);
      // In a catch block, across yields.
      try {
        throw std::runtime_error(mine);
      } catch (const std::runtime_error&) {
        for (int k = 0; k < 5; ++k) {
          corun::this_coroutine::yield();
          try {
            std::rethrow_exception(std::current_exception());
          } catch (const std::runtime_error& e) {
            if (mine != e.what()) bad.fetch_add(1);
          }
        }
        try {
          throw;  // the coroutine's own exception, after switches
        } catch (const std::runtime_error& e) {
          if (mine != e.what()) bad.fetch_add(1);
        }
      }
      if (std::current_exception() != nullptr) bad.fetch_add(1);
      // In a destructor run by unwinding, across a sleep.
      struct Unwinding {
        std::atomic<int>& bad;
        ~Unwinding() {
          if (std::uncaught_exceptions() != 1) bad.fetch_add(1);
          corun::this_coroutine::sleep_for(100us);
          if (std::uncaught_exceptions() != 1) bad.fetch_add(1);
        }
      };
      try {
        Unwinding u{bad};
        throw i;
      } catch (int caught) {
        if (caught != i) bad.fetch_add(1);
      }
      if (std::uncaught_exceptions() != 0) bad.fetch_add(1);
      ok.fetch_add(1);
    });
  }
  rt.wait();
  EXPECT_EQ(ok.load(), n);
  EXPECT_EQ(bad.load(), 0);
}

// corun::Cancelled thrown by the program itself ends that coroutine like a
// return (runtime.hpp: "A coroutine that lets it escape ends normally"); the
// runtime carries on.
TEST_P(FaultException, CancelledThrownByHandEndsOnlyThatCoroutine) {
  Watchdog dog("Cancelled thrown by hand hung the runtime");
  std::atomic<int> after{0};
  std::atomic<int> others{0};
  corun::Runtime rt({.procs = procs()});
  for (int i = 0; i < 20; ++i) {
    rt.go([&] {
      corun::this_coroutine::yield();
      throw corun::Cancelled{};
      after.fetch_add(1);  // never reached
    });
    rt.go([&] {
      corun::this_coroutine::sleep_for(1ms);
      others.fetch_add(1);
    });
  }
  rt.wait();
  EXPECT_EQ(after.load(), 0);
  EXPECT_EQ(others.load(), 20);
  EXPECT_EQ(rt.live(), 0u);
}

class FaultDeathTest : public ProcsTest {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};
INSTANTIATE_TEST_SUITE_P(Procs, FaultDeathTest, ::testing::Values(1, 4),
                         ::corun::test::ProcsName{});

// A channel misuse (Go panics) that the coroutine does not catch is an
// escaping exception: a panic report naming the error, exit 2.
TEST_P(FaultDeathTest, SendOnClosedChannelEscapingIsAPanic) {
  const int procs = this->procs();
  EXPECT_EXIT(
      corun::run({.procs = procs},
                 [] {
                   auto ch = corun::make_channel<int>(1);
                   ch.close();
                   corun::go([ch]() mutable { ch.send(1); });
                   corun::this_coroutine::sleep_for(std::chrono::hours(1));
                 }),
      ExitedWithCode(2),
      AllOf(ContainsRegex("panic: coroutine [1-9][0-9]*"), HasSubstr("send on closed channel")));
}

// ---------------------------------------------------------------------------
// Stack overflow by one big frame

// big_frame() touches a `bytes`-sized local array from its low end first,
// as a large local buffer filled from the start does: the first write lands
// `bytes` below the caller's frame, well past a one-page guard.
__attribute__((noinline)) int big_frame(std::size_t bytes) {
  char* buf = static_cast<char*>(__builtin_alloca(bytes));
  for (std::size_t i = 0; i < bytes; i += 512) static_cast<volatile char*>(buf)[i] = 1;
  return static_cast<volatile char*>(buf)[bytes / 2];
}

// A frame bigger than the stack, its guard page and the neighbouring stack:
// reported as a stack overflow, neither a bare SIGSEGV nor a silent write
// into another coroutine's stack. This needs the frame to be probed page by
// page (-fstack-clash-protection, which the corun target passes on to the
// code that uses it): without it, the first write lands below the guard.
TEST_P(FaultDeathTest, OverflowByOneBigFrameIsReported) {
  if (corun::test::kSanitized) GTEST_SKIP() << "ASan reports the overflow itself";
  const int procs = this->procs();
  EXPECT_EXIT(corun::run({.procs = procs, .stack_size = 64 * 1024},
                         [] {
                           // Neighbours: other coroutines' stacks around this one.
                           corun::WaitGroup park;
                           park.add(1);
                           for (int i = 0; i < 8; ++i) corun::go([&park] { park.wait(); });
                           corun::this_coroutine::yield();
                           corun::go([] { big_frame(200 * 1024); });
                           corun::this_coroutine::sleep_for(std::chrono::hours(1));
                         }),
              ExitedWithCode(2), ContainsRegex("stack overflow in coroutine [1-9][0-9]*"));
}

// Slabs of stacks grow (64 stacks, then 128, 256, ...): a stack from a later,
// bigger slab is guarded as well as one from the first.
TEST_P(FaultDeathTest, OverflowInALaterSlabIsReported) {
  if (corun::test::kSanitized) GTEST_SKIP() << "ASan reports the overflow itself";
  const int procs = this->procs();
  EXPECT_EXIT(corun::run({.procs = procs, .stack_size = 64 * 1024},
                         [] {
                           // 1,000 parked coroutines fill the first four slabs.
                           corun::WaitGroup park, parked;
                           park.add(1);
                           parked.add(1000);
                           for (int i = 0; i < 1000; ++i) {
                             corun::go([&] {
                               parked.done();
                               park.wait();
                             });
                           }
                           parked.wait();
                           corun::go([] { big_frame(200 * 1024); });
                           corun::this_coroutine::sleep_for(std::chrono::hours(1));
                         }),
              ExitedWithCode(2), ContainsRegex("stack overflow in coroutine [1-9][0-9]*"));
}

// ---------------------------------------------------------------------------
// Deadlock

// A pending timer is not a deadlock; once it has fired and every coroutine
// is blocked for good, it is.
TEST_P(FaultDeathTest, DeadlockReportedOnceTheLastTimerFired) {
  const int procs = this->procs();
  EXPECT_EXIT(
      {
        corun::run({.procs = procs}, [] {
          auto ch = corun::make_channel<int>();
          corun::go([ch]() mutable {
            corun::this_coroutine::sleep_for(300ms);
            std::fprintf(stderr, "timer fired\n");
            (void)ch.recv();  // nobody sends: now it is a deadlock
          });
          (void)ch.recv();
        });
      },
      ExitedWithCode(2),
      ContainsRegex("timer fired\n(.|\n)*fatal error: all coroutines are asleep - deadlock!"));
}

// ---------------------------------------------------------------------------
// Shutdown

class FaultShutdown : public ProcsTest {};
CORUN_PROCS_TESTS(FaultShutdown);

// A coroutine that catches corun::Cancelled and blocks again (in a channel
// receive, a sleep, a Mutex) is cancelled again: the runtime's destructor
// returns, and every stack unwinds.
TEST_P(FaultShutdown, SwallowedCancellationIsCancelledAgain) {
  Watchdog dog("destroying a runtime whose coroutines swallow Cancelled hung",
               std::chrono::seconds(60));
  constexpr int kEach = 10;
  std::atomic<int> swallowed{0};
  std::atomic<int> unwound{0};
  struct Unwound {
    std::atomic<int>& n;
    ~Unwound() { n.fetch_add(1); }
  };
  auto silent = corun::make_channel<int>();
  corun::Mutex mu;
  corun::WaitGroup started;
  started.add(3 * kEach + 1);
  {
    std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
    rt->go([&] {  // holds the Mutex for good
      std::lock_guard<corun::Mutex> lk(mu);
      started.done();
      for (;;) {
        try {
          corun::this_coroutine::sleep_for(1h);
        } catch (const corun::Cancelled&) {
          swallowed.fetch_add(1);
          (void)silent.recv();  // blocks again
        }
      }
    });
    for (int i = 0; i < kEach; ++i) {
      rt->go([&, silent]() mutable {
        Unwound u{unwound};
        started.done();
        try {
          (void)silent.recv();
        } catch (const corun::Cancelled&) {
          swallowed.fetch_add(1);
          (void)silent.recv();  // blocks again: cancelled again
        }
      });
      rt->go([&] {
        Unwound u{unwound};
        started.done();
        try {
          corun::this_coroutine::sleep_for(1h);
        } catch (...) {  // catch (...) swallows Cancelled too
          swallowed.fetch_add(1);
          corun::this_coroutine::sleep_for(1h);
        }
      });
      rt->go([&] {
        Unwound u{unwound};
        started.done();
        try {
          std::lock_guard<corun::Mutex> lk(mu);
        } catch (const corun::Cancelled&) {
          swallowed.fetch_add(1);
          std::lock_guard<corun::Mutex> lk(mu);
        }
      });
    }
    started.wait();
    std::this_thread::sleep_for(5ms);  // let them all block
    const auto start = Clock::now();
    rt.reset();
    EXPECT_LT(Clock::now() - start, 10s);
  }
  EXPECT_EQ(unwound.load(), 3 * kEach);
  // The Mutex waiters may get the lock (from the unwinding holder) instead.
  EXPECT_GE(swallowed.load(), 2 * kEach + 1);
}

}  // namespace
