// conformance_support.hpp: what the channel, select and conformance tests
// share.
//
//   ConformanceTest  a fixture parameterized over the worker count; each
//                    test runs at procs 1, 2, 4 and 8 (CORUN_AT_PROCS).
//   go_main()        Go's program model: runs the body as the main
//                    coroutine of a fresh runtime (corun::run).
//   kScaleDown       true under ASan/TSan: heavy tests use fewer iterations
//                    (SCALED(full, sanitized)).
//   Deadline         fails a hung test loudly instead of hanging the run.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "corun/corun.hpp"

namespace corun::conformance {

#if defined(CORUN_SANITIZE_ADDRESS) || defined(CORUN_SANITIZE_THREAD)
inline constexpr bool kScaleDown = true;
#else
inline constexpr bool kScaleDown = false;
#endif

// SCALED(full, sanitized): iteration counts for a plain and a sanitized build
// (sanitizers slow the runtime down 2x to 20x).
#define SCALED(full, sanitized) (::corun::conformance::kScaleDown ? (sanitized) : (full))

// Deadline aborts the process with the test's name if the test is still
// running after `limit`: a hang cannot be unwound, and a clear message
// beats a CI timeout.
class Deadline {
 public:
  explicit Deadline(std::chrono::seconds limit = std::chrono::seconds(120)) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    name_ = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "?";
    thread_ = std::thread([this, limit] {
      std::unique_lock<std::mutex> lk(mu_);
      if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
        std::fprintf(stderr, "\n%s: still running after %llds: hung\n", name_.c_str(),
                     static_cast<long long>(limit.count()));
        std::fflush(stderr);
        std::abort();
      }
    });
  }
  ~Deadline() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

class ConformanceTest : public ::testing::TestWithParam<int> {
 protected:
  int procs() const { return GetParam(); }

  // go_main() runs `body` as the main coroutine of a runtime with procs()
  // workers and returns when it returns (remaining coroutines are cancelled).
  template <class F>
  void go_main(F&& body) {
    Deadline deadline;
    corun::run(corun::Config{.procs = procs()}, std::forward<F>(body));
  }
};

struct ProcsName {
  std::string operator()(const ::testing::TestParamInfo<int>& info) const {
    return "procs" + std::to_string(info.param);
  }
};

}  // namespace corun::conformance

// CORUN_AT_PROCS(Suite) runs every TEST_P of Suite at procs 1, 2, 4 and 8.
#define CORUN_AT_PROCS(Suite)                                           \
  INSTANTIATE_TEST_SUITE_P(Procs, Suite, ::testing::Values(1, 2, 4, 8), \
                           ::corun::conformance::ProcsName{})
