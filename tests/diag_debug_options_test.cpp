// diag_debug_options_test.cpp: CORUN_DEBUG, read when a Runtime starts:
// what it accepts, and the one-line error for what it does not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "corun/corun.hpp"
#include "corun/diag/debug_options.hpp"

namespace {

using corun::detail::parse_debug_options;
using ::testing::HasSubstr;

TEST(DiagDebugOptions, ReadsEachSetting) {
  EXPECT_FALSE(parse_debug_options(nullptr).any());
  EXPECT_FALSE(parse_debug_options("").any());
  const auto o = parse_debug_options("schedtrace=250,scheddetail=1,sigquit=1");
  EXPECT_EQ(o.schedtrace_ms, 250);
  EXPECT_TRUE(o.scheddetail);
  EXPECT_TRUE(o.sigquit);
  EXPECT_EQ(parse_debug_options("schedtrace=0").schedtrace_ms, 0);
  EXPECT_FALSE(parse_debug_options("scheddetail=1").any());  // detail of nothing
}

TEST(DiagDebugOptions, RejectsBadValuesWithOneLineSayingWhatWasExpected) {
  for (const char* bad :
       {"schedtrace=", "schedtrace=-1", "schedtrace=1s", "schedtrace=abc", "schedtrace=99999999999",
        "scheddetail=2", "sigquit=yes", "schedtrace", "gctrace=1"}) {
    try {
      (void)parse_debug_options(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_THAT(what, HasSubstr("CORUN_DEBUG: '")) << bad;
      EXPECT_THAT(what, HasSubstr("expected")) << bad;
      EXPECT_EQ(what.find('\n'), std::string::npos) << bad;
    }
  }
}

TEST(DiagDebugOptions, ARuntimeRefusesToStartWithABadValue) {
  ::setenv("CORUN_DEBUG", "schedtrace=often", 1);
  EXPECT_THROW(corun::Runtime rt(corun::Config{.procs = 1}), std::invalid_argument);
  ::unsetenv("CORUN_DEBUG");
}

TEST(DiagDebugOptions, CheckedBeforeARuntimeStarts) {
  ::setenv("CORUN_DEBUG", "schedtrace=often", 1);
  EXPECT_THROW(corun::check_debug_environment(), std::invalid_argument);
  ::setenv("CORUN_DEBUG", "schedtrace=100,scheddetail=1", 1);
  EXPECT_NO_THROW(corun::check_debug_environment());
  ::unsetenv("CORUN_DEBUG");
  EXPECT_NO_THROW(corun::check_debug_environment());
}

}  // namespace
