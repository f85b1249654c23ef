// thread_start_test.cpp: a Runtime whose threads the system refuses to
// create (`ulimit -u`, `ulimit -v`): its constructor throws
// std::system_error naming the thread, after stopping and joining the
// threads it did start, and the process carries on (no std::terminate).
//
// The refusals are real and deterministic: each test runs in a child
// process (a death test expecting a clean exit) that makes new threads'
// stacks huge (pthread_setattr_default_np, what std::thread uses). A stack
// larger than the address space is refused to every thread; stacks of
// 64 MiB under an address-space limit (RLIMIT_AS) with room for exactly
// two of them let two threads start and refuse the third.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using corun::test::vm_size;
using ::testing::AllOf;
using ::testing::ExitedWithCode;
using ::testing::HasSubstr;

constexpr std::size_t kMiB = std::size_t{1} << 20;

class ThreadStartDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// set_thread_stack_size() sets the stack size of threads created from now on.
void set_thread_stack_size(std::size_t bytes) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (pthread_attr_setstacksize(&attr, bytes) != 0 || pthread_setattr_default_np(&attr) != 0) {
    std::fprintf(stderr, "cannot set the default thread stack size\n");
    std::_Exit(3);
  }
  pthread_attr_destroy(&attr);
}

std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

// expect_refused() constructs a Runtime that the system will not give all
// its threads; prints what it threw, and whether every thread it started
// was joined, then shows that a runtime starts again once threads can be
// had (the failed one left nothing behind), and exits 0.
[[noreturn]] void expect_refused(corun::Config config, void (*limit)(), void (*unlimit)()) {
  const std::size_t threads_before = thread_count();
  limit();
  try {
    corun::Runtime rt(config);
    std::fprintf(stderr, "the runtime started\n");
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "threw: %s (EAGAIN: %d)\n", e.what(), e.code().value() == EAGAIN);
  }
  std::fprintf(stderr, "threads left: %zu\n", thread_count() - threads_before);
  unlimit();
  int ran = 0;
  corun::run(config, [&] { ran = 1; });
  std::fprintf(stderr, "ran afterwards: %d\n", ran);
  std::exit(0);
}

void huge_thread_stacks() { set_thread_stack_size(std::size_t{1} << 48); }
void default_thread_stacks() { set_thread_stack_size(8 * kMiB); }

// Not even the first worker starts: the constructor throws, and nothing is
// left running.
TEST_F(ThreadStartDeathTest, RefusedFirstWorkerThrowsSystemError) {
  if (corun::test::kThreadSanitizer) GTEST_SKIP() << "TSan sizes thread stacks itself";
  EXPECT_EXIT(expect_refused({.procs = 4}, huge_thread_stacks, default_thread_stacks),
              ExitedWithCode(0),
              AllOf(HasSubstr("threw: cannot start worker thread 1 of 4: Resource temporarily "
                              "unavailable (EAGAIN: 1)"),
                    HasSubstr("threads left: 0"), HasSubstr("ran afterwards: 1")));
}

// Address space for exactly two more 64 MiB thread stacks (and 32 MiB of
// slack for everything else the constructor allocates; all threads share
// the main malloc arena, which grows in small steps).
void room_for_two_threads() {
  mallopt(M_ARENA_MAX, 1);
  set_thread_stack_size(64 * kMiB);
  rlimit limit{};
  getrlimit(RLIMIT_AS, &limit);
  limit.rlim_cur = vm_size() + 2 * 64 * kMiB + 32 * kMiB;  // the soft limit: raised again below
  if (setrlimit(RLIMIT_AS, &limit) != 0) {
    std::perror("setrlimit");
    std::_Exit(3);
  }
}

void unlimited_address_space() {
  rlimit limit{};
  getrlimit(RLIMIT_AS, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_AS, &limit);
  default_thread_stacks();
}

// Two workers start, the third is refused: the two are stopped and joined.
TEST_F(ThreadStartDeathTest, RefusedThirdWorkerStopsTheFirstTwo) {
  if (corun::test::kSanitized) {
    GTEST_SKIP() << "ASan/TSan reserve terabytes of shadow memory: RLIMIT_AS cannot be lowered";
  }
  EXPECT_EXIT(expect_refused({.procs = 4}, room_for_two_threads, unlimited_address_space),
              ExitedWithCode(0),
              AllOf(HasSubstr("threw: cannot start worker thread 3 of 4: Resource temporarily "
                              "unavailable"),
                    HasSubstr("threads left: 0"), HasSubstr("ran afterwards: 1")));
}

// Both workers start, the monitor thread is refused: the workers are
// stopped and joined.
TEST_F(ThreadStartDeathTest, RefusedMonitorStopsTheWorkers) {
  if (corun::test::kSanitized) {
    GTEST_SKIP() << "ASan/TSan reserve terabytes of shadow memory: RLIMIT_AS cannot be lowered";
  }
  EXPECT_EXIT(expect_refused({.procs = 2}, room_for_two_threads, unlimited_address_space),
              ExitedWithCode(0),
              AllOf(HasSubstr("threw: cannot start the monitor thread: "),
                    HasSubstr("threads left: 0"), HasSubstr("ran afterwards: 1")));
}

}  // namespace
