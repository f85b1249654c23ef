// worker_cpu.cpp: see worker_cpu.hpp.
#include "demo/run/worker_cpu.hpp"

#include <dirent.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace demo {

namespace {

// thread_cpu_clock() is the CPU clock of thread `tid` of this process: the
// clockid_t pthread_getcpuclockid() makes (the kernel's per-thread
// scheduler clock, CPUCLOCK_SCHED with CPUCLOCK_PERTHREAD_MASK).
clockid_t thread_cpu_clock(long tid) {
  return static_cast<clockid_t>((~static_cast<unsigned long>(tid) << 3) | 6);
}

// worker_of() is N for a thread named "corun-wN", else -1.
int worker_of(const std::string& comm) {
  static constexpr std::string_view kPrefix = "corun-w";
  if (comm.rfind(kPrefix, 0) != 0 || comm.size() == kPrefix.size()) return -1;
  const std::string digits = comm.substr(kPrefix.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::atoi(digits.c_str());
}

}  // namespace

WorkerCpuSampler::WorkerCpuSampler(int procs, std::chrono::steady_clock::time_point epoch)
    : epoch_(epoch) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const std::string path = std::string("/proc/self/task/") + e->d_name + "/comm";
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) continue;
    char comm[32] = {};
    const bool read = std::fgets(comm, sizeof comm, f) != nullptr;
    std::fclose(f);
    if (!read) continue;
    comm[std::strcspn(comm, "\n")] = '\0';
    const int worker = worker_of(comm);
    if (worker < 0 || worker >= procs) continue;
    const clockid_t clock = thread_cpu_clock(std::atol(e->d_name));
    timespec ts{};
    if (clock_gettime(clock, &ts) == 0) threads_.push_back({worker, clock});
  }
  closedir(dir);
}

void WorkerCpuSampler::sample() {
  for (const Thread& t : threads_) {
    timespec ts{};
    if (clock_gettime(t.clock, &ts) != 0) continue;  // the thread is gone
    const auto now = std::chrono::steady_clock::now() - epoch_;
    samples_.push_back(
        {.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(),
         .worker = t.worker,
         .cpu_ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec});
  }
}

}  // namespace demo
