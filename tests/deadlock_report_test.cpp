// deadlock_report_test.cpp: what the deadlock detector cannot see, and
// what it says about it. A plain thread that will wake a coroutine later is
// invisible to it: the report names the way out (Config::detect_deadlock =
// false), and with that set the program runs to its end. A corun::run()
// inside a coroutine, whose inner runtime the outer one's detector could
// not see, is refused with its own message instead of a false report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::test::Watchdog;
using ::testing::AllOf;
using ::testing::ExitedWithCode;
using ::testing::HasSubstr;

class DeadlockReportDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// wake_later() has a plain thread send on `ch` after `delay`, while this
// thread waits for the runtime: every coroutine is blocked meanwhile.
void wake_later(corun::Config config, std::chrono::milliseconds delay) {
  corun::Runtime rt(config);
  auto ch = corun::make_channel<int>();
  rt.go([ch]() mutable { (void)ch.recv(); });
  std::thread waker([ch, delay]() mutable {
    std::this_thread::sleep_for(delay);
    ch.send(1);
  });
  rt.wait();
  waker.join();
}

// The detector cannot know about the waker; its report says how to turn it
// off for such a program.
TEST_F(DeadlockReportDeathTest, ReportNamesTheWayOutForThreadsThatWakeLater) {
  EXPECT_EXIT(wake_later({.procs = 2}, 10s), ExitedWithCode(2),
              AllOf(HasSubstr("fatal error: all coroutines are asleep - deadlock!"),
                    HasSubstr("coroutine 1 [chan receive]"),
                    HasSubstr("set corun::Config::detect_deadlock = false")));
}

// ... and with it off, the same program finishes.
TEST(DeadlockReport, ThreadThatWakesLaterWorksWithDetectionOff) {
  Watchdog dog("a plain thread's late wake-up was lost");
  wake_later({.procs = 2, .detect_deadlock = false}, 50ms);
}

// corun::run() inside a coroutine: refused with a std::logic_error that
// says so, which the coroutine can catch; no false deadlock report. (A
// death test that expects a clean exit: a false report would exit 2.)
TEST_F(DeadlockReportDeathTest, NestedRunIsRefusedWithItsOwnMessage) {
  EXPECT_EXIT(
      {
        bool inner_ran = false;
        corun::run({.procs = 2}, [&] {
          try {
            corun::run({.procs = 1}, [&] {
              inner_ran = true;
              corun::this_coroutine::sleep_for(50ms);
            });
          } catch (const std::logic_error& e) {
            std::fprintf(stderr, "refused: %s\n", e.what());
          }
        });
        std::fprintf(stderr, "inner ran: %d\n", inner_ran ? 1 : 0);
        std::exit(0);
      },
      ExitedWithCode(0),
      AllOf(HasSubstr("refused: corun::run() called from inside a coroutine"),
            HasSubstr("corun::go()"), HasSubstr("inner ran: 0")));
}

// Left uncaught, the refusal is a panic that names it.
TEST_F(DeadlockReportDeathTest, NestedRunLeftUncaughtIsAPanicNamingIt) {
  EXPECT_EXIT(corun::run({.procs = 1}, [] { corun::run({.procs = 1}, [] {}); }), ExitedWithCode(2),
              AllOf(HasSubstr("uncaught exception std::logic_error"),
                    HasSubstr("corun::run() called from inside a coroutine")));
}

}  // namespace
