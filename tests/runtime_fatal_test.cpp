// runtime_fatal_test.cpp: the fatal errors, Go style: a deadlock, an
// exception escaping a coroutine, a stack overflow, a misused Mutex. Each
// prints one clear report to stderr and exits with status 2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using corun::test::ProcsTest;
using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::ExitedWithCode;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Death tests fork a process that runs worker threads: "threadsafe" re-runs
// the test binary in the child instead of continuing a forked copy of a
// multi-threaded parent.
class RuntimeFatalDeathTest : public ProcsTest {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};
CORUN_PROCS_TESTS(RuntimeFatalDeathTest);

TEST_P(RuntimeFatalDeathTest, DeadlockIsReported) {
  const int procs = this->procs();
  EXPECT_EXIT(corun::run({.procs = procs},
                         [] {
                           corun::WaitGroup never;
                           never.add(1);
                           never.wait();
                         }),
              ExitedWithCode(2),
              AllOf(HasSubstr("fatal error: all coroutines are asleep - deadlock!"),
                    HasSubstr("WaitGroup.wait")));
}

// Every blocked coroutine is listed with its wait reason.
TEST_P(RuntimeFatalDeathTest, DeadlockReportListsEachWaitReason) {
  const int procs = this->procs();
  EXPECT_EXIT(corun::run({.procs = procs},
                         [] {
                           corun::Mutex mu;
                           corun::WaitGroup never;
                           never.add(1);
                           mu.lock();
                           corun::go([&] { mu.lock(); });
                           never.wait();
                         }),
              ExitedWithCode(2),
              AllOf(HasSubstr("all coroutines are asleep - deadlock!"), HasSubstr("WaitGroup.wait"),
                    HasSubstr("Mutex.lock")));
}

// A plain thread in Runtime::wait() while the coroutines are stuck is a
// deadlock too.
TEST_P(RuntimeFatalDeathTest, DeadlockWhileThreadWaitsForRuntime) {
  const int procs = this->procs();
  EXPECT_EXIT(
      {
        corun::Runtime rt({.procs = procs});
        corun::WaitGroup never;
        never.add(1);
        rt.go([&] { never.wait(); });
        rt.wait();
      },
      ExitedWithCode(2),
      AllOf(HasSubstr("all coroutines are asleep - deadlock!"), HasSubstr("WaitGroup.wait")));
}

TEST_P(RuntimeFatalDeathTest, EscapingExceptionIsReported) {
  const int procs = this->procs();
  EXPECT_EXIT(corun::run({.procs = procs},
                         [] {
                           corun::go([] { throw std::runtime_error("boom"); });
                           corun::this_coroutine::sleep_for(std::chrono::hours(1));
                         }),
              ExitedWithCode(2),
              AllOf(ContainsRegex("panic: coroutine [1-9][0-9]*"), HasSubstr("boom")));
}

// The report names the exception's type as the program spells it, not as
// the compiler mangles it ("St13runtime_error").
TEST(RuntimeFatalMiscDeathTest, EscapingExceptionIsReportedWithItsTypeName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(corun::run({.procs = 2},
                         [] {
                           corun::go([] { throw std::runtime_error("boom"); });
                           corun::this_coroutine::sleep_for(std::chrono::hours(1));
                         }),
              ExitedWithCode(2),
              MatchesRegex("fatal error: panic: coroutine [1-9][0-9]*: uncaught exception "
                           "std::runtime_error: boom\n"));
}

namespace app {
struct ConfigError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
}  // namespace app

TEST(RuntimeFatalMiscDeathTest, EscapingExceptionOfTheProgramsOwnTypeIsNamed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(corun::run({.procs = 1}, [] { throw app::ConfigError("no such key"); }),
              ExitedWithCode(2),
              MatchesRegex("fatal error: panic: coroutine [1-9][0-9]*: uncaught exception "
                           "\\(anonymous namespace\\)::app::ConfigError: no such key\n"));
}

// An exception that is not a std::exception has no what(): its type alone.
TEST(RuntimeFatalMiscDeathTest, EscapingExceptionOfAnotherTypeIsNamed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(corun::run({.procs = 2}, [] { throw 42; }), ExitedWithCode(2),
              MatchesRegex("fatal error: panic: coroutine [1-9][0-9]*: uncaught exception int\n"));
}

// recurse() uses 256 bytes of stack per call and cannot be turned into a
// loop: the buffer is volatile, the call is not in tail position, and the
// function is not inlined. `limit` keeps the compiler from proving the
// recursion infinite.
__attribute__((noinline)) int recurse(int depth, int limit) {
  volatile char buf[256];
  buf[0] = static_cast<char>(depth);
  if (depth == limit) return buf[0];
  return recurse(depth + 1, limit) + buf[0];
}

TEST_P(RuntimeFatalDeathTest, StackOverflowIsReported) {
  const int procs = this->procs();
  EXPECT_EXIT(corun::run({.procs = procs, .stack_size = 64 * 1024},
                         [] {
                           volatile int limit = -1;  // never reached: infinite
                           recurse(0, limit);
                         }),
              ExitedWithCode(2),
              AllOf(ContainsRegex("stack overflow in coroutine [1-9][0-9]*"),
                    HasSubstr("Config::stack_size")));
}

TEST(RuntimeFatalMiscDeathTest, UnlockingAnUnlockedMutexIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        corun::Mutex mu;
        mu.unlock();
      },
      ExitedWithCode(2), HasSubstr("unlock of an unlocked corun::Mutex"));
}

}  // namespace
