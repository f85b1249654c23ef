// blocking_call_test.cpp: corun::blocking(): a call that blocks its thread
// in the kernel does not stall the other coroutines of its worker (the
// monitor hands the worker to another thread), results and exceptions come
// back, and deadlock detection and shutdown know about such calls.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::Watchdog;

// BlockingPipe: an empty pipe, whose read end blocks until write_byte().
struct BlockingPipe {
  int fd[2] = {-1, -1};
  BlockingPipe() {
    if (pipe(fd) != 0) throw std::runtime_error("pipe");
  }
  ~BlockingPipe() {
    close(fd[0]);
    close(fd[1]);
  }
  BlockingPipe(const BlockingPipe&) = delete;
  BlockingPipe& operator=(const BlockingPipe&) = delete;
  // read_byte() blocks the calling thread until a byte arrives.
  char read_byte() const {
    char c = 0;
    while (read(fd[0], &c, 1) != 1) {
    }
    return c;
  }
  void write_byte(char c) const {
    while (write(fd[1], &c, 1) != 1) {
    }
  }
};

// threads() is this process's thread count.
int threads() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.' ? 1 : 0;
    closedir(d);
  }
  return n;
}

// TickerRun: `blockers` coroutines each block their thread in a read of an
// empty pipe, which a plain thread ends `call` later, while a coroutine
// ticks every 50 ms beside them; all at procs 1.
struct TickerRun {
  Clock::duration longest_gap{};    // between two ticks
  Clock::duration shortest_call{};  // as the blockers saw it
};

TickerRun run_ticker(corun::Runtime& rt, int blockers, bool use_blocking,
                     Clock::duration call = 1s) {
  std::vector<std::unique_ptr<BlockingPipe>> pipes;
  for (int i = 0; i < blockers; ++i) pipes.push_back(std::make_unique<BlockingPipe>());
  std::atomic<int> reading{0};
  std::atomic<int> finished{0};
  std::atomic<Clock::rep> shortest{Clock::duration::max().count()};
  std::atomic<Clock::rep> longest_gap{0};
  rt.go([&] {
    auto last = Clock::now();
    while (finished.load() < blockers) {
      corun::this_coroutine::sleep_for(50ms);
      const auto now = Clock::now();
      const Clock::rep gap = (now - last).count();
      if (gap > longest_gap.load()) longest_gap.store(gap);
      last = now;
    }
  });
  for (int i = 0; i < blockers; ++i) {
    rt.go([&, i] {
      corun::this_coroutine::sleep_for(60ms);  // the ticker has ticked once
      const auto start = Clock::now();
      reading.fetch_add(1);
      const char c = use_blocking ? corun::blocking([&] { return pipes[i]->read_byte(); })
                                  : pipes[i]->read_byte();
      EXPECT_EQ(c, static_cast<char>('a' + i));
      const Clock::rep lasted = (Clock::now() - start).count();
      Clock::rep seen = shortest.load();
      while (lasted < seen && !shortest.compare_exchange_weak(seen, lasted)) {
      }
      finished.fetch_add(1);
    });
  }
  // The writer: ends each call `call` after the last one began.
  while (reading.load() < blockers) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(call);
  for (int i = 0; i < blockers; ++i) pipes[i]->write_byte(static_cast<char>('a' + i));
  rt.wait();
  const TickerRun r{Clock::duration(longest_gap.load()), Clock::duration(shortest.load())};
  std::printf("[blocking] %d call(s) %s blocking(): longest ticker gap %lld ms beside %lld ms\n",
              blockers, use_blocking ? "inside" : "without",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(r.longest_gap).count()),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(r.shortest_call).count()));
  return r;
}

TEST(BlockingCall, TickerKeepsTickingBesideALongCallAtProcs1) {
  Watchdog dog("a ticker beside a blocking call hung");
  corun::Runtime rt(corun::Config{.procs = 1});
  const TickerRun r = run_ticker(rt, 1, /*use_blocking=*/true);
  ASSERT_GE(r.shortest_call, 900ms);
  // Quiet machine: ~55 ms (one tick plus the monitor's period at most).
  EXPECT_LT(r.longest_gap, r.shortest_call / 3)
      << "longest gap "
      << std::chrono::duration_cast<std::chrono::milliseconds>(r.longest_gap).count() << " ms";
}

TEST(BlockingCall, TickerKeepsTickingBesideEightCallsAtProcs1) {
  Watchdog dog("a ticker beside eight blocking calls hung");
  corun::Runtime rt(corun::Config{.procs = 1});
  const int before = threads();
  const TickerRun r = run_ticker(rt, 8, /*use_blocking=*/true);
  ASSERT_GE(r.shortest_call, 900ms);
  // The monitor starts the 8 spare threads one after the other; under TSan
  // a thread takes 10-35 ms to start (test_support.hpp).
  EXPECT_LT(r.longest_gap,
            corun::test::kThreadSanitizer ? r.shortest_call * 2 / 3 : r.shortest_call / 3)
      << "longest gap "
      << std::chrono::duration_cast<std::chrono::milliseconds>(r.longest_gap).count() << " ms";
  // One thread per call in flight at most (plus the ones they replaced),
  // and the spares are reused: a second round starts none.
  const int after = threads();
  EXPECT_LE(after, before + 8);
  const TickerRun again = run_ticker(rt, 8, /*use_blocking=*/true, 300ms);
  EXPECT_LT(again.longest_gap, again.shortest_call * 2 / 3);
  EXPECT_EQ(threads(), after);
}

// Without blocking() the worker's thread is stuck in the read, and so is
// the ticker: the gap is the whole call (the test above can fail).
TEST(BlockingCall, WithoutItTheTickerStallsForTheWholeCall) {
  Watchdog dog("a ticker beside a plain blocking read hung");
  corun::Runtime rt(corun::Config{.procs = 1});
  const TickerRun r = run_ticker(rt, 1, /*use_blocking=*/false, 500ms);
  ASSERT_GE(r.shortest_call, 450ms);
  EXPECT_GE(r.longest_gap, r.shortest_call * 9 / 10);
}

TEST(BlockingCall, ReturnsTheResult) {
  corun::Runtime rt(corun::Config{.procs = 2});
  int target = 0;
  rt.go([&] {
    EXPECT_EQ(corun::blocking([] { return 42; }), 42);
    int& ref = corun::blocking([&]() -> int& { return target; });
    ref = 7;
    auto owned = corun::blocking([] { return std::make_unique<std::string>("moved"); });
    EXPECT_EQ(*owned, "moved");
    bool ran = false;
    corun::blocking([&] { ran = true; });
    EXPECT_TRUE(ran);
    // Long enough to be handed off (a 2nd worker is idle, but the call
    // lasts past Go's 10 ms rule): the result survives the move.
    EXPECT_EQ(corun::blocking([] {
                std::this_thread::sleep_for(30ms);
                return std::string("late");
              }),
              "late");
  });
  rt.wait();
  EXPECT_EQ(target, 7);
}

// errno_of_this_thread() reads errno where the calling thread keeps it,
// found anew at every call (errno's accessor is declared const, so the
// compiler could reuse the address from before a move between threads).
[[gnu::noipa]] int errno_of_this_thread() { return errno; }
// thread_now() is the calling thread's id, found anew likewise (pthread_self
// is declared const too).
[[gnu::noipa]] std::thread::id thread_now() { return std::this_thread::get_id(); }

// errno is as the call left it, also when the call was handed off and the
// coroutine goes on on another thread (whose errno is its own).
TEST(BlockingCall, ErrnoComesBackFromAHandedOffCall) {
  corun::Runtime rt(corun::Config{.procs = 1});
  std::atomic<bool> moved{false}, done{false};
  std::atomic<int> after{0};
  rt.go([&] {
    const auto before = thread_now();
    corun::blocking([] {
      std::this_thread::sleep_for(200ms);  // the monitor hands the worker off meanwhile
      errno = 4242;
    });
    after = errno_of_this_thread();
    moved = thread_now() != before;
    done = true;
  });
  // Keeps the worker busy until then, so that the call's thread cannot take
  // it back when the call returns: the coroutine goes on where the worker is.
  rt.go([&] {
    while (!done.load()) corun::preempt_point();
  });
  rt.wait();
  ASSERT_TRUE(moved.load()) << "the call was not handed off: the test proves nothing";
  EXPECT_EQ(after.load(), 4242);
}

TEST(BlockingCall, PropagatesTheException) {
  corun::Runtime rt(corun::Config{.procs = 1});
  std::atomic<int> caught{0};
  rt.go([&] {
    try {
      corun::blocking([]() -> int { throw std::runtime_error("short"); });
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "short");
      caught.fetch_add(1);
    }
    try {
      corun::blocking([] {
        std::this_thread::sleep_for(30ms);  // handed off meanwhile
        throw std::out_of_range("long");
      });
    } catch (const std::out_of_range& e) {
      EXPECT_STREQ(e.what(), "long");
      caught.fetch_add(1);
    }
  });
  rt.wait();
  EXPECT_EQ(caught.load(), 2);
}

TEST(BlockingCall, FromAPlainThreadIsAPlainCall) {
  const auto self = std::this_thread::get_id();
  EXPECT_EQ(corun::blocking([&] { return std::this_thread::get_id(); }), self);
  EXPECT_THROW(corun::blocking([] { throw std::logic_error("x"); }), std::logic_error);
  // Also with a runtime about, from outside it, and nested inside a call.
  corun::Runtime rt(corun::Config{.procs = 1});
  EXPECT_EQ(corun::blocking([] { return 3; }), 3);
  std::atomic<int> nested{0};
  rt.go([&] { nested = corun::blocking([] { return corun::blocking([] { return 5; }); }); });
  rt.wait();
  EXPECT_EQ(nested.load(), 5);
}

// A coroutine in a long call while a plain thread waits for the runtime: the
// worker, handed off, finds nothing to do and parks; that is no deadlock.
TEST(BlockingCall, IsNotADeadlock) {
  Watchdog dog("a blocking call beside Runtime::wait() hung");
  corun::Runtime rt(corun::Config{.procs = 1});
  BlockingPipe p;
  std::atomic<bool> reading{false};
  rt.go([&] {
    reading = true;
    corun::blocking([&] { p.read_byte(); });
  });
  std::thread writer([&] {
    while (!reading.load()) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(300ms);
    p.write_byte('x');
  });
  rt.wait();  // a deadlock report would end the process here
  writer.join();
}

// Destroying the runtime while a call is in flight waits for the call (it
// cannot be cancelled), then cancels the coroutine at its next wait.
TEST(BlockingCall, ShutdownWaitsForTheCallThenCancels) {
  Watchdog dog("destroying a runtime during a blocking call hung");
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = 2});
  BlockingPipe p;
  std::atomic<bool> reading{false};
  std::atomic<bool> returned{false};
  std::atomic<bool> slept{false};
  std::atomic<int> unwound{0};
  struct Unwound {
    std::atomic<int>& n;
    ~Unwound() { n.fetch_add(1); }
  };
  rt->go([&] {
    Unwound u{unwound};
    reading = true;
    EXPECT_EQ(corun::blocking([&] { return p.read_byte(); }), 'x');
    returned = true;
    corun::this_coroutine::sleep_for(1h);  // cancelled
    slept = true;
  });
  while (!reading.load()) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  std::thread writer([&] {
    std::this_thread::sleep_for(300ms);
    p.write_byte('x');
  });
  const auto start = Clock::now();
  rt.reset();
  const auto took = Clock::now() - start;
  writer.join();
  EXPECT_GE(took, 200ms) << "the runtime went before the call returned";
  EXPECT_LT(took, 20s);
  EXPECT_TRUE(returned.load());
  EXPECT_FALSE(slept.load());
  EXPECT_EQ(unwound.load(), 1);
}

// The tracer shows the hand-off: the coroutine's run ends with the stop
// reason syscall, it is made runnable when the call returns, and runs again.
TEST(BlockingCall, TraceShowsTheHandOff) {
  corun::Runtime rt(corun::Config{.procs = 1, .trace = true});
  std::atomic<std::uint64_t> id{0};
  rt.go([&] {
    id = corun::this_coroutine::id();
    corun::blocking([] { std::this_thread::sleep_for(50ms); });
  });
  rt.wait();
  const auto trace = rt.trace();
  bool stopped = false, unblocked = false, ran_again = false;
  for (const corun::TraceEvent& e : trace) {
    if (e.coroutine != id.load()) continue;
    if (e.kind == corun::TraceKind::kRunStop && e.reason == corun::StopReason::kSyscall) {
      EXPECT_STREQ(e.wait, "syscall");
      EXPECT_STREQ(corun::to_string(e.reason), "syscall");
      stopped = true;
    } else if (stopped && e.kind == corun::TraceKind::kUnblock) {
      unblocked = true;
    } else if (unblocked && e.kind == corun::TraceKind::kRunStart) {
      ran_again = true;
    }
  }
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(unblocked);
  EXPECT_TRUE(ran_again);
}

// Short calls keep their worker: many in a row, beside other coroutines.
TEST(BlockingCall, ManyShortCalls) {
  corun::Runtime rt(corun::Config{.procs = 2});
  std::atomic<long> sum{0};
  for (int c = 0; c < 4; ++c) {
    rt.go([&] {
      long local = 0;
      for (int i = 0; i < 20'000; ++i) {
        local += corun::blocking([] { return static_cast<long>(getpid() > 0); });
        if (i % 1000 == 0) corun::this_coroutine::yield();
      }
      sum += local;
    });
  }
  rt.wait();
  EXPECT_EQ(sum.load(), 80'000);
}

}  // namespace
