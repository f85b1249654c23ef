// worker_cpu.hpp: WorkerCpuSampler, samples of each worker thread's CPU
// time on the trace's clock while a traced run runs, for the pictures'
// "held a task, off CPU" marks (see demo/render/off_cpu.hpp).
//
// Sampling from outside costs the runtime nothing (no clock read per
// switch: a thread's CPU clock is a system call, as dear as a traced
// switch) and places the OS's turns in time at the sampling period, which
// a per-switch reading cannot do for a task that runs for a second without
// switching.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "demo/render/off_cpu.hpp"

namespace demo {

class WorkerCpuSampler {
 public:
  // WorkerCpuSampler() finds the worker threads of the runtime just started
  // (named corun-w0, corun-w1, ... by the runtime) among this process's
  // threads; `epoch` is the runtime's trace epoch. A worker whose thread is
  // not found is not sampled.
  WorkerCpuSampler(int procs, std::chrono::steady_clock::time_point epoch);

  // sample() reads every found worker thread's CPU clock once.
  void sample();

  std::vector<CpuSample> take() { return std::move(samples_); }

 private:
  struct Thread {
    int worker;
    int clock;  // clockid_t of the thread's CPU clock
  };
  std::chrono::steady_clock::time_point epoch_;
  std::vector<Thread> threads_;
  std::vector<CpuSample> samples_;
};

}  // namespace demo
