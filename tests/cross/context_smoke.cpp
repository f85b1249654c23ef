// context_smoke.cpp: a self-checking program for the context switch on a
// target where the unit tests (GoogleTest) are not built, e.g. AArch64 under
// qemu-user (scripts/check-aarch64). Each check prints one line,
// "ok   <name>" or "FAIL <name>: <why>"; the exit status is 1 if any failed.
//
// The checks lean on what a context switch must get right: callee-saved
// general and floating-point registers (pinned around a bare switch, and
// values held live across yield()), the stack pointer and return address
// (deep recursion, exceptions unwinding through frames that switched), the
// per-coroutine C++ exception state, and switches driven by channels, locks,
// timers and the preemption signal.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "corun/arch/context.hpp"
#include "corun/corun.hpp"
#include "corun/preempt.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using corun::this_coroutine::yield;

// Failures collects the first reason a check failed, from any coroutine.
class Failures {
 public:
  void fail(std::string why) {
    std::lock_guard<std::mutex> hold(mutex_);
    if (first_.empty()) first_ = std::move(why);
  }
  std::string first() {
    std::lock_guard<std::mutex> hold(mutex_);
    return first_;
  }

 private:
  std::mutex mutex_;
  std::string first_;
};

corun::Config config_with_procs(int procs) {
  corun::Config config;
  config.procs = procs;
  return config;
}

// integer_walk() mixes ten 64-bit values, all live across each yield(), so
// the compiler keeps them in callee-saved registers (x19-x28). With
// `yield_each_round` false it is the reference result; noipa keeps the
// compiler from specializing it, so one copy of the code computes both.
[[gnu::noipa]] std::uint64_t integer_walk(std::uint64_t seed, int rounds, bool yield_each_round) {
  std::uint64_t a = seed, b = seed ^ 0x9E3779B97F4A7C15u, c = seed * 3, d = seed + 7, e = seed << 5,
                f = ~seed, g = seed * seed, h = seed ^ 0xABCDEF, i = seed + 99,
                j = seed * 0x100000001B3u;
  for (int r = 0; r < rounds; ++r) {
    if (yield_each_round) yield();
    a = a * 6364136223846793005u + b;
    b = (b ^ (c >> 7)) + d;
    c = c * 31 + e;
    d = (d << 3) ^ f;
    e = e + g * 17;
    f = (f ^ h) * 5;
    g = g + i;
    h = (h >> 1) ^ j;
    i = i * 13 + a;
    j = j ^ (b + c);
  }
  return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i ^ j;
}

// fp_walk() is integer_walk() for doubles: ten values live across yield(), so
// the compiler keeps eight of them in the callee-saved d8-d15. One copy of
// the code matters more here: results are compared bit for bit, and a
// specialized copy could fuse multiply-adds differently.
[[gnu::noipa]] double fp_walk(double seed, int rounds, bool yield_each_round) {
  double a = seed, b = seed * 1.5, c = seed + 0.25, d = seed * 0.75, e = seed - 3.0, f = seed * 2.5,
         g = seed + 11.0, h = seed * 0.125, i = seed - 0.5, j = seed * 1.25;
  for (int r = 0; r < rounds; ++r) {
    if (yield_each_round) yield();
    a = a * 0.999 + b * 0.001;
    b = b * 0.998 + c * 0.002;
    c = c * 0.997 + d * 0.003;
    d = d * 0.996 + e * 0.004;
    e = e * 0.995 + f * 0.005;
    f = f * 0.994 + g * 0.006;
    g = g * 0.993 + h * 0.007;
    h = h * 0.992 + i * 0.008;
    i = i * 0.991 + j * 0.009;
    j = j * 0.990 + a * 0.010;
  }
  return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j;
}

using corun::detail::Context;

// registers_survive_switch() fills callee-saved registers with values made
// from `seed`, switches from `from` to `to` directly (no scheduler frames in
// between, which would save and restore registers of their own and hide a
// register the switch forgets), and, once switched back, reports whether
// every register still holds its value. AArch64: x19-x28 and d8-d15 (x29,
// x30 and sp are checked by returning at all); x86-64: rbx and r12-r15.
[[gnu::noipa]] bool registers_survive_switch(Context& from, Context& to, std::uint64_t seed) {
#if defined(__aarch64__)
  register std::uint64_t x19 asm("x19") = seed + 19;
  register std::uint64_t x20 asm("x20") = seed + 20;
  register std::uint64_t x21 asm("x21") = seed + 21;
  register std::uint64_t x22 asm("x22") = seed + 22;
  register std::uint64_t x23 asm("x23") = seed + 23;
  register std::uint64_t x24 asm("x24") = seed + 24;
  register std::uint64_t x25 asm("x25") = seed + 25;
  register std::uint64_t x26 asm("x26") = seed + 26;
  register std::uint64_t x27 asm("x27") = seed + 27;
  register std::uint64_t x28 asm("x28") = seed + 28;
  const double fp_seed = static_cast<double>(seed);
  register double d8 asm("d8") = fp_seed + 8;
  register double d9 asm("d9") = fp_seed + 9;
  register double d10 asm("d10") = fp_seed + 10;
  register double d11 asm("d11") = fp_seed + 11;
  register double d12 asm("d12") = fp_seed + 12;
  register double d13 asm("d13") = fp_seed + 13;
  register double d14 asm("d14") = fp_seed + 14;
  register double d15 asm("d15") = fp_seed + 15;
  // Two statements each side: GCC allows 30 operands per asm, and "+" counts twice.
  asm volatile(""
               : "+r"(x19), "+r"(x20), "+r"(x21), "+r"(x22), "+r"(x23), "+r"(x24), "+r"(x25),
                 "+r"(x26), "+r"(x27), "+r"(x28));
  asm volatile(""
               : "+w"(d8), "+w"(d9), "+w"(d10), "+w"(d11), "+w"(d12), "+w"(d13), "+w"(d14),
                 "+w"(d15));
  corun::detail::context_switch(from, to);
  asm volatile(""
               : "+r"(x19), "+r"(x20), "+r"(x21), "+r"(x22), "+r"(x23), "+r"(x24), "+r"(x25),
                 "+r"(x26), "+r"(x27), "+r"(x28));
  asm volatile(""
               : "+w"(d8), "+w"(d9), "+w"(d10), "+w"(d11), "+w"(d12), "+w"(d13), "+w"(d14),
                 "+w"(d15));
  return x19 == seed + 19 && x20 == seed + 20 && x21 == seed + 21 && x22 == seed + 22 &&
         x23 == seed + 23 && x24 == seed + 24 && x25 == seed + 25 && x26 == seed + 26 &&
         x27 == seed + 27 && x28 == seed + 28 && d8 == fp_seed + 8 && d9 == fp_seed + 9 &&
         d10 == fp_seed + 10 && d11 == fp_seed + 11 && d12 == fp_seed + 12 && d13 == fp_seed + 13 &&
         d14 == fp_seed + 14 && d15 == fp_seed + 15;
#elif defined(__x86_64__)
  register std::uint64_t rbx asm("rbx") = seed + 3;
  register std::uint64_t r12 asm("r12") = seed + 12;
  register std::uint64_t r13 asm("r13") = seed + 13;
  register std::uint64_t r14 asm("r14") = seed + 14;
  register std::uint64_t r15 asm("r15") = seed + 15;
  asm volatile("" : "+r"(rbx), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15));
  corun::detail::context_switch(from, to);
  asm volatile("" : "+r"(rbx), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15));
  return rbx == seed + 3 && r12 == seed + 12 && r13 == seed + 13 && r14 == seed + 14 &&
         r15 == seed + 15;
#else
  static_cast<void>(seed);  // no registers pinned on this architecture
  corun::detail::context_switch(from, to);
  return true;
#endif
}

// BareSwitchPair: the main thread and one context made with context_make(),
// switching back and forth without a runtime.
struct BareSwitchPair {
  static constexpr int kRounds = 1'000;
  Context main;
  Context side;
  int side_failures = 0;
  bool side_started = false;
};

void bare_switch_side(void* arg) {
  auto& pair = *static_cast<BareSwitchPair*>(arg);
  pair.side_started = true;
  for (int r = 0; r < BareSwitchPair::kRounds; ++r) {
    if (!registers_survive_switch(pair.side, pair.main, 0x5100'0000u + r * 64u)) {
      ++pair.side_failures;
    }
  }
  corun::detail::context_switch(pair.side, pair.main);  // for good
  __builtin_trap();
}

std::string check_bare_switch_registers() {
  BareSwitchPair pair;
  std::vector<std::uint64_t> stack(64 * 1024 / sizeof(std::uint64_t));
  corun::detail::context_make(pair.side, stack.data(), stack.size() * sizeof stack[0],
                              &bare_switch_side, &pair);
  int main_failures = 0;
  for (int r = 0; r < BareSwitchPair::kRounds; ++r) {
    if (!registers_survive_switch(pair.main, pair.side, 0x3A00'0000u + r * 64u)) ++main_failures;
  }
  corun::detail::context_switch(pair.main, pair.side);  // let the side check its last round
  if (!pair.side_started) return "the new context never ran";
  if (main_failures + pair.side_failures != 0) {
    return std::to_string(main_failures) + " + " + std::to_string(pair.side_failures) + " of 2 x " +
           std::to_string(BareSwitchPair::kRounds) + " switches changed a callee-saved register";
  }
  return "";
}

#if defined(__aarch64__)
// fp_registers_survive_yield() puts known values into d8-d15 themselves, yields,
// and reports whether each register still holds its value.
[[gnu::noinline]] bool fp_registers_survive_yield(double seed) {
  register double d8 asm("d8") = seed + 8;
  register double d9 asm("d9") = seed + 9;
  register double d10 asm("d10") = seed + 10;
  register double d11 asm("d11") = seed + 11;
  register double d12 asm("d12") = seed + 12;
  register double d13 asm("d13") = seed + 13;
  register double d14 asm("d14") = seed + 14;
  register double d15 asm("d15") = seed + 15;
  asm volatile(""
               : "+w"(d8), "+w"(d9), "+w"(d10), "+w"(d11), "+w"(d12), "+w"(d13), "+w"(d14),
                 "+w"(d15));
  yield();
  asm volatile(""
               : "+w"(d8), "+w"(d9), "+w"(d10), "+w"(d11), "+w"(d12), "+w"(d13), "+w"(d14),
                 "+w"(d15));
  return d8 == seed + 8 && d9 == seed + 9 && d10 == seed + 10 && d11 == seed + 11 &&
         d12 == seed + 12 && d13 == seed + 13 && d14 == seed + 14 && d15 == seed + 15;
}
#endif

std::string check_yield(int procs) {
  constexpr int kCoroutines = 200;
  constexpr int kRounds = 100;
  std::vector<std::uint64_t> expected(kCoroutines);
  for (int n = 0; n < kCoroutines; ++n) expected[n] = integer_walk(n + 1, kRounds, false);

  Failures failures;
  std::atomic<int> finished{0};
  {
    corun::Runtime rt(config_with_procs(procs));
    for (int n = 0; n < kCoroutines; ++n) {
      rt.go([&, n] {
        if (integer_walk(n + 1, kRounds, true) != expected[n]) {
          failures.fail("coroutine " + std::to_string(n) + ": registers changed across yield()");
        }
        finished.fetch_add(1);
      });
    }
    rt.wait();
  }
  if (finished.load() != kCoroutines) {
    return std::to_string(finished.load()) + " of " + std::to_string(kCoroutines) + " finished";
  }
  return failures.first();
}

std::string check_channel_pingpong() {
  constexpr int kMessages = 100'000;
  corun::Channel<int> ping(0);
  corun::Channel<int> pong(0);
  Failures failures;
  int replies = 0;
  {
    corun::Runtime rt(config_with_procs(2));
    rt.go([&, ping, pong]() mutable {
      for (int n = 0; n < kMessages; ++n) {
        ping.send(n);
        std::optional<int> reply = pong.recv();
        if (!reply || *reply != n + 1) {
          failures.fail("message " + std::to_string(n) + ": wrong reply");
          break;
        }
        ++replies;
      }
      ping.close();
    });
    rt.go([ping, pong]() mutable {
      while (std::optional<int> n = ping.recv()) pong.send(*n + 1);
    });
    rt.wait();
  }
  if (replies != kMessages && failures.first().empty()) {
    return std::to_string(replies) + " of " + std::to_string(kMessages) + " replies";
  }
  return failures.first();
}

[[gnu::noinline]] void yield_then_throw(int depth, int id) {
  yield();
  if (depth == 0) throw std::runtime_error("thrown by " + std::to_string(id));
  yield_then_throw(depth - 1, id);
  yield();  // not reached
}

std::string check_exception_across_yield() {
  constexpr int kCoroutines = 16;
  Failures failures;
  std::atomic<int> caught{0};
  {
    corun::Runtime rt(config_with_procs(2));
    for (int id = 0; id < kCoroutines; ++id) {
      rt.go([&, id] {
        const std::string expected = "thrown by " + std::to_string(id);
        try {
          yield_then_throw(8, id);
          failures.fail("no exception");
        } catch (const std::runtime_error& e) {
          // Block inside the catch block: the other coroutines throw and
          // catch their own exceptions meanwhile, maybe on this thread.
          yield();
          if (e.what() != expected) failures.fail(std::string("caught '") + e.what() + "'");
          if (std::uncaught_exceptions() != 0) failures.fail("uncaught_exceptions() != 0");
          try {
            throw;  // the exception being handled must still be this one
          } catch (const std::runtime_error& again) {
            yield();
            if (again.what() != expected) {
              failures.fail(std::string("rethrew '") + again.what() + "'");
            }
          }
          caught.fetch_add(1);
        }
        if (std::current_exception()) failures.fail("current_exception() set after the catch");
      });
    }
    rt.wait();
  }
  if (caught.load() != kCoroutines && failures.first().empty()) {
    return std::to_string(caught.load()) + " of " + std::to_string(kCoroutines) + " caught";
  }
  return failures.first();
}

std::string check_fp_callee_saved() {
  constexpr int kCoroutines = 8;
  constexpr int kRounds = 200;
  std::vector<double> expected(kCoroutines);
  for (int n = 0; n < kCoroutines; ++n) expected[n] = fp_walk(n + 1.0, kRounds, false);

  Failures failures;
  {
    // One worker: the coroutines take turns on one thread, each overwriting
    // the registers the others left live.
    corun::Runtime rt(config_with_procs(1));
    for (int n = 0; n < kCoroutines; ++n) {
      rt.go([&, n] {
        const double got = fp_walk(n + 1.0, kRounds, true);
        if (std::memcmp(&got, &expected[n], sizeof got) != 0) {
          failures.fail("coroutine " + std::to_string(n) + ": got " + std::to_string(got) +
                        ", expected " + std::to_string(expected[n]));
        }
#if defined(__aarch64__)
        for (int r = 0; r < 50; ++r) {
          if (!fp_registers_survive_yield(100.0 * n + r)) {
            failures.fail("coroutine " + std::to_string(n) + ": d8-d15 changed across yield()");
          }
        }
#endif
      });
    }
    rt.wait();
  }
  return failures.first();
}

// recurse() keeps a 256-byte frame filled with its depth while everything
// below it runs and switches, and reports whether the frame survived.
[[gnu::noinline]] std::uint64_t recurse(std::uint32_t depth, bool& intact) {
  volatile std::uint8_t frame[256];
  for (auto& byte : frame) byte = static_cast<std::uint8_t>(depth);
  if (depth % 64 == 0) yield();
  const std::uint64_t below = depth == 0 ? 0 : recurse(depth - 1, intact);
  for (auto& byte : frame) {
    if (byte != static_cast<std::uint8_t>(depth)) intact = false;
  }
  return below + depth;
}

std::string check_deep_recursion() {
  constexpr std::uint32_t kDepth = 2'000;  // ~600 KiB of stack
  constexpr int kCoroutines = 4;
  Failures failures;
  corun::Config config = config_with_procs(2);
  config.stack_size = 1024 * 1024;
  {
    corun::Runtime rt(config);
    for (int n = 0; n < kCoroutines; ++n) {
      rt.go([&] {
        bool intact = true;
        const std::uint64_t sum = recurse(kDepth, intact);
        if (sum != std::uint64_t{kDepth} * (kDepth + 1) / 2) failures.fail("wrong sum");
        if (!intact) failures.fail("a frame changed while deeper frames switched");
      });
    }
    rt.wait();
  }
  return failures.first();
}

std::string check_waitgroup_mutex() {
  constexpr int kCoroutines = 32;
  constexpr int kIncrements = 2'000;
  corun::Mutex mutex;
  corun::WaitGroup workers_done;
  long counter = 0;  // guarded by mutex
  int holders = 0;   // guarded by mutex: more than one means the lock failed
  Failures failures;
  std::atomic<bool> waiter_saw_all{false};
  {
    corun::Runtime rt(config_with_procs(4));
    workers_done.add(kCoroutines);
    for (int n = 0; n < kCoroutines; ++n) {
      rt.go([&] {
        for (int k = 0; k < kIncrements; ++k) {
          std::lock_guard<corun::Mutex> hold(mutex);
          if (++holders != 1) failures.fail("two coroutines held the mutex");
          const long seen = counter;
          if (k % 16 == 0) yield();  // hold the lock across a switch
          counter = seen + 1;
          --holders;
        }
        workers_done.done();
      });
    }
    rt.go([&] {  // a coroutine waits too, as well as the main thread
      workers_done.wait();
      std::lock_guard<corun::Mutex> hold(mutex);
      waiter_saw_all.store(counter == long{kCoroutines} * kIncrements);
    });
    workers_done.wait();
    if (counter != long{kCoroutines} * kIncrements) {
      failures.fail("counter " + std::to_string(counter) + ", expected " +
                    std::to_string(long{kCoroutines} * kIncrements));
    }
    rt.wait();
  }
  if (!waiter_saw_all.load()) failures.fail("the waiting coroutine saw an incomplete count");
  return failures.first();
}

std::string check_sleep_for() {
  constexpr int kSleepers = 100;
  constexpr int kNaps = 3;
  constexpr auto kNap = std::chrono::milliseconds(20);
  Failures failures;
  const auto start = Clock::now();
  {
    corun::Runtime rt(config_with_procs(1));
    for (int n = 0; n < kSleepers; ++n) {
      rt.go([&] {
        for (int k = 0; k < kNaps; ++k) {
          const auto before = Clock::now();
          corun::this_coroutine::sleep_for(kNap);
          if (Clock::now() - before < kNap) failures.fail("woke before the nap was over");
        }
      });
    }
    rt.wait();
  }
  const auto elapsed = Clock::now() - start;
  // On one worker the sleeps overlap: ~60 ms in all, not 100 x 60 ms.
  if (elapsed < kNaps * kNap) failures.fail("finished too early");
  if (elapsed > std::chrono::seconds(3)) {
    failures.fail(
        "took " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
        " ms: the sleeps did not overlap");
  }
  return failures.first();
}

// check_preempt_signal: on one worker, a coroutine spinning in a preemptible
// region is switched out from the SIGURG handler so that another can run and
// end the spin; the spin's own registers must come back intact.
std::string check_preempt_signal() {
  std::atomic<bool> released{false};
  std::atomic<bool> preempted{false};
  std::atomic<bool> consistent{false};
  corun::Config config = config_with_procs(1);
  config.time_slice = std::chrono::milliseconds(10);
  {
    corun::Runtime rt(config);
    rt.go([&] {
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      std::uint64_t spins = 0;
      double total = 0;
      {
        corun::PreemptibleRegion region;
        while (!released.load(std::memory_order_relaxed)) {
          ++spins;
          total += 1.0;
          if ((spins & 0xFFFF) == 0 && Clock::now() > deadline) break;
        }
      }
      preempted.store(released.load());
      consistent.store(total == static_cast<double>(spins));
    });
    rt.go([&] { released.store(true); });
    rt.wait();
  }
  if (!preempted.load()) return "the spinning coroutine was never preempted (10 s)";
  if (!consistent.load()) return "the spin's registers changed across the preemption";
  return "";
}

struct Check {
  const char* name;
  std::function<std::string()> run;
};

}  // namespace

int main() {
  const std::vector<Check> checks = {
      {"bare_switch_registers", check_bare_switch_registers},
      {"yield_procs1", [] { return check_yield(1); }},
      {"yield_procs4", [] { return check_yield(4); }},
      {"channel_pingpong_100k", check_channel_pingpong},
      {"exception_across_yield", check_exception_across_yield},
      {"fp_callee_saved", check_fp_callee_saved},
      {"deep_recursion", check_deep_recursion},
      {"waitgroup_mutex_contention", check_waitgroup_mutex},
      {"sleep_for", check_sleep_for},
      {"preempt_signal", check_preempt_signal},
  };
  int failed = 0;
  for (const Check& check : checks) {
    std::string why;
    try {
      why = check.run();
    } catch (const std::exception& e) {
      why = std::string("exception: ") + e.what();
    }
    if (why.empty()) {
      std::printf("ok   %s\n", check.name);
    } else {
      std::printf("FAIL %s: %s\n", check.name, why.c_str());
      ++failed;
    }
    std::fflush(stdout);
  }
  return failed == 0 ? 0 : 1;
}
