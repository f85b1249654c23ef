// diag_schedtrace_test.cpp: the SCHED lines (CORUN_DEBUG=schedtrace=MS)
// parsed against Go's format, field by field, with known queue contents:
// tools written for Go's lines (goschedviz) read them unchanged.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
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
// (std::regex is not used: GCC 12 warns inside it at -O1, the asan preset.)
struct SchedLine {
  long ms = -1;
  int gomaxprocs = -1, idleprocs = -1, threads = -1, spinning = -1, idlethreads = -1;
  long runqueue = -1;
  std::string local;  // what is between [ and ]
};

bool parse_sched_line(const std::string& line, SchedLine& out) {
  int consumed = 0;
  if (std::sscanf(line.c_str(),
                  "SCHED %ldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
                  "idlethreads=%d runqueue=%ld [%n",
                  &out.ms, &out.gomaxprocs, &out.idleprocs, &out.threads, &out.spinning,
                  &out.idlethreads, &out.runqueue, &consumed) != 7 ||
      consumed == 0 || line.back() != ']') {
    return false;
  }
  out.local = line.substr(static_cast<std::size_t>(consumed),
                          line.size() - 1 - static_cast<std::size_t>(consumed));
  return out.local.find_first_not_of("0123456789 ") == std::string::npos;
}

TEST(DiagSchedtrace, TheLineHasGosFieldsInGosOrder) {
  corun::Config config;
  config.procs = 3;
  corun::detail::Scheduler sched(config);
  const std::string lines = corun::detail::schedtrace_lines(sched, 1004, /*detail=*/false);
  ASSERT_EQ(lines.back(), '\n');
  const std::string line = lines.substr(0, lines.size() - 1);
  ASSERT_EQ(line.find('\n'), std::string::npos) << lines;
  SchedLine m;
  ASSERT_TRUE(parse_sched_line(line, m)) << line;
  EXPECT_EQ(m.ms, 1004);
  EXPECT_EQ(m.gomaxprocs, 3);
  EXPECT_LE(m.idleprocs, 3);
  // Three workers, the monitor (a time slice is set) and the trace thread.
  EXPECT_EQ(m.threads, 5);
  EXPECT_EQ(m.runqueue, 0);
  EXPECT_EQ(m.local, "0 0 0");  // one local queue per worker, all empty
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
  for (const char* worker : {"\n  P0: status=", "\n  P1: status="}) {
    const auto at = lines.find(worker);
    ASSERT_NE(at, std::string::npos) << lines;
    const std::string line = lines.substr(at + 3, lines.find('\n', at + 1) - at - 3);
    int p = -1, status = -1, m = -1;
    unsigned long tick = 0, runq = 0, timers = 0;
    ASSERT_EQ(
        std::sscanf(line.c_str(), "P%d: status=%d schedtick=%lu m=%d runqsize=%lu timerslen=%lu",
                    &p, &status, &tick, &m, &runq, &timers),
        6)
        << line;
    EXPECT_EQ(p, m);  // each worker has its own thread
    EXPECT_TRUE(status == 0 || status == 1) << line;
  }
  EXPECT_THAT(lines, HasSubstr("\n  G" + std::to_string(id) + ": status=4(chan receive)\n"));
  ch.close();
}

}  // namespace
