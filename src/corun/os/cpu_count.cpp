// cpu_count.cpp: available_cpus(), the default number of workers: the CPUs
// in this process's affinity mask, capped by its cgroup v2 CPU quota
// (cpu.max, rounded up), as Go 1.25 computes GOMAXPROCS.
#include <sched.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "corun/config.hpp"

namespace corun {

namespace {

int cgroup_cpu_limit() {
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota;
  long long period = 0;
  if (!(f >> quota >> period) || quota == "max" || period <= 0) return 0;
  long long q = std::stoll(quota);
  if (q <= 0) return 0;
  return static_cast<int>((q + period - 1) / period);
}

}  // namespace

int available_cpus() noexcept {
  int n = 1;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = std::max(1, CPU_COUNT(&set));
  try {
    int limit = cgroup_cpu_limit();
    if (limit > 0) n = std::min(n, limit);
  } catch (...) {
    // An unreadable cgroup file: the affinity mask stands.
  }
  return std::clamp(n, 1, Config::kMaxProcs);
}

}  // namespace corun
