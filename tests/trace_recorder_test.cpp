// trace_recorder_test.cpp: the trace keeps every event of a long run, in
// time order (the recorder's buffers grow by chunks of events).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>

#include "corun/corun.hpp"

namespace {

TEST(TraceRecorder, KeepsEveryEventOfALongRunInOrder) {
  constexpr int kTasks = 20000;  // ~3 events each: many chunks of 4096
  corun::Runtime rt({.procs = 1, .trace = true});
  for (int i = 0; i < kTasks; ++i) rt.go([] {});
  rt.wait();
  const std::vector<corun::TraceEvent> events = rt.trace();
  std::map<corun::TraceKind, int> count;
  std::int64_t last = 0;
  for (const corun::TraceEvent& e : events) {
    ++count[e.kind];
    EXPECT_GE(e.time_ns, last);
    last = e.time_ns;
  }
  EXPECT_EQ(count[corun::TraceKind::kSpawn], kTasks);
  EXPECT_EQ(count[corun::TraceKind::kRunStart], kTasks);
  EXPECT_EQ(count[corun::TraceKind::kRunStop], kTasks);
}

}  // namespace
