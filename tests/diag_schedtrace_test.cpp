// diag_schedtrace_test.cpp: the SCHED lines (CORUN_DEBUG=schedtrace=MS)
// parsed against Go's format, field by field, with known queue contents:
// tools written for Go's lines (goschedviz) read them unchanged.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "corun/corun.hpp"
#include "corun/diag/schedtrace.hpp"
#include "corun/sched/scheduler.hpp"
#include "test_support.hpp"

namespace {

using ::testing::HasSubstr;

// Go's runtime/proc.go schedtrace(), detailed=false:
//   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=4 spinningthreads=0
//   needspinning=0 idlethreads=1 runqueue=0 [3 1]
// (needspinning, a Go 1.21 addition, has no counterpart here; tools that
// read Go's older lines read ours).
const std::regex kSchedLine(
    R"(^SCHED (\d+)ms: gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) spinningthreads=(\d+) )"
    R"(idlethreads=(\d+) runqueue=(\d+) \[([0-9 ]*)\]$)");

TEST(DiagSchedtrace, TheLineHasGosFieldsInGosOrder) {
  corun::Config config;
  config.procs = 3;
  corun::detail::Scheduler sched(config);
  const std::string lines = corun::detail::schedtrace_lines(sched, 1004, /*detail=*/false);
  ASSERT_EQ(lines.back(), '\n');
  const std::string line = lines.substr(0, lines.size() - 1);
  ASSERT_EQ(line.find('\n'), std::string::npos) << lines;
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, kSchedLine)) << line;
  EXPECT_EQ(m[1], "1004");
  EXPECT_EQ(m[2], "3");
  EXPECT_LE(std::stoi(m[3]), 3);
  // Three workers, the monitor (a time slice is set) and the trace thread.
  EXPECT_EQ(m[4], "5");
  EXPECT_EQ(m[7], "0");
  EXPECT_EQ(m[8], "0 0 0");  // one local queue per worker, all empty
}

TEST(DiagSchedtrace, DetailAddsAWorkerLineEachAndTheBlockedCoroutines) {
  corun::Runtime rt(corun::Config{.procs = 2});
  auto ch = corun::make_channel<int>();
  const auto id = rt.go([ch]() mutable { (void)ch.recv(); });
  // The coroutine's wait is known once a dump lists it.
  for (int i = 0; i < 4000 && rt.coroutine_dump().find("[chan receive") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto report = corun::make_channel<std::string>(1);
  rt.go([report]() mutable {
    report.send(corun::detail::schedtrace_lines(*corun::detail::current_scheduler(), 5, true));
  });
  const std::string lines = report.recv().value();
  EXPECT_TRUE(std::regex_search(
      lines, std::regex(R"(\n  P0: status=[01] schedtick=\d+ m=0 runqsize=\d+ timerslen=\d+\n)")))
      << lines;
  EXPECT_TRUE(std::regex_search(
      lines, std::regex(R"(\n  P1: status=[01] schedtick=\d+ m=1 runqsize=\d+ timerslen=\d+\n)")))
      << lines;
  EXPECT_THAT(lines, HasSubstr("\n  G" + std::to_string(id) + ": status=4(chan receive)\n"));
  ch.close();
}

}  // namespace
