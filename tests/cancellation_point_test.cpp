// cancellation_point_test.cpp: every corun call that waits or polls is a
// cancellation point. A coroutine looping on calls that never block
// (sleep_for(0), an uncontended Mutex, a select with a default, try_send,
// ...) gets corun::Cancelled from the next one once its runtime shuts down,
// so destroying the runtime returns instead of waiting for it forever.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/preempt.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::Watchdog;

// A call that never blocks, made in a loop; what it works on is made fresh
// for each runtime.
struct Spinner {
  const char* name;
  std::function<std::function<void()>()> make;
};

std::vector<Spinner> spinners() {
  return {
      {"sleep_for(0)", [] { return [] { corun::this_coroutine::sleep_for(0ns); }; }},
      {"sleep_for(negative)", [] { return [] { corun::this_coroutine::sleep_for(-1ms); }; }},
      {"sleep_until(past)",
       [] { return [] { corun::this_coroutine::sleep_until(Clock::time_point::min()); }; }},
      {"yield", [] { return [] { corun::this_coroutine::yield(); }; }},
      {"preempt_point", [] { return [] { corun::preempt_point(); }; }},
      {"Mutex lock/unlock",
       [] {
         auto m = std::make_shared<corun::Mutex>();
         return [m] {
           m->lock();
           m->unlock();
         };
       }},
      {"select with a default",
       [] {
         corun::Channel<int> ch(0);
         return [ch] { corun::select(corun::recv(ch), corun::otherwise()); };
       }},
      {"select with a zero timeout",
       [] {
         corun::Channel<int> ch(0);
         return [ch] { corun::select(corun::recv(ch), corun::timeout(0ns)); };
       }},
      {"select ready at once",
       [] {
         corun::Channel<int> ch(1);
         return [ch]() mutable {
           corun::select(corun::send(ch, 1));
           corun::select(corun::recv(ch));
         };
       }},
      {"try_send on a full channel",
       [] {
         corun::Channel<int> ch(0);
         return [ch]() mutable { ch.try_send(1); };
       }},
      {"try_recv on an empty channel",
       [] {
         corun::Channel<int> ch(0);
         return [ch]() mutable { ch.try_recv(); };
       }},
      {"send and recv on a buffered channel",
       [] {
         corun::Channel<int> ch(1);
         return [ch]() mutable {
           ch.send(1);
           ch.recv();
         };
       }},
      {"recv on a closed channel",
       [] {
         corun::Channel<int> ch(0);
         ch.close();
         return [ch]() mutable { ch.recv(); };
       }},
      {"WaitGroup::wait at zero",
       [] {
         auto wg = std::make_shared<corun::WaitGroup>();
         return [wg] { wg->wait(); };
       }},
  };
}

struct CancelCase {
  int procs;
  std::chrono::nanoseconds time_slice;
};

class CancellationPoint : public ::testing::TestWithParam<CancelCase> {};

// Preemption off, so that no time slice ends the loop for it.
INSTANTIATE_TEST_SUITE_P(Runtimes, CancellationPoint,
                         ::testing::Values(CancelCase{1, 0ns}, CancelCase{2, 0ns},
                                           CancelCase{2, 10ms}),
                         [](const ::testing::TestParamInfo<CancelCase>& info) {
                           return "procs" + std::to_string(info.param.procs) +
                                  (info.param.time_slice == 0ns ? "_no_slice" : "_slice");
                         });

TEST_P(CancellationPoint, ShutdownCancelsALoopOfNonBlockingCalls) {
  for (const Spinner& s : spinners()) {
    SCOPED_TRACE(s.name);
    Watchdog dog(std::string("shutdown waited forever for a loop of ") + s.name);
    std::atomic<bool> cancelled{false};
    std::atomic<long> calls{0};
    std::optional<corun::Runtime> rt(
        std::in_place,
        corun::Config{.procs = GetParam().procs, .time_slice = GetParam().time_slice});
    rt->go([&, call = s.make()] {
      try {
        for (;;) {
          call();
          calls.fetch_add(1, std::memory_order_relaxed);
        }
      } catch (const corun::Cancelled&) {
        cancelled.store(true);
        throw;
      }
    });
    while (calls.load() < 100) std::this_thread::yield();
    const auto start = Clock::now();
    rt.reset();
    EXPECT_LT(Clock::now() - start, 10s);
    EXPECT_TRUE(cancelled.load()) << "the loop did not see corun::Cancelled";
  }
}

// Calls that release rather than wait are not cancellation points:
// destructors make them while Cancelled unwinds a stack.
TEST(CancellationPointRelease, ReleasingCallsWorkWhileUnwinding) {
  Watchdog dog("a coroutine unwinding at shutdown hung");
  std::atomic<bool> released{false};
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = 1});
  corun::WaitGroup started;
  started.add(1);
  corun::Channel<int> out(1);
  rt->go([&] {
    corun::Mutex m;
    corun::WaitGroup wg;
    wg.add(1);
    struct Cleanup {
      corun::Mutex& m;
      corun::WaitGroup& wg;
      corun::Channel<int> out;
      std::atomic<bool>& released;
      ~Cleanup() {
        m.unlock();
        wg.done();
        const bool sent = out.try_send(1) == corun::ChanStatus::kOk;
        out.close();
        released.store(sent);
      }
    };
    m.lock();
    Cleanup cleanup{m, wg, out, released};
    started.done();
    corun::this_coroutine::sleep_for(1h);
  });
  started.wait();
  rt.reset();
  EXPECT_TRUE(released.load());
}

}  // namespace
