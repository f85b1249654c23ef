// runtime_stack_pool_test.cpp: StackPool, where coroutine stacks come from:
// a stack handed out has its top page committed and nothing else, and the
// stacks of every slab, the first and the bigger later ones, have a guard
// page below them.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "corun/config.hpp"
#include "corun/memory/linux_advice.hpp"
#include "corun/memory/stack_pool.hpp"
#include "test_support.hpp"

namespace {

using corun::detail::Stack;
using corun::detail::StackPool;

constexpr std::size_t kStackSize = 64 * 1024;

// kernel_takes() says whether this kernel takes `advice` for a scratch
// page (an older one, or tests/old_kernel, says EINVAL).
bool kernel_takes(int advice) {
  const std::size_t page = StackPool::page_size();
  void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool ok = madvise(p, page, advice) == 0;
  munmap(p, page);
  return ok;
}

bool resident(const void* addr) {
  const std::size_t page = StackPool::page_size();
  auto* start = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(addr) & ~(page - 1));
  unsigned char vec = 0;
  if (mincore(start, page, &vec) != 0) ADD_FAILURE() << "mincore failed";
  return (vec & 1) != 0;
}

TEST(RuntimeStackPool, HandedOutStacksHaveOnlyTheirTopPageCommitted) {
  if (!kernel_takes(corun::detail::linux_advice::kPopulateWrite))
    GTEST_SKIP() << "no MADV_POPULATE_WRITE (Linux < 5.14)";
  StackPool pool(kStackSize);
  std::vector<Stack> stacks;
  pool.allocate_batch(stacks, 16);
  ASSERT_EQ(stacks.size(), 16u);
  const std::size_t page = StackPool::page_size();
  for (const Stack& s : stacks) {
    EXPECT_EQ(s.size, kStackSize);
    EXPECT_TRUE(resident(s.top() - page)) << "top page of the stack at " << s.base;
    EXPECT_FALSE(resident(s.top() - 2 * page)) << "second page of the stack at " << s.base;
    EXPECT_FALSE(resident(s.base)) << "bottom page of the stack at " << s.base;
  }
}

TEST(RuntimeStackPool, StacksComeBackAsTheyWent) {
  StackPool pool(kStackSize);
  std::vector<Stack> stacks;
  pool.allocate_batch(stacks, 8);
  const Stack first = stacks.front();
  pool.release_batch(stacks, 0);
  EXPECT_TRUE(stacks.empty());
  pool.allocate_batch(stacks, 8);
  bool found = false;
  for (const Stack& s : stacks) found |= s.base == first.base;
  EXPECT_TRUE(found) << "a released stack is handed out again before a new one is made";
}

// Beyond what guard pages the kernel allows (MADV_GUARD_INSTALL: any
// number; mprotect: 16,384, for the mapping count), a stack has a canary at
// its bottom, which the scheduler checks when the coroutine switches out.
TEST(RuntimeStackPool, EveryStackIsGuardedOrHasACanary) {
  constexpr std::size_t kStacks = 17'000;
  StackPool pool(corun::Config::kMinStackSize);
  std::vector<Stack> stacks;
  pool.allocate_batch(stacks, kStacks);
  std::size_t guarded = 0;
  for (const Stack& s : stacks) {
    if (s.guarded) {
      ++guarded;
    } else {
      ASSERT_FALSE(s.overflowed()) << "canary of the stack at " << s.base;
    }
  }
  if (kernel_takes(corun::detail::linux_advice::kGuardInstall)) {
    EXPECT_EQ(guarded, kStacks);
  } else {
    EXPECT_EQ(guarded, 16u * 1024) << "mprotect guards, up to the budget";
    Stack& last = stacks.back();
    ASSERT_FALSE(last.guarded);
    EXPECT_TRUE(last.in_guard(last.base)) << "a canary stack's bottom page counts as its guard";
    last.base[3] = 0;  // what an overflow does to the canary
    EXPECT_TRUE(last.overflowed());
  }
}

// 500 stacks span four slabs (64, 128, 256 and 512 stacks): the last one
// handed out comes from the fourth.
TEST(RuntimeStackPoolDeathTest, EverySlabsStacksAreGuarded) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  StackPool pool(kStackSize);
  std::vector<Stack> stacks;
  pool.allocate_batch(stacks, 500);
  for (const Stack& s : stacks) ASSERT_TRUE(s.guarded) << "stack at " << s.base;
  for (std::size_t i : {std::size_t{0}, std::size_t{63}, std::size_t{64}, std::size_t{499}}) {
    auto* guard = static_cast<volatile char*>(stacks[i].guard_begin());
    EXPECT_DEATH(guard[StackPool::page_size() - 1] = 1, "") << "guard of stack " << i;
    EXPECT_TRUE(stacks[i].in_guard(const_cast<char*>(guard)));
  }
}

}  // namespace
