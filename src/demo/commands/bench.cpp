// bench.cpp: `demo bench`, the reference workloads of WORKLOADS.md on corun,
// printing the same one-line JSON as the peers (Go, Boost.Fiber), so that
// `shared/peers/compare.py --demo build/release/demo` compares them.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "demo/cli/options.hpp"
#include "demo/cli/stdout_status.hpp"
#include "demo/command.hpp"
#include "demo/commands/workloads.hpp"
#include "demo/render/output.hpp"

namespace demo {

namespace {

struct Options {
  std::string workload;
  ProcsOption procs;
  std::string n;
  std::string tasks;
  std::string format = "table";
  bool wide = false;
};

// json_line() is the peers' result line; checksum and rss_kib_per_task only
// where the workload has them (Go's omitempty).
std::string json_line(const WorkloadResult& r) {
  std::string line = fmt::format(
      R"({{"runtime":"corun {}","workload":"{}","procs":{},"n":{},"wall_ms":{:.3f},"ns_per_op":{:.3f})",
      CORUN_VERSION, r.workload, r.procs, r.n, r.wall_ms, r.ns_per_op);
  if (r.checksum) line += fmt::format(R"(,"checksum":{})", *r.checksum);
  if (r.rss_kib_per_task) line += fmt::format(R"(,"rss_kib_per_task":{:.3f})", *r.rss_kib_per_task);
  if (r.tasks) line += fmt::format(R"(,"tasks":{})", *r.tasks);
  if (r.setup_ms) line += fmt::format(R"(,"setup_ms":{:.3f})", *r.setup_ms);
  return line + "}";
}

// kTableOpColumns is the width from which the table shows what an op is
// (--wide always does); below, it fits 80 columns.
constexpr int kTableOpColumns = 120;

void print_table_row(const WorkloadResult& r, const WorkloadSpec& spec, bool op) {
  std::string extra;
  if (r.checksum) extra = fmt::format("checksum {}", *r.checksum);
  if (r.rss_kib_per_task)
    extra = fmt::format("{:.2f} KiB per parked coroutine", *r.rss_kib_per_task);
  if (r.tasks && r.setup_ms)
    extra = fmt::format("{} connection{}, set up in {:.1f} ms", *r.tasks, *r.tasks == 1 ? "" : "s",
                        *r.setup_ms);
  write_stream(stdout, fmt::format("{:<9} {:>5} {:>12} {:>10.1f} {:>9.2f}  {}{}\n", r.workload,
                                   r.procs, r.n, r.wall_ms, r.ns_per_op,
                                   op ? fmt::format("{:<34} ", spec.op) : "", extra));
}

// workload_names() is "yield, pingpong, ..., cpu or all".
std::string workload_names() {
  std::string names;
  for (const auto& w : workloads()) names += fmt::format("{}, ", w.name);
  names.resize(names.size() - 2);
  return names + " or all";
}

int run(const Options& o) {
  std::vector<const WorkloadSpec*> selected;
  if (o.workload == "all") {
    for (const auto& w : workloads()) selected.push_back(&w);
  } else if (const WorkloadSpec* w = find_workload(o.workload)) {
    selected.push_back(w);
  } else if (o.workload.empty()) {
    throw UsageError(
        fmt::format("bench: expected a workload: {} (see demo bench --help)", workload_names()));
  } else {
    throw UsageError(
        fmt::format("bench: expected a workload ({}), got \"{}\"", workload_names(), o.workload));
  }
  const int procs = resolve_procs(o.procs);
  const auto n =
      o.n.empty() ? 0 : static_cast<std::int64_t>(parse_count("--n", o.n, 1, 1'000'000'000'000));
  const int tasks =
      o.tasks.empty() ? 0 : static_cast<int>(parse_int("--tasks", o.tasks, 1, 100'000));
  const Format format = parse_format(o.format);
  if (format == Format::kCsv) throw UsageError("--format: expected table or json, got \"csv\"");

  const bool op = o.wide || terminal_columns(stdout) >= kTableOpColumns;
  if (format == Format::kTable) {
    write_stream(
        stdout, fmt::format("{:<9} {:>5} {:>12} {:>10} {:>9}  {}result\n", "workload", "procs", "n",
                            "wall ms", "ns/op", op ? fmt::format("{:<34} ", "op") : ""));
  }
  for (const WorkloadSpec* spec : selected) {
    const WorkloadResult r = run_workload(spec->name, procs, n, tasks);
    if (format == Format::kJson) {
      write_stream(stdout, json_line(r) + "\n");
    } else {
      print_table_row(r, *spec, op);
    }
  }
  return kExitOk;
}

}  // namespace

Command add_bench(CLI::App& parent, const GlobalOptions& /*global*/) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "bench", "The reference workloads (WORKLOADS.md): one JSON line each, as the Go peer's");
  cmd->add_option("workload", opts->workload,
                  "Required: yield, pingpong, spawn, skynet, sleepers, park, cpu, echo, or all")
      ->type_name("WORKLOAD");
  add_procs_option(*cmd, opts->procs, "Worker threads (default: GOMAXPROCS, else all CPUs)");
  cmd->add_option("-n,--n", opts->n, "Operations (default: the workload's, see WORKLOADS.md)")
      ->type_name("N");
  cmd->add_option("--tasks", opts->tasks,
                  "cpu: tasks sharing the iterations (default: procs); echo: client connections "
                  "(default: 100)")
      ->type_name("T");
  cmd->add_option("-f,--format", opts->format, "Output format: table or json")
      ->type_name("FORMAT")
      ->default_str("table");
  cmd->add_flag("--wide", opts->wide,
                "Table: show what an op is in each workload (default: only on a terminal of 120 "
                "columns or more)");
  cmd->footer(
      "Examples:\n"
      "  demo bench yield --procs 1 --format json\n"
      "  demo bench cpu --procs 2 --tasks 2\n"
      "  demo bench echo --procs 1 --tasks 1000\n"
      "  demo bench all --procs 2\n"
      "  ../shared/peers/compare.py --demo build/release/demo\n"
      "      # the same workloads beside Go and Boost.Fiber");
  return Command{cmd, [opts] { return run(*opts); }};
}

}  // namespace demo
