// parallel.cpp: `demo parallel`, seed 000's parallel example on corun.
//
// CPU-bound tasks (WORKLOADS.md's xorshift loop, see cpu_work.hpp) on
// `procs` workers. A task never blocks, but it calls corun::preempt_point()
// between chunks of its loop: once it has held its worker for a time slice
// (--timeslice, 10 ms by default as Go), the runtime sends it to the back of
// the queue. On one worker the tasks therefore take turns (concurrency
// without parallelism); with --timeslice off each runs to completion before
// the next starts. On N workers (and N CPUs) N of them run at the same time.
//
// The run is always traced: the preemptions are counted from the trace
// (runs that stopped with StopReason::kPreempt), and the printed times count
// from the trace's zero (Runtime::trace_epoch()), so that they line up with
// the timeline and the --trace file.
//
// Cores used is the sum of the tasks' CPU times (each measured with the
// thread CPU clock around its own chunks, see run_cpu_task()) over the wall
// time: how many CPUs the tasks' work kept busy on average. On N > 1 workers
// it is also the estimated speedup over one worker, which would take the sum
// of the CPU times; on one worker there is no speedup to report (it would
// be over itself), and `demo compare` measures it with real procs=1 runs.
//
// A turn is one run of a task on a worker, from the trace; the mean turn is
// the tasks' running time over their turns. The runtime's monitor looks
// every half time slice, so a task gives way 1 to 1.5 slices into its turn.
//
// A run that Ctrl-C stopped before every task did all its work (TaskTally)
// reports what finished and computes no figure from the unfinished work.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/commands/cpu_work.hpp"
#include "demo/render/output.hpp"
#include "demo/render/text.hpp"
#include "demo/render/trace_view.hpp"
#include "demo/run/interrupt.hpp"
#include "demo/run/measure.hpp"
#include "demo/run/run_and_report.hpp"
#include "demo/run/session.hpp"
#include "demo/run/task_run.hpp"

namespace demo {

namespace {

constexpr std::int64_t kMaxTasks = 4096;
constexpr std::uint64_t kMaxWork = std::uint64_t{1} << 40;  // ~30 min per task

struct Options {
  CommonOptions common;
  std::string tasks;  // default: procs, at least 2
  std::string work = "200M";
  std::string time_slice = "10ms";
};

struct Settings {
  int procs = 1;
  int tasks = 1;
  std::uint64_t work = 0;
  std::chrono::nanoseconds time_slice{};  // 0: off
};

Settings check(const Options& o) {
  Settings s;
  s.procs = resolve_procs(o.common.procs);
  s.tasks = o.tasks.empty() ? std::max(s.procs, 2)
                            : static_cast<int>(parse_int("--tasks", o.tasks, 1, kMaxTasks));
  s.work = parse_count("--work", o.work, 1, kMaxWork);
  s.time_slice = parse_time_slice("--timeslice", o.time_slice);
  spdlog::debug("parallel: procs={} tasks={} work={} time_slice={}", s.procs, s.tasks, s.work,
                describe_time_slice(s.time_slice));
  return s;
}

// kSpeedupMethod says how the speedup is found, for reports.
constexpr const char* kSpeedupMethod = "estimate: task_cpu_ms / wall_ms";

struct TaskResult {
  std::size_t index = 0;
  std::string name;
  std::uint64_t coroutine = 0;
  int start_worker = -1;
  int worker = -1;  // where it finished
  std::int64_t start_ns = 0;
  std::int64_t finish_ns = 0;
  CpuTaskResult cpu;
  std::uint64_t preemptions = 0;  // from the trace, after the run
};

std::string task_name(std::size_t index) { return fmt::format("Task {}", index + 1); }

// RunState is one run: the results in the order tasks finished.
class RunState {
 public:
  RunState(const Settings& s, Console& console) : s_(s), console_(console) {}

  // start() sets the run's zero: the runtime's trace epoch.
  void start(std::chrono::steady_clock::time_point epoch) { clock_ = Stopwatch(epoch); }

  void run_task(std::size_t index, TaskTally& tally) {
    TaskResult r;
    r.index = index;
    r.name = task_name(index);
    r.coroutine = corun::this_coroutine::id();
    r.start_worker = corun::this_coroutine::worker();
    r.start_ns = clock_.elapsed_ns();
    r.cpu = run_cpu_task(index, s_.work);
    r.worker = corun::this_coroutine::worker();
    // Stamped under the lock, so that results_ (and the printed lines) are
    // in finishing order even when two tasks finish at the same moment.
    std::lock_guard<std::mutex> lk(mu_);
    r.finish_ns = clock_.elapsed_ns();
    finished_.record(r.finish_ns);
    console_.extra(line(r));
    if (r.cpu.completed) tally.done();
    results_.push_back(std::move(r));
    console_.progress("demo parallel", static_cast<std::int64_t>(results_.size()), s_.tasks,
                      "tasks finished");
  }

  std::int64_t elapsed_ns() const { return clock_.elapsed_ns(); }
  std::int64_t finished_ns() const { return finished_.get(); }
  const std::vector<TaskResult>& results() const { return results_; }

  // add_preemptions() fills in each task's count once the run is over.
  void add_preemptions(const Preemptions& p) {
    for (TaskResult& r : results_) r.preemptions = p.of(r.coroutine);
  }

 private:
  // line() is how a finished task is printed:
  // "  412.3 ms  P0  G1  Task 1 finished with sum 123 (started at 0.1 ms, CPU 412.1 ms)".
  std::string line(const TaskResult& r) const {
    const std::string name = console_.style().task(r.name, r.index);
    const std::string head =
        fmt::format("{:>7} ms  P{}  G{}  ", format_ms(static_cast<double>(r.finish_ns) / 1e6),
                    r.worker, r.coroutine);
    if (!r.cpu.completed) {
      return fmt::format("{}{} stopped after {} of {} iterations (interrupted)\n", head, name,
                         with_commas(r.cpu.iterations), with_commas(s_.work));
    }
    const std::string moved =
        r.start_worker != r.worker ? fmt::format(" on P{}", r.start_worker) : std::string();
    return fmt::format("{}{} finished with sum {} (started at {} ms{}, CPU {} ms)\n", head, name,
                       r.cpu.sum, format_ms(static_cast<double>(r.start_ns) / 1e6), moved,
                       format_ms(static_cast<double>(r.cpu.cpu_ns) / 1e6));
  }

  const Settings& s_;
  Console& console_;
  Stopwatch clock_;
  LatestTime finished_;
  std::mutex mu_;
  std::vector<TaskResult> results_;  // guarded by mu_ during the run
};

// Turns are the runs of the tasks on the workers, from the trace.
struct Turns {
  std::uint64_t count = 0;
  double busy_ms = 0;  // the tasks' running time, summed over their turns
  double mean_ms() const { return count > 0 ? busy_ms / static_cast<double>(count) : 0; }
};

Turns count_turns(const std::vector<corun::TraceEvent>& trace, const TaskLabels& tasks) {
  Turns t;
  for (const RunSlice& r : run_slices(trace)) {
    if (!tasks.contains(r.coroutine)) continue;
    ++t.count;
    t.busy_ms += static_cast<double>(r.end_ns - r.start_ns) / 1e6;
  }
  return t;
}

struct Outcome {
  double wall_ms = 0;
  CpuTime cpu;                       // the process's, over the run (getrusage)
  double task_cpu_ms = 0;            // the sum of the tasks' own CPU times
  std::optional<double> cores_used;  // task_cpu_ms / wall_ms; none when interrupted
  std::optional<double> speedup;     // the same, as the estimated speedup: procs > 1 only
  std::uint64_t preemptions = 0;
  Turns turns;
  std::uint64_t checksum = 0;
  bool completed = true;
  std::string summary;
};

Outcome summarize(const Settings& s, const RunState& rs, std::int64_t wall_ns, CpuTime cpu,
                  std::uint64_t preemptions, Turns turns, bool completed) {
  Outcome o;
  o.preemptions = preemptions;
  o.turns = turns;
  o.completed = completed;
  o.wall_ms = static_cast<double>(wall_ns) / 1e6;
  o.cpu = cpu;
  std::int64_t task_cpu_ns = 0;
  for (const TaskResult& r : rs.results()) {
    task_cpu_ns += r.cpu.cpu_ns;
    o.checksum += r.cpu.sum;
  }
  o.task_cpu_ms = static_cast<double>(task_cpu_ns) / 1e6;
  if (!completed) {
    std::size_t done = 0;
    for (const TaskResult& r : rs.results()) done += r.cpu.completed ? 1 : 0;
    o.summary = fmt::format(
        "Interrupted (Ctrl-C) after {:.0f} ms: {} of {} tasks finished; no speedup is computed "
        "from unfinished work.",
        o.wall_ms, done, s.tasks);
    return o;
  }
  o.cores_used = o.wall_ms > 0 ? o.task_cpu_ms / o.wall_ms : 0;
  if (s.procs > 1) o.speedup = o.cores_used;
  const int cpus = corun::available_cpus();
  const int could_run = std::min({s.procs, s.tasks, cpus});
  if (s.tasks == 1) {
    o.summary = "One task runs on one worker at a time: nothing to run in parallel.";
  } else if (s.procs == 1 && preemptions > 0) {
    o.summary = fmt::format(
        "The {} tasks took turns on one worker (time slicing): concurrency without "
        "parallelism.",
        s.tasks);
  } else if (s.procs == 1 && s.time_slice.count() == 0) {
    o.summary = fmt::format(
        "The {} tasks ran one after another on one worker: each task ran to completion before "
        "the next started.",
        s.tasks);
  } else if (s.procs == 1) {
    o.summary = fmt::format(
        "The {} tasks ran one after another on one worker: each finished within its {} time "
        "slice, so none was preempted.",
        s.tasks, format_duration(s.time_slice));
  } else if (*o.speedup >= 0.75 * could_run && could_run > 1) {
    o.summary = fmt::format(
        "The tasks ran at the same time on {} {}: {:.2f}x faster than 1 worker (parallelism).",
        could_run, s.procs > cpus ? "CPUs" : "workers", *o.speedup);
  } else {
    o.summary = fmt::format(
        "Speedup {:.2f}x on {}, where {} tasks could run at once ({}{}): is the machine busy "
        "with other work?",
        *o.speedup, plural(s.procs, "worker", "workers"), could_run, plural(cpus, "CPU", "CPUs"),
        s.procs > cpus ? ": more workers than CPUs add nothing" : "");
  }
  if (completed && s.procs > 1 && s.tasks > s.procs && preemptions > 0) {
    o.summary += " With more tasks than workers, they also took turns (time slicing).";
  }
  return o;
}

std::string preemption_line(const Settings& s, const Outcome& o) {
  if (s.time_slice.count() == 0) {
    return "Time slice: off: no task was preempted; each ran until it finished.";
  }
  if (o.preemptions > 0 && o.turns.count > 0) {
    std::string line = fmt::format(
        "Time slice: {}; tasks were preempted {}. A turn lasted {:.1f} ms on average (the tasks "
        "held the worker {:.0f} ms in {}): the runtime looks every half slice, so a task gives "
        "way 1 to 1.5 slices into its turn.",
        format_duration(s.time_slice),
        o.preemptions == 1 ? std::string("once")
                           : plural(static_cast<std::int64_t>(o.preemptions), "time", "times"),
        o.turns.mean_ms(), o.turns.busy_ms,
        plural(static_cast<std::int64_t>(o.turns.count), "turn", "turns"));
    if (o.turns.busy_ms > 1.25 * o.task_cpu_ms) {
      line += fmt::format(
          " Of those {:.0f} ms the tasks got {:.0f} ms of CPU: other work on the machine "
          "stretched the turns.",
          o.turns.busy_ms, o.task_cpu_ms);
    }
    return line;
  }
  if (o.preemptions == 0) {
    return fmt::format(
        "Time slice: {}; no task was preempted (none held its worker for a whole time slice "
        "while another task was waiting for it).",
        format_duration(s.time_slice));
  }
  return fmt::format(
      "Time slice: {}; tasks were preempted {} (a task that held its worker for a time slice "
      "went to the back of the queue and the next one ran).",
      format_duration(s.time_slice),
      o.preemptions == 1 ? std::string("once")
                         : plural(static_cast<std::int64_t>(o.preemptions), "time", "times"));
}

std::string report(const Settings& s, const Outcome& o) {
  std::string out = fmt::format(
      "\nWall time {:.0f} ms{}; CPU time {:.0f} ms (user {:.0f} + system {:.0f}, getrusage).\n",
      o.wall_ms, o.completed ? "" : " (interrupted)", o.cpu.total_ms(), o.cpu.user_ms,
      o.cpu.sys_ms);
  if (o.completed) out += preemption_line(s, o) + "\n";
  if (o.cores_used) {
    out += fmt::format(
        "Cores used: {:.2f} (the tasks' CPU time, {:.0f} ms, over the wall time: how many CPUs "
        "their work kept busy).\n",
        *o.cores_used, o.task_cpu_ms);
  }
  if (o.speedup) {
    out += fmt::format(
        "Speedup over 1 worker: {:.2f}x (estimated: the tasks' CPU time is what 1 worker would "
        "take; divided by the wall time).\n",
        *o.speedup);
  }
  out +=
      fmt::format("Task CPU time: {}.\nChecksum (sum of the task sums): {}{}\n{}\n", kCpuTimeMethod,
                  o.checksum, o.completed ? "" : " (partial: interrupted)", o.summary);
  return out;
}

std::string to_json(const Settings& s, const RunState& rs, const Outcome& o) {
  JsonWriter w;
  w.begin_object()
      .field("command", "parallel")
      .field("version", CORUN_VERSION)
      .field("procs", s.procs)
      .field("cpus", corun::available_cpus())
      .field("tasks", s.tasks)
      .field("work", s.work)
      .field("time_slice_ms", static_cast<double>(s.time_slice.count()) / 1e6);
  w.key("results").begin_array();
  for (const TaskResult& r : rs.results()) {
    w.begin_object()
        .field("task", r.name)
        .field("index", r.index)
        .field("coroutine", r.coroutine)
        .field("start_worker", r.start_worker)
        .field("worker", r.worker)
        .field("start_ms", static_cast<double>(r.start_ns) / 1e6)
        .field("finish_ms", static_cast<double>(r.finish_ns) / 1e6)
        .field("cpu_ms", static_cast<double>(r.cpu.cpu_ns) / 1e6)
        .field("iterations", r.cpu.iterations)
        .key("checksum")
        .exact(r.cpu.sum)
        .field("completed", r.cpu.completed)
        .field("preemptions", r.preemptions)
        .end_object();
  }
  w.end_array()
      .field("wall_ms", o.wall_ms)
      .field("cpu_ms", o.cpu.total_ms())
      .field("user_ms", o.cpu.user_ms)
      .field("sys_ms", o.cpu.sys_ms)
      .field("task_cpu_ms", o.task_cpu_ms)
      .field("cpu_method", kCpuTimeMethod)
      .field("preemptions", o.preemptions)
      .field("turns", o.turns.count)
      .field("mean_turn_ms", o.turns.mean_ms());
  w.key("cores_used");
  o.cores_used ? w.value(*o.cores_used) : w.null();
  w.key("speedup");
  o.speedup ? w.value(*o.speedup) : w.null();
  w.field("speedup_method", kSpeedupMethod)
      .key("checksum")
      .exact(o.checksum)
      .field("interrupted", !o.completed)
      .field("summary", o.summary)
      .end_object();
  return w.str();
}

// to_csv() is one table of two kinds of record (see CsvRecords): `task` (one
// per task, in finishing order) and one `summary` (the JSON document's other
// fields).
std::string to_csv(const Settings& s, const RunState& rs, const Outcome& o) {
  CsvRecords csv({"task",         "index",       "coroutine",   "start_worker",   "worker",
                  "start_ms",     "finish_ms",   "cpu_ms",      "iterations",     "checksum",
                  "completed",    "preemptions", "command",     "version",        "procs",
                  "cpus",         "tasks",       "work",        "time_slice_ms",  "wall_ms",
                  "user_ms",      "sys_ms",      "task_cpu_ms", "cpu_method",     "turns",
                  "mean_turn_ms", "cores_used",  "speedup",     "speedup_method", "interrupted",
                  "summary"});
  auto ms = [](std::int64_t ns) { return csv_number(static_cast<double>(ns) / 1e6); };
  for (const TaskResult& r : rs.results()) {
    csv.add("task", {{"task", r.name},
                     {"index", std::to_string(r.index)},
                     {"coroutine", std::to_string(r.coroutine)},
                     {"start_worker", std::to_string(r.start_worker)},
                     {"worker", std::to_string(r.worker)},
                     {"start_ms", ms(r.start_ns)},
                     {"finish_ms", ms(r.finish_ns)},
                     {"cpu_ms", ms(r.cpu.cpu_ns)},
                     {"iterations", std::to_string(r.cpu.iterations)},
                     {"checksum", std::to_string(r.cpu.sum)},
                     {"completed", r.cpu.completed ? "true" : "false"},
                     {"preemptions", std::to_string(r.preemptions)}});
  }
  csv.add("summary", {{"command", "parallel"},
                      {"version", CORUN_VERSION},
                      {"procs", std::to_string(s.procs)},
                      {"cpus", std::to_string(corun::available_cpus())},
                      {"tasks", std::to_string(s.tasks)},
                      {"work", std::to_string(s.work)},
                      {"time_slice_ms", ms(s.time_slice.count())},
                      {"wall_ms", csv_number(o.wall_ms)},
                      {"cpu_ms", csv_number(o.cpu.total_ms())},
                      {"user_ms", csv_number(o.cpu.user_ms)},
                      {"sys_ms", csv_number(o.cpu.sys_ms)},
                      {"task_cpu_ms", csv_number(o.task_cpu_ms)},
                      {"cpu_method", kCpuTimeMethod},
                      {"preemptions", std::to_string(o.preemptions)},
                      {"turns", std::to_string(o.turns.count)},
                      {"mean_turn_ms", csv_number(o.turns.mean_ms())},
                      {"cores_used", o.cores_used ? csv_number(*o.cores_used) : ""},
                      {"speedup", o.speedup ? csv_number(*o.speedup) : ""},
                      {"speedup_method", kSpeedupMethod},
                      {"checksum", std::to_string(o.checksum)},
                      {"interrupted", o.completed ? "false" : "true"},
                      {"summary", o.summary}});
  return csv.str();
}

Report run(const Settings& s, Session& session) {
  Console& console = session.console();
  const Style& style = console.style();
  console.extra(
      style.bold(fmt::format("Using {} ({} available)\n", plural(s.procs, "proc", "procs"),
                             plural(corun::available_cpus(), "CPU", "CPUs"))));
  console.extra(fmt::format("{} x {} iterations of the xorshift loop; time slice {}\n",
                            plural(s.tasks, "CPU-bound task", "CPU-bound tasks"),
                            with_commas(s.work), describe_time_slice(s.time_slice)));

  RunState rs(s, console);
  TaskTally tally(s.tasks);
  std::int64_t wall_ns = 0;
  CpuTime cpu_before;
  CpuTime cpu;
  TaskRunHooks hooks;
  hooks.started = [&](std::chrono::steady_clock::time_point epoch) {
    cpu_before = process_cpu_time();
    rs.start(epoch);
    console.progress("demo parallel", 0, s.tasks, "tasks finished");
  };
  hooks.stopped = [&] {
    wall_ns = tally.complete() ? rs.finished_ns() : rs.elapsed_ns();
    cpu = process_cpu_time() - cpu_before;
  };
  // Always traced: the preemptions are counted from the trace. Interrupted
  // tasks stop at their next chunk and say how far they got.
  const TaskRun run = run_tasks(
      corun::Config{.procs = s.procs, .time_slice = s.time_slice, .trace = true}, tally,
      [&rs, &tally](std::size_t i) { rs.run_task(i, tally); }, OnInterrupt::kLetFinish, hooks);

  const Preemptions preemptions = count_preemptions(run.trace);
  rs.add_preemptions(preemptions);
  TaskLabels labels;
  for (const TaskResult& r : rs.results()) {
    labels[r.coroutine] = {
        r.name, r.index < 9 ? static_cast<char>('1' + r.index) : default_symbol(r.index), r.index};
  }
  const Outcome outcome = summarize(s, rs, wall_ns, cpu, preemptions.total,
                                    count_turns(run.trace, labels), run.completed);
  session.add_run("demo parallel", s.procs, run.trace, labels, !run.completed, run.cpu);
  return {report(s, outcome),
          machine_document(
              session.format(), [&] { return to_json(s, rs, outcome); },
              [&] { return to_csv(s, rs, outcome); }),
          run.completed};
}

}  // namespace

Command add_parallel(CLI::App& parent, const GlobalOptions& global) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "parallel", "CPU-bound tasks: on N workers (and N CPUs) N of them run at the same time");
  add_common_options(*cmd, opts->common,
                     "Worker threads, 1..1024 (default: GOMAXPROCS, else all CPUs)");
  cmd->add_option("-t,--tasks", opts->tasks,
                  "Number of tasks, 1..4096 (default: procs, at least 2)")
      ->type_name("N");
  cmd->add_option("-w,--work", opts->work,
                  "Iterations of the xorshift loop per task (suffixes k, M, G: 200M = 200000000)")
      ->type_name("N")
      ->default_str("200M");
  add_time_slice_option(*cmd, opts->time_slice);
  cmd->footer(
      "Examples:\n"
      "  demo parallel --procs 1 --timeline         # two tasks take turns (time slices)\n"
      "  demo parallel --procs 1 --timeline --timeslice off   # one after another\n"
      "  demo parallel --procs 2 --timeline         # side by side: about half the time\n"
      "  demo parallel --tasks 8 --work 50M --format csv\n"
      "\n"
      "Cores used: (sum of the tasks' CPU times) / wall time. On more than one worker it is\n"
      "also the estimated speedup: what one worker would take, over what the run took.\n"
      "`demo compare` measures the speedup instead.\n"
      "Preemptions: how many times a task's time slice ran out and another task got its\n"
      "worker (counted from the runtime's trace).\n");
  return {cmd, run_command<Options, Settings>(opts, global, check, run)};
}

}  // namespace demo
