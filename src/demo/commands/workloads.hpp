// workloads.hpp: the eight reference workloads of `demo bench`, run on corun
// exactly as the peers (Go, Boost.Fiber) run them, so that one script can put
// them side by side. Each returns what the JSON line reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace demo {

struct WorkloadResult {
  std::string workload;
  int procs = 1;
  std::int64_t n = 0;
  double wall_ms = 0;  // the workload alone: runtime start-up excluded
  double ns_per_op = 0;
  std::optional<std::uint64_t> checksum;
  std::optional<double> rss_kib_per_task;  // park only
  std::optional<int> tasks;                // echo: connections
  std::optional<double> setup_ms;          // echo: the connections' set-up
};

struct WorkloadSpec {
  std::string_view name;
  std::int64_t default_n;
  std::string_view op;  // what ns_per_op divides by
};

// kWorkloads lists the workloads in their canonical order.
const std::vector<WorkloadSpec>& workloads();

// find_workload() is the spec named `name`, or null.
const WorkloadSpec* find_workload(std::string_view name);

// run_workload() runs `name` with `n` operations (0: its default) on `procs`
// workers; `tasks` is the cpu workload's task count (0: procs), the echo
// workload's connections (0: 100).
WorkloadResult run_workload(std::string_view name, int procs, std::int64_t n, int tasks);

}  // namespace demo
