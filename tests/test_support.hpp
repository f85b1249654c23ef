// test_support.hpp: what the test files share.
//
//   ProcsTest         a fixture parameterized over the worker count (1, 2, 4
//                     and 8): instantiate it per suite with CORUN_PROCS_TESTS.
//   kSanitized        true in ASan/TSan builds, to scale heavy tests down
//                     (kThreadSanitizer: TSan only).
//   Watchdog          ends a hung test with a clear message instead of
//                     letting it hang until the CI's timeout (with every
//                     thread's backtrace when CORUN_WATCHDOG_GDB is set).
//   cpu_time()        this process's user + system CPU time.
//   vm_size()         this process's virtual size in bytes.
//   voluntary_switches(name)
//                     how often this process's thread of that name slept.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace corun::test {

#if defined(CORUN_SANITIZE_ADDRESS) || defined(CORUN_SANITIZE_THREAD)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// kThreadSanitizer: TSan creates a thread or a fiber (each coroutine that
// is alive at once needs one) in ~10-35 ms here, so tests that need
// thousands alive at once are scaled down further under it.
#if defined(CORUN_SANITIZE_THREAD)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif

// scaled() is `full` in a plain build, `sanitized` under a sanitizer (which
// slows the runtime down 2x to 20x).
constexpr long scaled(long full, long sanitized) { return kSanitized ? sanitized : full; }

// ProcsTest runs each test at several worker counts (marl runs its scheduler
// tests at 1, 2, 4 and 8 threads and more; 8 also exceeds the cores of a
// small CI machine, which matters: workers are then time-sliced by the OS).
class ProcsTest : public ::testing::TestWithParam<int> {
 protected:
  int procs() const { return GetParam(); }
};

// ProcsName names an instantiation "procs4" rather than "3".
struct ProcsName {
  std::string operator()(const ::testing::TestParamInfo<int>& info) const {
    return "procs" + std::to_string(info.param);
  }
};

// CORUN_PROCS_TESTS(Suite) runs every TEST_P of `Suite` (a ProcsTest) at
// procs 1, 2, 4 and 8, with readable names: Suite.Name/procs4.
#define CORUN_PROCS_TESTS(Suite) \
  INSTANTIATE_TEST_SUITE_P(Procs, Suite, ::testing::Values(1, 2, 4, 8), ::corun::test::ProcsName{})

// Watchdog fails the test, loudly, if it is still alive after `limit`: it
// prints what did not finish and exits the process with status 1. A hang
// cannot be recovered from in-process (the hung thread cannot be
// unwound), and a clear message beats the CI's silent timeout.
class Watchdog {
 public:
  explicit Watchdog(std::string what, std::chrono::seconds limit = std::chrono::seconds(60))
      : what_(std::move(what)), thread_([this, limit] { watch(limit); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void watch(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lk(mu_);
    if (cv_.wait_for(lk, limit, [this] { return done_; })) return;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::fprintf(stderr, "\n[watchdog] FAILED: %s.%s did not finish within %lld s: %s\n",
                 info != nullptr ? info->test_suite_name() : "?",
                 info != nullptr ? info->name() : "?", static_cast<long long>(limit.count()),
                 what_.c_str());
    if (std::getenv("CORUN_WATCHDOG_GDB") != nullptr) {  // debugging a hang: show every stack
      const std::string gdb =
          "gdb -p " + std::to_string(getpid()) + " -batch -ex 'thread apply all bt 30' 1>&2";
      if (std::system(gdb.c_str()) != 0) std::fprintf(stderr, "[watchdog] gdb failed\n");
    }
    std::fflush(stderr);
    std::_Exit(1);
  }

  std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is constructed
};

// cpu_time() is the CPU time this process has used (all threads).
inline std::chrono::microseconds cpu_time() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) {
    return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

// vm_size() is this process's virtual size in bytes (/proc/self/statm).
inline std::size_t vm_size() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  return pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// voluntary_switches() is how many times this process's thread named
// `name` has gone to sleep (blocked in the kernel), or -1 when there is no
// such thread.
inline long voluntary_switches(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string thread_name;
    if (!std::getline(comm, thread_name) || thread_name != name) continue;
    std::ifstream status(task.path() / "status");
    for (std::string key; status >> key;) {
      long value = 0;
      if (key == "voluntary_ctxt_switches:" && status >> value) return value;
    }
  }
  return -1;
}

}  // namespace corun::test
