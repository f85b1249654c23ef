// runtime_bench.cpp: microbenchmarks of the runtime's pieces (Google
// Benchmark). Each iteration runs a batch of operations inside the runtime
// and reports the wall time of the batch; the `ns_per_op` counter divides it
// by the batch size. Build with the `bench` preset:
//   cmake --preset bench && cmake --build --preset bench && build/bench/corun_bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "corun/arch/context.hpp"
#include "corun/corun.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// PerOp accumulates batches and reports the mean cost of one operation as
// the `ns_per_op` counter when the benchmark ends.
class PerOp {
 public:
  explicit PerOp(benchmark::State& state) : state_(state) {}
  ~PerOp() {
    state_.counters["ns_per_op"] = ops_ > 0 ? secs_ * 1e9 / static_cast<double>(ops_) : 0;
  }
  void add(double secs, std::int64_t ops) {
    secs_ += secs;
    ops_ += ops;
    state_.SetIterationTime(secs);
  }

 private:
  benchmark::State& state_;
  double secs_ = 0;
  std::int64_t ops_ = 0;
};

// run_batch() times `body` (run as one coroutine on `rt`).
template <class F>
void run_batch(PerOp& per_op, corun::Runtime& rt, std::int64_t ops, F&& body) {
  corun::WaitGroup done;
  done.add(1);
  const auto start = Clock::now();
  rt.go([&] {
    body();
    done.done();
  });
  done.wait();
  per_op.add(std::chrono::duration<double>(Clock::now() - start).count(), ops);
}

// Raw context switch: two contexts bouncing, no scheduler involved.
corun::detail::Context g_main_ctx, g_co_ctx;
void bounce(void*) {
  for (;;) corun::detail::context_switch(g_co_ctx, g_main_ctx);
}

void BM_ContextSwitch(benchmark::State& state) {
  static char stack[64 * 1024];
  corun::detail::context_make(g_co_ctx, stack, sizeof stack, &bounce, nullptr);
  constexpr int kBatch = 1 << 16;
  PerOp per_op(state);
  for (auto _ : state) {
    const auto start = Clock::now();
    for (int i = 0; i < kBatch; ++i) corun::detail::context_switch(g_main_ctx, g_co_ctx);
    // Two switches per round trip.
    per_op.add(std::chrono::duration<double>(Clock::now() - start).count(), 2 * kBatch);
  }
}
BENCHMARK(BM_ContextSwitch)->UseManualTime();

void BM_Yield(benchmark::State& state) {
  corun::Runtime rt({.procs = static_cast<int>(state.range(0))});
  constexpr std::int64_t kYields = 1 << 16;
  PerOp per_op(state);
  for (auto _ : state) {
    run_batch(per_op, rt, 2 * kYields, [] {
      corun::WaitGroup wg;
      wg.add(1);
      corun::go([&] {
        for (std::int64_t i = 0; i < kYields; ++i) corun::this_coroutine::yield();
        wg.done();
      });
      for (std::int64_t i = 0; i < kYields; ++i) corun::this_coroutine::yield();
      wg.wait();
    });
  }
}
BENCHMARK(BM_Yield)->Arg(1)->Arg(2)->UseManualTime();

void BM_SpawnJoin(benchmark::State& state) {
  corun::Runtime rt({.procs = static_cast<int>(state.range(0))});
  constexpr std::int64_t kSpawns = 1 << 14;
  PerOp per_op(state);
  for (auto _ : state) {
    run_batch(per_op, rt, kSpawns, [] {
      corun::WaitGroup wg;
      wg.add(kSpawns);
      for (std::int64_t i = 0; i < kSpawns; ++i) corun::go([&] { wg.done(); });
      wg.wait();
    });
  }
}
BENCHMARK(BM_SpawnJoin)->Arg(1)->Arg(2)->UseManualTime();

void BM_WaitGroupAddDone(benchmark::State& state) {
  corun::Runtime rt({.procs = 1});
  constexpr std::int64_t kOps = 1 << 18;
  PerOp per_op(state);
  for (auto _ : state) {
    run_batch(per_op, rt, kOps, [] {
      corun::WaitGroup wg;
      for (std::int64_t i = 0; i < kOps; ++i) {
        wg.add(1);
        wg.done();
      }
      wg.wait();
    });
  }
}
BENCHMARK(BM_WaitGroupAddDone)->UseManualTime();

void BM_MutexContended(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  corun::Runtime rt({.procs = procs});
  constexpr std::int64_t kPerTask = 1 << 14;
  constexpr int kTasks = 4;
  PerOp per_op(state);
  for (auto _ : state) {
    run_batch(per_op, rt, kPerTask * kTasks, [] {
      corun::Mutex mu;
      std::int64_t counter = 0;
      corun::WaitGroup wg;
      wg.add(kTasks);
      for (int t = 0; t < kTasks; ++t) {
        corun::go([&] {
          for (std::int64_t i = 0; i < kPerTask; ++i) {
            std::lock_guard<corun::Mutex> lk(mu);
            ++counter;
          }
          wg.done();
        });
      }
      wg.wait();
      benchmark::DoNotOptimize(counter);
    });
  }
}
BENCHMARK(BM_MutexContended)->Arg(1)->Arg(2)->UseManualTime();

// ping_pong() sends kTrips values to an echo coroutine and receives each
// back: one round trip is two hand-offs over unbuffered channels.
constexpr std::int64_t kTrips = 1 << 16;
void ping_pong(corun::Channel<std::int64_t> ping, corun::Channel<std::int64_t> pong) {
  for (std::int64_t i = 0; i < kTrips; ++i) {
    ping.send(i);
    benchmark::DoNotOptimize(pong.recv());
  }
  ping.close();
}
void echo(corun::Channel<std::int64_t> ping, corun::Channel<std::int64_t> pong) {
  for (std::int64_t v : ping) pong.send(v);
}

// Same worker: the pair shares one worker (at procs 2 too: each hands the
// other its runnext slot).
void BM_ChanPingPong(benchmark::State& state) {
  corun::Runtime rt({.procs = static_cast<int>(state.range(0))});
  PerOp per_op(state);
  for (auto _ : state) {
    run_batch(per_op, rt, kTrips, [] {
      corun::Channel<std::int64_t> ping(0), pong(0);
      corun::go([=] { echo(ping, pong); });
      ping_pong(ping, pong);
    });
  }
}
BENCHMARK(BM_ChanPingPong)->Arg(1)->Arg(2)->UseManualTime();

// Cross worker: the echo runs in a second runtime, so every hand-off wakes
// a coroutine on another worker thread. (Each runtime sees only its own
// workers: while the pinger waits for the echo, its runtime looks
// deadlocked to itself, hence no deadlock detection.)
void BM_ChanPingPongCrossWorker(benchmark::State& state) {
  corun::Runtime rt({.procs = 1, .detect_deadlock = false});
  corun::Runtime echo_rt({.procs = 1, .detect_deadlock = false});
  PerOp per_op(state);
  for (auto _ : state) {
    corun::Channel<std::int64_t> ping(0), pong(0);
    echo_rt.go([=] { echo(ping, pong); });
    run_batch(per_op, rt, kTrips, [=] { ping_pong(ping, pong); });
    echo_rt.wait();
  }
}
BENCHMARK(BM_ChanPingPongCrossWorker)->UseManualTime();

// select over N channels, one of which is ready: N-1 empty buffered
// channels and one that always holds a value.
void BM_Select(benchmark::State& state) {
  const auto cases = static_cast<std::size_t>(state.range(0));
  corun::Runtime rt({.procs = 1});
  constexpr std::int64_t kSelects = 1 << 16;
  PerOp per_op(state);
  for (auto _ : state) {
    run_batch(per_op, rt, kSelects, [cases] {
      std::vector<corun::Channel<int>> chans;
      for (std::size_t c = 0; c < 4; ++c) chans.emplace_back(1);
      auto& ready = chans[cases - 1];
      std::int64_t taken = 0;
      for (std::int64_t i = 0; i < kSelects; ++i) {
        ready.send(1);
        if (cases == 2) {
          taken += static_cast<std::int64_t>(
              corun::select(corun::recv(chans[0]), corun::recv(chans[1])));
        } else {
          taken += static_cast<std::int64_t>(
              corun::select(corun::recv(chans[0]), corun::recv(chans[1]), corun::recv(chans[2]),
                            corun::recv(chans[3])));
        }
      }
      benchmark::DoNotOptimize(taken);
    });
  }
}
BENCHMARK(BM_Select)->Arg(2)->Arg(4)->UseManualTime();

// Steal: one coroutine fans work out; the other workers must steal it.
void BM_FanOutSteal(benchmark::State& state) {
  corun::Runtime rt({.procs = static_cast<int>(state.range(0))});
  constexpr std::int64_t kTasks = 1 << 12;
  PerOp per_op(state);
  for (auto _ : state) {
    run_batch(per_op, rt, kTasks, [] {
      corun::WaitGroup wg;
      std::atomic<std::uint64_t> sink{0};
      wg.add(kTasks);
      for (std::int64_t i = 0; i < kTasks; ++i) {
        corun::go([&, i] {
          std::uint64_t x = static_cast<std::uint64_t>(i) | 1, sum = 0;
          for (int k = 0; k < 2000; ++k) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            sum += x;
          }
          sink.fetch_add(sum, std::memory_order_relaxed);
          wg.done();
        });
      }
      wg.wait();
    });
  }
}
BENCHMARK(BM_FanOutSteal)->Arg(1)->Arg(2)->UseManualTime();

}  // namespace
