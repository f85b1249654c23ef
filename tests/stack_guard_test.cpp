// stack_guard_test.cpp: a stack overflow by one big frame in code built
// WITHOUT -fstack-clash-protection (this file is: see CMakeLists.txt), as a
// program's own code may be if it is compiled elsewhere. Nothing probes
// such a frame page by page: its first store may land anywhere below the
// stack. The guard below every stack is 64 KiB wide, so a frame reaching
// up to 64 KiB below the stack still hits it and is reported as a stack
// overflow; with a one-page guard it wrote into the neighbouring stack.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>

#include "corun/corun.hpp"
#include "corun/memory/stack_pool.hpp"
#include "corun/sched/scheduler.hpp"
#include "test_support.hpp"

namespace {

using ::testing::ContainsRegex;
using ::testing::ExitedWithCode;

// jump_below_stack() makes one frame that reaches `below` bytes under the
// bottom of the running coroutine's stack, and touches its far (lowest)
// end first, as code filling a big local array from its start does.
__attribute__((noinline)) int jump_below_stack(std::size_t below) {
  char here = 0;
  const char* base = corun::detail::this_worker()->current->stack.base;
  const std::size_t bytes = static_cast<std::size_t>(&here - base) + below;
  auto* buf = static_cast<volatile char*>(__builtin_alloca(bytes));
  buf[0] = 1;
  return buf[bytes - 1] + here;
}

class StackGuardDeathTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};
// Just past a one-page guard, half-way down, and near the end of the guard.
INSTANTIATE_TEST_SUITE_P(Below, StackGuardDeathTest,
                         ::testing::Values(8 * 1024, 32 * 1024, 60 * 1024), [](const auto& info) {
                           return std::to_string(info.param / 1024) + "KiB";
                         });

TEST(StackGuard, IsAtLeast64KiB) { EXPECT_GE(corun::detail::StackPool::guard_size(), 64u * 1024); }

// Stacks all around: the coroutine that overflows sits between parked
// ones, whose stacks a missed guard would let it write into.
TEST_P(StackGuardDeathTest, BigFrameWithoutProbesIsReported) {
  if (corun::test::kSanitized) GTEST_SKIP() << "ASan reports the overflow itself";
  const std::size_t below = GetParam();
  EXPECT_EXIT(corun::run({.procs = 1, .stack_size = 64 * 1024},
                         [below] {
                           corun::WaitGroup park, jumped;
                           park.add(1);
                           jumped.add(1);
                           for (int i = 0; i < 8; ++i) corun::go([&park] { park.wait(); });
                           corun::go([below, &jumped] {
                             jump_below_stack(below);
                             jumped.done();  // not reached unless the jump went unnoticed
                           });
                           for (int i = 0; i < 8; ++i) corun::go([&park] { park.wait(); });
                           jumped.wait();
                           park.done();
                         }),
              ExitedWithCode(2), ContainsRegex("stack overflow in coroutine [1-9][0-9]*"));
}

}  // namespace
