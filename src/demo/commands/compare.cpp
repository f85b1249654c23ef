// compare.cpp: `demo compare`, concurrency and parallelism measured side by
// side: its options, and the run that measures the rows
// (run/compare_measure.hpp) and reports them (render/compare_report.hpp).
//
// The sleep-bound workload gains nothing from more workers (waiting needs
// no CPU: one worker overlaps all the waits); the CPU-bound one speeds up
// with the CPUs; the io-bound one (a TCP server whose requests wait on a
// slow backend) is served by one worker about as fast as by one OS thread
// per connection. --threads is capped at --max-threads and at half the
// process's thread limit. --timeslice sets the runtimes'
// Config::time_slice (10 ms, or off).
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/render/compare_report.hpp"
#include "demo/render/output.hpp"
#include "demo/render/text.hpp"
#include "demo/run/compare_measure.hpp"
#include "demo/run/run_and_report.hpp"
#include "demo/run/session.hpp"

namespace demo {

namespace {

using compare::at_a_glance;
using compare::bar_chart;
using compare::conclusions;
using compare::measure;
using compare::Row;
using compare::Settings;
using compare::table;

constexpr auto kMaxSleep = std::chrono::seconds(10);
// The io-bound workload: each connection takes two descriptors (and, in
// the thread row, two threads); a backend wait of at most a second keeps a
// run short.
constexpr int kMaxConnections = 1'000;
constexpr int kMaxRequests = 10'000;
constexpr auto kMaxBackend = std::chrono::seconds(1);

struct Options {
  CommonOptions common;  // --procs is a list here
  std::string runs = "3";
  std::string sleepers = "10000";
  std::string sleep = "100ms";
  std::string work = "50M";
  std::string cpu_tasks;  // default: the largest procs
  bool threads = false;
  std::string max_threads = "10000";
  std::string time_slice = "10ms";
  std::string connections = "50";
  std::string requests = "4";
  std::string backend = "10ms";
};

// system_thread_cap() is half of what the process may start (RLIMIT_NPROC,
// kernel.threads-max), so that the demo never exhausts the user's limit.
std::int64_t system_thread_cap() {
  std::int64_t cap = std::numeric_limits<std::int64_t>::max();
  rlimit rl{};
  if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    cap = static_cast<std::int64_t>(rl.rlim_cur) / 2;
  }
  std::ifstream f("/proc/sys/kernel/threads-max");
  std::int64_t threads_max = 0;
  if (f >> threads_max && threads_max > 0) cap = std::min(cap, threads_max / 2);
  return cap;
}

Settings check(const Options& o) {
  Settings s;
  s.cpus = corun::available_cpus();
  s.procs = resolve_procs_list(o.common.procs);
  if (s.procs.front() != 1) {
    s.procs.insert(s.procs.begin(), 1);
    s.baseline_added = true;
  }
  s.runs = static_cast<int>(parse_int("--runs", o.runs, 1, 100));
  s.sleepers = static_cast<int>(parse_int("--sleepers", o.sleepers, 1, 1'000'000));
  s.sleep = parse_duration("--sleep", o.sleep, kMaxSleep);
  s.work = parse_count("--work", o.work, 1, std::uint64_t{1} << 40);
  s.cpu_tasks = o.cpu_tasks.empty()
                    ? s.procs.back()
                    : static_cast<int>(parse_int("--cpu-tasks", o.cpu_tasks, 1, 4096));
  s.threads = o.threads;
  const std::int64_t asked = parse_int("--max-threads", o.max_threads, 1, 100'000);
  s.max_threads = static_cast<int>(std::min(asked, std::max<std::int64_t>(1, system_thread_cap())));
  s.time_slice = parse_time_slice("--timeslice", o.time_slice);
  s.io.connections =
      static_cast<int>(parse_int("--connections", o.connections, 1, kMaxConnections));
  s.io.requests = static_cast<int>(parse_int("--requests", o.requests, 1, kMaxRequests));
  s.io.backend = parse_duration("--backend", o.backend, kMaxBackend);
  spdlog::debug(
      "compare: procs={} runs={} sleepers={} cpu_tasks={} work={} max_threads={} time_slice={} "
      "connections={} requests={} backend={}",
      fmt::join(s.procs, ","), s.runs, s.sleepers, s.cpu_tasks, s.work, s.max_threads,
      describe_time_slice(s.time_slice), s.io.connections, s.io.requests,
      format_duration(s.io.backend));
  return s;
}

std::string header(const Settings& s) {
  std::string procs;
  for (int p : s.procs) procs += (procs.empty() ? "" : ", ") + std::to_string(p);
  return fmt::format(
      "Comparing sleep-bound ({} x sleep {}), cpu-bound ({} x {} iterations) and io-bound ({} x "
      "{}, backend {}) work at procs {}; {} each (the table shows medians); {} available{}\n"
      "Time slice: {}\n",
      plural(s.sleepers, "task", "tasks"), format_duration(s.sleep),
      plural(s.cpu_tasks, "task", "tasks"), with_commas(s.work),
      plural(s.io.connections, "connection", "connections"),
      plural(s.io.requests, "request", "requests"), format_duration(s.io.backend), procs,
      plural(s.runs, "run", "runs"), plural(s.cpus, "CPU", "CPUs"),
      s.threads ? fmt::format("; threads capped at {}", with_commas(s.max_threads)) : "",
      describe_time_slice(s.time_slice));
}

Report run(const Settings& s, Session& session) {
  Console& console = session.console();
  console.extra(console.style().bold(header(s)));
  std::vector<Row> rows;
  const bool completed = measure(s, session, rows);
  const std::vector<std::string> lines =
      completed ? conclusions(s, rows) : std::vector<std::string>{};
  const std::string stopped =
      "Interrupted (Ctrl-C): the table shows the runs that finished; no conclusion is drawn "
      "from an unfinished comparison.\n";
  std::string text;
  if (!rows.empty()) {
    text = "\n" + at_a_glance(s, rows, completed, console.style(), console.table_width());
  }
  text += table(s, rows, console.style(), console.table_width());
  for (const std::string& line : lines) text += line + "\n";
  if (!completed) text += stopped;
  if (!rows.empty()) text += "\n" + bar_chart(rows, console.style(), console.table_width());
  return {text,
          machine_document(
              session.format(), [&] { return compare::to_json(s, rows, lines, completed); },
              [&] { return compare::to_csv(s, rows, lines, completed); }),
          completed};
}

}  // namespace

Command add_compare(CLI::App& parent, const GlobalOptions& global) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "compare",
      "Sleep-bound, CPU-bound and I/O-bound work at several procs values, measured and explained");
  add_common_options(*cmd, opts->common,
                     "Comma-separated procs values, e.g. 1,2,4 (default: 1 and GOMAXPROCS, else "
                     "all CPUs; 1 is always added)");
  cmd->add_option("-r,--runs", opts->runs, "Runs of each row; the table shows the median, 1..100")
      ->type_name("N")
      ->default_str("3");
  cmd->add_option("--sleepers", opts->sleepers, "Tasks of the sleep-bound workload, 1..1000000")
      ->type_name("N")
      ->default_str("10000");
  cmd->add_option("--sleep", opts->sleep, "How long each sleeper sleeps (at most 10s)")
      ->type_name("DURATION")
      ->default_str("100ms");
  cmd->add_option("--cpu-tasks", opts->cpu_tasks,
                  "Tasks of the CPU-bound workload, 1..4096 (default: the largest procs)")
      ->type_name("N");
  cmd->add_option("-w,--work", opts->work,
                  "Iterations of the xorshift loop per CPU-bound task (suffixes k, M, G)")
      ->type_name("N")
      ->default_str("50M");
  cmd->add_flag("--threads", opts->threads,
                "Add rows with one OS thread per task (std::thread): start-up time and memory");
  cmd->add_option("--max-threads", opts->max_threads,
                  "Cap on the OS threads of --threads, 1..100000 (also at most half the process's "
                  "thread limit)")
      ->type_name("N")
      ->default_str("10000");
  cmd->add_option("--connections", opts->connections,
                  "Clients of the io-bound workload, one TCP connection each, 1..1000")
      ->type_name("N")
      ->default_str("50");
  cmd->add_option("--requests", opts->requests,
                  "Requests each io-bound client makes, one after another, 1..10000")
      ->type_name("N")
      ->default_str("4");
  cmd->add_option("--backend", opts->backend,
                  "How long the io-bound server waits on its backend per request (at most 1s)")
      ->type_name("DURATION")
      ->default_str("10ms");
  add_time_slice_option(*cmd, opts->time_slice);
  cmd->footer(
      "Examples:\n"
      "  demo compare                               # procs 1 and all CPUs, 3 runs each\n"
      "  demo compare --procs 1,2,4 --runs 5\n"
      "  demo compare --threads                     # + 10,000 OS threads vs 10,000 coroutines\n"
      "  demo compare --format csv > runs.csv\n"
      "  demo compare --timeslice off             # CPU-bound tasks run to completion\n"
      "  demo compare --connections 200 --backend 50ms   # a busier io-bound server\n"
      "\n"
      "KiB/task: growth of resident memory (RSS) from before a run to its peak, per task;\n"
      "sleep-bound rows only (thousands of tasks alive at once), '-' elsewhere.\n"
      "Conclusions: faster or slower only beyond 10% and beyond the spread of the runs\n"
      "((max - min) / median); in between, within noise.\n"
      "start-up ms: time to spawn all the tasks. CPU ms: getrusage, user + system.\n"
      "req/s: io-bound rows: requests answered per second (all requests / median wall time);\n"
      "its threads row has one OS thread per connection on each side (plain blocking sockets).\n"
      "preemptions: per run (median), how many times a task's time slice ran out and another\n"
      "task got its worker; counted from the trace, so for CPU-bound coroutine rows (and,\n"
      "with --trace, the sleep-bound ones); '-' where not counted.\n");
  return {cmd, run_command<Options, Settings>(opts, global, check, run)};
}

}  // namespace demo
