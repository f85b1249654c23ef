// concurrent.cpp: `demo concurrent`, the seeds' concurrency examples on
// corun.
//
// --variant tasks (seed 000, the default): N tasks "Task A", "Task B", ...
// each print steps 1..S and sleep --interval between two steps (not after
// the last: nothing waits for it).
// --variant letters (seed 003): two coroutines, "Numbers" printing 1..S and
// "Letters" printing a, b, ..., each sleeping before it prints, joined with
// a WaitGroup.
// --variant channel: N tasks pass a token round a ring of channels: a task
// waits (blocked on its channel) for the token, prints its step, sleeps
// --interval holding it and sends it to the next task, whose receive the
// send wakes. The token orders the steps, so the sleeps cannot overlap:
// waiting on a channel for another task is not the same as sleeping.
// Sleeping parks a coroutine, not its worker, so on one worker the sleeps
// overlap: the run takes S - 1 intervals, not N x (S - 1). The overlap is
// measured from the first task's start (slept / (wall - first start)), so
// that the runtime's start-up, which is not waiting, does not hide it.
// --sleep os sleeps in the kernel instead (sleep_kind.hpp): the summary says
// from the measured overlap and the workers used whether the sleeps still
// overlapped.
//
// A task is done (TaskTally) once it printed its last step; a run that
// Ctrl-C stopped before that reports the steps that were printed and no
// overlap.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/commands/sleep_kind.hpp"
#include "demo/render/output.hpp"
#include "demo/render/text.hpp"
#include "demo/run/interrupt.hpp"
#include "demo/run/measure.hpp"
#include "demo/run/run_and_report.hpp"
#include "demo/run/session.hpp"
#include "demo/run/task_run.hpp"

namespace demo {

namespace {

enum class Variant { kTasks, kLetters, kChannel };

const char* to_string(Variant v) {
  return v == Variant::kLetters ? "letters" : v == Variant::kChannel ? "channel" : "tasks";
}

constexpr int kMaxTasks = 100'000;
constexpr int kMaxSteps = 1'000'000;
constexpr auto kMaxSleep = std::chrono::hours(1);

struct Options {
  CommonOptions common;
  std::string variant = "tasks";
  std::string tasks = "2";
  std::string steps;  // default: 3 (tasks), 10 (letters)
  std::string interval = "100ms";
  std::string jitter = "0ms";
  std::string seed = "1";
  std::string sleep = "corun";
  std::string dump_after;  // empty: no dump
  CLI::Option* tasks_option = nullptr;
};

struct Settings {
  Variant variant = Variant::kTasks;
  int procs = 1;
  int tasks = 2;
  int steps = 3;
  std::chrono::nanoseconds interval{};
  std::chrono::nanoseconds jitter{};
  std::uint64_t seed = 1;
  SleepKind sleep = SleepKind::kCorun;
  std::optional<std::chrono::nanoseconds> dump_after;  // --dump-after
};

Settings check(const Options& o) {
  Settings s;
  if (o.variant == "letters") {
    s.variant = Variant::kLetters;
  } else if (o.variant == "channel") {
    s.variant = Variant::kChannel;
  } else if (o.variant != "tasks") {
    throw UsageError(
        fmt::format("--variant: expected tasks, letters or channel, got \"{}\"", o.variant));
  }
  s.tasks = static_cast<int>(parse_int("--tasks", o.tasks, 1, kMaxTasks));
  if (s.variant == Variant::kLetters && o.tasks_option->count() > 0 && s.tasks != 2) {
    throw UsageError(fmt::format(
        "--tasks: expected 2 with --variant letters (numbers and letters), got \"{}\"", o.tasks));
  }
  const bool letters = s.variant == Variant::kLetters;
  s.steps = o.steps.empty() ? (letters ? 10 : 3)
                            : static_cast<int>(parse_int("--steps", o.steps, 1, kMaxSteps));
  s.interval = parse_duration("--interval", o.interval, kMaxSleep);
  s.jitter = parse_duration("--jitter", o.jitter, kMaxSleep);
  s.seed = static_cast<std::uint64_t>(
      parse_int("--seed", o.seed, 0, std::numeric_limits<std::int64_t>::max()));
  s.sleep = parse_sleep_kind("--sleep", o.sleep);
  if (!o.dump_after.empty()) s.dump_after = parse_duration("--dump-after", o.dump_after, kMaxSleep);
  s.procs = resolve_procs(o.common.procs);
  spdlog::debug("concurrent: procs={} tasks={} steps={} interval={} jitter={} seed={} sleep={}",
                s.procs, s.tasks, s.steps, format_duration(s.interval), format_duration(s.jitter),
                s.seed, to_string(s.sleep));
  return s;
}

// column_name() counts like spreadsheet columns: A..Z, AA, AB, ...
std::string column_name(std::size_t index, char first) {
  std::string name;
  for (std::size_t n = index + 1; n > 0; n = (n - 1) / 26) {
    name.insert(name.begin(), static_cast<char>(first + (n - 1) % 26));
  }
  return name;
}

struct StepEvent {
  std::int64_t t_ns = 0;
  int worker = -1;
  std::uint64_t coroutine = 0;
  std::size_t task = 0;
  int step = 0;
  std::string value;
};

struct TaskRecord {
  std::string name;
  std::uint64_t coroutine = 0;  // written by the main thread
  int steps_done = 0;           // written by the task
  std::int64_t slept_ns = 0;    // written by the task
};

// RunState is one run: its tasks, the steps they printed, its clock.
class RunState {
 public:
  RunState(const Settings& s, Console& console) : s_(s), console_(console) {
    for (int i = 0; i < s.tasks && s.variant == Variant::kChannel; ++i) {
      // Room for one token: the last send (to a task that is done) does
      // not wait for a receiver.
      inbox_.push_back(corun::make_channel<int>(1));
    }
    for (int i = 0; i < s.tasks; ++i) {
      TaskRecord t;
      if (s.variant == Variant::kLetters) {
        t.name = i == 0 ? "Numbers" : "Letters";
      } else {
        t.name = "Task " + column_name(static_cast<std::size_t>(i), 'A');
      }
      tasks_.push_back(t);
    }
  }

  // start() begins the run's clock at `epoch`, the runtime's trace epoch, so
  // that the printed times and the trace's count from the same zero.
  void start(std::chrono::steady_clock::time_point epoch) { clock_ = Stopwatch(epoch); }

  // run_task() is task `i`'s body.
  void run_task(std::size_t i, TaskTally& tally) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      first_start_ = std::min(first_start_, clock_.elapsed_ns());
    }
    TaskRecord& me = tasks_[i];
    std::mt19937_64 rng(s_.seed + i);
    std::uniform_int_distribution<std::int64_t> jitter(0, s_.jitter.count());
    auto sleep = [&] {
      const std::chrono::nanoseconds d = s_.interval + std::chrono::nanoseconds(jitter(rng));
      sleep_as(s_.sleep, d);
      me.slept_ns += d.count();
    };
    if (s_.variant == Variant::kChannel) {
      pass_the_token(i, sleep);
      if (me.steps_done < s_.steps) return;
      finished_.record(clock_.elapsed_ns());
      tally.done();
      return;
    }
    const bool sleep_first = s_.variant == Variant::kLetters;  // as seed 003 does
    for (int step = 1; step <= s_.steps; ++step) {
      if (interrupted()) return;
      if (sleep_first || step > 1) sleep();
      if (interrupted()) return;
      record(i, step);
      me.steps_done = step;
    }
    finished_.record(clock_.elapsed_ns());
    tally.done();
  }

  std::int64_t elapsed_ns() const { return clock_.elapsed_ns(); }
  std::int64_t finished_ns() const { return finished_.get(); }
  // first_start_ns() is when the first task began (after the run: read once
  // the runtime has stopped).
  std::int64_t first_start_ns() const { return first_start_ == kNever ? 0 : first_start_; }
  std::vector<TaskRecord>& tasks() { return tasks_; }
  const std::vector<TaskRecord>& tasks() const { return tasks_; }
  const std::vector<StepEvent>& events() const { return events_; }

  // step_line() is how a step is printed: "  100.2 ms  P0  G2  Task B: 2".
  std::string step_line(const StepEvent& e) const {
    return fmt::format("{:>7} ms  P{}  G{}  {}: {}\n", format_ms(static_cast<double>(e.t_ns) / 1e6),
                       e.worker, e.coroutine, console_.style().task(tasks_[e.task].name, e.task),
                       e.value);
  }

 private:
  // pass_the_token() is a channel task's steps: Task A starts with the
  // token; each step waits for it, prints, sleeps holding it and sends it
  // on (not after the ring's very last step: nobody waits for it).
  template <class Sleep>
  void pass_the_token(std::size_t i, Sleep& sleep) {
    const std::size_t n = inbox_.size();
    for (int step = 1; step <= s_.steps; ++step) {
      if (i != 0 || step != 1) (void)inbox_[i].recv();  // blocks until the token comes
      if (interrupted()) return;
      record(i, step);
      tasks_[i].steps_done = step;
      if (step == s_.steps && i + 1 == n) return;
      sleep();
      inbox_[(i + 1) % n].send(step);  // wakes the next task's receive
    }
  }

  std::string step_value(std::size_t task, int step) const {
    if (s_.variant == Variant::kLetters && task == 1) {
      return column_name(static_cast<std::size_t>(step - 1), 'a');
    }
    return std::to_string(step);
  }

  // record() prints and keeps one step; the time is taken under the lock so
  // that the lines come out in time order.
  void record(std::size_t task, int step) {
    StepEvent e{0,    corun::this_coroutine::worker(), corun::this_coroutine::id(), task,
                step, step_value(task, step)};
    std::lock_guard<std::mutex> lk(mu_);
    e.t_ns = clock_.elapsed_ns();
    console_.extra(step_line(e));
    events_.push_back(std::move(e));
    console_.progress("demo concurrent", static_cast<std::int64_t>(events_.size()),
                      std::int64_t{s_.tasks} * s_.steps, "steps");
  }

  const Settings& s_;
  Console& console_;
  Stopwatch clock_;
  LatestTime finished_;
  std::vector<TaskRecord> tasks_;
  std::vector<corun::Channel<int>> inbox_;  // kChannel: task i receives the token on inbox_[i]
  std::mutex mu_;
  std::vector<StepEvent> events_;  // guarded by mu_ during the run
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  std::int64_t first_start_ = kNever;  // guarded by mu_ during the run
};

// apart() is the time between two steps: "100 ms", or "100 to 150 ms" with
// --jitter.
std::string apart(const Settings& s) {
  if (s.jitter.count() == 0) return format_duration(s.interval);
  return fmt::format("{} to {}", format_duration(s.interval),
                     format_duration(s.interval + s.jitter));
}

std::string header(const Settings& s) {
  const std::string workers = plural(s.procs, "worker", "workers");
  if (s.variant == Variant::kLetters) {
    return fmt::format(
        "Numbers and letters printed by two coroutines joined with a WaitGroup (seed 003): "
        "{} steps, {} apart, on {}\n",
        s.steps, apart(s), workers);
  }
  const std::string sleeping = s.sleep == SleepKind::kCorun
                                   ? ""
                                   : fmt::format("; sleeping with --sleep {}", to_string(s.sleep));
  if (s.variant == Variant::kChannel) {
    return fmt::format(
        "{} pass a token round a ring of channels, {} each, sleeping {} with it, on {} "
        "(procs={}){}\n",
        plural(s.tasks, "task", "tasks"), plural(s.steps, "step", "steps"), apart(s), workers,
        s.procs, sleeping);
  }
  return fmt::format("{} x {}, {} apart, on {} (procs={}){}\n", plural(s.tasks, "task", "tasks"),
                     plural(s.steps, "step", "steps"), apart(s), workers, s.procs, sleeping);
}

struct Outcome {
  double wall_ms = 0;
  double first_start_ms = 0;  // when the first task began
  double slept_ms = 0;
  double overlap = 0;  // slept / (wall - first start): above 1 means waits overlapped
  int steps_done = 0;
  std::set<int> workers_used;
  bool completed = true;
  std::string summary;
};

Outcome summarize(const Settings& s, const RunState& rs, std::int64_t wall_ns, bool completed) {
  Outcome o;
  o.completed = completed;
  o.wall_ms = static_cast<double>(wall_ns) / 1e6;
  o.first_start_ms = static_cast<double>(rs.first_start_ns()) / 1e6;
  std::int64_t slept = 0;
  for (const TaskRecord& t : rs.tasks()) {
    slept += t.slept_ns;
    o.steps_done += t.steps_done;
  }
  for (const StepEvent& e : rs.events()) o.workers_used.insert(e.worker);
  o.slept_ms = static_cast<double>(slept) / 1e6;
  const double tasks_ms = o.wall_ms - o.first_start_ms;
  o.overlap = tasks_ms > 0 ? o.slept_ms / tasks_ms : 0;

  const std::string who = s.variant == Variant::kLetters ? "2 coroutines (numbers and letters)"
                                                         : plural(s.tasks, "task", "tasks");
  const std::string slept_wall = fmt::format(
      "{} slept {:.0f} ms in total; wall time {:.0f} ms on {}{}", who, o.slept_ms, o.wall_ms,
      plural(s.procs, "worker", "workers"),
      o.first_start_ms >= 1 ? fmt::format(" ({:.0f} ms from the first task's start)", tasks_ms)
                            : std::string());
  if (!completed) {
    o.summary = fmt::format(
        "Interrupted (Ctrl-C) after {:.0f} ms: {} of {} steps done; no overlap is computed from "
        "unfinished work.",
        o.wall_ms, o.steps_done, s.tasks * s.steps);
  } else if (s.tasks == 1) {
    o.summary = slept_wall + ": a single task has nothing to overlap with.";
  } else if (s.variant == Variant::kChannel) {
    o.summary = slept_wall +
                ": the token orders the steps, so the sleeps did not overlap; each task waited "
                "on its channel until the one before it sent the token, and that send woke it.";
  } else if (slept == 0) {
    o.summary = slept_wall + (s.steps == 1 ? ": no waits to overlap (one step: no sleep)."
                                           : ": no waits to overlap (--interval 0).");
  } else {
    o.summary = slept_wall + wait_verdict({.kind = s.sleep,
                                           .waiters = s.tasks,
                                           .procs = s.procs,
                                           .workers_used = static_cast<int>(o.workers_used.size()),
                                           .waited_ms = o.slept_ms,
                                           .elapsed_ms = tasks_ms});
  }
  return o;
}

std::string to_json(const Settings& s, const RunState& rs, const Outcome& o) {
  JsonWriter w;
  w.begin_object()
      .field("command", "concurrent")
      .field("version", CORUN_VERSION)
      .field("variant", to_string(s.variant))
      .field("procs", s.procs)
      .field("cpus", corun::available_cpus())
      .field("tasks", s.tasks)
      .field("steps", s.steps)
      .field("interval_ms", static_cast<double>(s.interval.count()) / 1e6)
      .field("jitter_ms", static_cast<double>(s.jitter.count()) / 1e6)
      .field("seed", s.seed)
      .field("sleep", to_string(s.sleep));
  w.key("events").begin_array();
  for (const StepEvent& e : rs.events()) {
    w.begin_object()
        .field("t_ms", static_cast<double>(e.t_ns) / 1e6)
        .field("worker", e.worker)
        .field("coroutine", e.coroutine)
        .field("task", rs.tasks()[e.task].name)
        .field("step", e.step)
        .field("value", e.value)
        .end_object();
  }
  w.end_array().key("task_list").begin_array();
  for (const TaskRecord& t : rs.tasks()) {
    w.begin_object()
        .field("task", t.name)
        .field("coroutine", t.coroutine)
        .field("steps_done", t.steps_done)
        .field("slept_ms", static_cast<double>(t.slept_ns) / 1e6)
        .end_object();
  }
  w.end_array().key("workers_used").begin_array(/*one_line=*/true);
  for (int worker : o.workers_used) w.value(worker);
  w.end_array()
      .field("wall_ms", o.wall_ms)
      .field("first_start_ms", o.first_start_ms)
      .field("slept_ms", o.slept_ms);
  w.key("overlap");  // none from an unfinished run
  o.completed ? w.value(o.overlap) : w.null();
  w.field("interrupted", !o.completed).field("summary", o.summary).end_object();
  return w.str();
}

// to_csv() is one table of three kinds of record (see CsvRecords): `event`
// (a step), `task` (one per task) and one `summary` (the JSON document's
// other fields, workers_used separated by spaces).
std::string to_csv(const Settings& s, const RunState& rs, const Outcome& o) {
  CsvRecords csv({"t_ms",        "worker",         "coroutine", "task",        "step",
                  "value",       "steps_done",     "slept_ms",  "command",     "version",
                  "variant",     "procs",          "cpus",      "tasks",       "steps",
                  "interval_ms", "jitter_ms",      "seed",      "sleep",       "workers_used",
                  "wall_ms",     "first_start_ms", "overlap",   "interrupted", "summary"});
  auto ms = [](std::int64_t ns) { return csv_number(static_cast<double>(ns) / 1e6); };
  for (const StepEvent& e : rs.events()) {
    csv.add("event", {{"t_ms", ms(e.t_ns)},
                      {"worker", std::to_string(e.worker)},
                      {"coroutine", std::to_string(e.coroutine)},
                      {"task", rs.tasks()[e.task].name},
                      {"step", std::to_string(e.step)},
                      {"value", e.value}});
  }
  for (const TaskRecord& t : rs.tasks()) {
    csv.add("task", {{"task", t.name},
                     {"coroutine", std::to_string(t.coroutine)},
                     {"steps_done", std::to_string(t.steps_done)},
                     {"slept_ms", ms(t.slept_ns)}});
  }
  std::string workers;
  for (int worker : o.workers_used)
    workers += (workers.empty() ? "" : " ") + std::to_string(worker);
  csv.add("summary", {{"command", "concurrent"},
                      {"version", CORUN_VERSION},
                      {"variant", to_string(s.variant)},
                      {"procs", std::to_string(s.procs)},
                      {"cpus", std::to_string(corun::available_cpus())},
                      {"tasks", std::to_string(s.tasks)},
                      {"steps", std::to_string(s.steps)},
                      {"interval_ms", ms(s.interval.count())},
                      {"jitter_ms", ms(s.jitter.count())},
                      {"seed", std::to_string(s.seed)},
                      {"sleep", to_string(s.sleep)},
                      {"workers_used", workers},
                      {"wall_ms", csv_number(o.wall_ms)},
                      {"first_start_ms", csv_number(o.first_start_ms)},
                      {"slept_ms", csv_number(o.slept_ms)},
                      {"overlap", csv_number(o.overlap)},
                      {"interrupted", o.completed ? "false" : "true"},
                      {"summary", o.summary}});
  return csv.str();
}

Report run(const Settings& s, Session& session) {
  Console& console = session.console();
  console.extra(console.style().bold(header(s)));
  RunState rs(s, console);
  TaskTally tally(s.tasks);
  TaskRunHooks hooks;
  hooks.started = [&](std::chrono::steady_clock::time_point epoch) {
    rs.start(epoch);
    console.progress("demo concurrent", 0, std::int64_t{s.tasks} * s.steps, "steps");
  };
  hooks.spawned = [&rs](std::size_t i, std::uint64_t id) { rs.tasks()[i].coroutine = id; };
  // --dump-after: the coroutine dump, once, in the middle of the steps.
  bool dumped = false;
  if (s.dump_after) {
    hooks.inspect = [&](const corun::Runtime& rt) {
      if (dumped || rs.elapsed_ns() < s.dump_after->count()) return;
      dumped = true;
      console.extra(fmt::format("--- {} ms: {}---\n",
                                format_ms(static_cast<double>(rs.elapsed_ns()) / 1e6),
                                rt.coroutine_dump()));
    };
  }
  const TaskRun run = run_tasks(
      corun::Config{.procs = s.procs, .trace = session.tracing()}, tally,
      [&rs, &tally](std::size_t i) { rs.run_task(i, tally); }, OnInterrupt::kCancel, hooks);
  const std::int64_t wall_ns = run.completed ? rs.finished_ns() : rs.elapsed_ns();

  const Outcome outcome = summarize(s, rs, wall_ns, run.completed);
  if (run.completed) console.extra("All tasks done.\n");
  TaskLabels labels;
  for (std::size_t i = 0; i < rs.tasks().size(); ++i) {
    const bool letters = s.variant == Variant::kLetters;
    labels[rs.tasks()[i].coroutine] = {rs.tasks()[i].name,
                                       letters ? rs.tasks()[i].name[0] : default_symbol(i), i};
  }
  session.add_run("demo concurrent", s.procs, run.trace, labels, !run.completed, run.cpu);
  return {"\n" + outcome.summary + "\n",
          machine_document(
              session.format(), [&] { return to_json(s, rs, outcome); },
              [&] { return to_csv(s, rs, outcome); }),
          run.completed};
}

}  // namespace

Command add_concurrent(CLI::App& parent, const GlobalOptions& global) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "concurrent", "Tasks that sleep between steps: their waits overlap, even on one worker");
  add_common_options(*cmd, opts->common,
                     "Worker threads, 1..1024 (default: GOMAXPROCS, else all CPUs)");
  cmd->add_option("--variant", opts->variant,
                  "tasks: N tasks print steps 1..S (seed 000); letters: numbers and letters "
                  "printed by two coroutines joined with a WaitGroup (seed 003); channel: N "
                  "tasks pass a token round a ring of channels, each send waking the next task")
      ->type_name("NAME")
      ->default_str("tasks");
  opts->tasks_option = cmd->add_option("-t,--tasks", opts->tasks, "Number of tasks, 1..100000")
                           ->type_name("N")
                           ->default_str("2");
  cmd->add_option("-s,--steps", opts->steps, "Steps per task (default: 3; 10 with letters)")
      ->type_name("N");
  cmd->add_option("-i,--interval", opts->interval,
                  "Sleep between two steps (not after the last): a number and a unit, ns, us, "
                  "ms or s")
      ->type_name("DURATION")
      ->default_str("100ms");
  cmd->add_option("--jitter", opts->jitter,
                  "Add a random 0..DURATION to each sleep (drawn from --seed)")
      ->type_name("DURATION")
      ->default_str("0ms");
  cmd->add_option("--seed", opts->seed, "Seed of the --jitter draws (each task: seed + index)")
      ->type_name("N")
      ->default_str("1");
  cmd->add_option("--sleep", opts->sleep,
                  "How a task sleeps: corun parks the coroutine (its worker runs the others); os "
                  "calls std::this_thread::sleep_for, which holds the worker's thread (at --procs "
                  "1 the sleeps no longer overlap; Ctrl-C waits for the sleep under way); "
                  "blocking makes that OS sleep inside corun::blocking(), which hands the worker "
                  "to another thread meanwhile")
      ->type_name("KIND")
      ->default_str("corun");
  cmd->add_option("--dump-after", opts->dump_after,
                  "Print the coroutine dump (every coroutine, what it waits for, its stack) "
                  "once the run is DURATION old")
      ->type_name("DURATION");
  cmd->footer(
      "Examples:\n"
      "  demo concurrent --procs 1                  # seed 000: Task A and Task B, 3 steps\n"
      "  demo concurrent --tasks 4 --steps 10 --interval 50ms\n"
      "  demo concurrent --variant letters          # seed 003: 1 a 2 b ... with a WaitGroup\n"
      "  demo concurrent --procs 1 --timeline       # draw the worker: mostly idle\n"
      "  demo concurrent --variant channel --explain  # who woke whom: a token hand-off\n"
      "  demo concurrent --procs 1 --sleep os       # an OS sleep holds the worker\n"
      "  demo concurrent --procs 1 --sleep blocking # OS sleeps in corun::blocking()\n"
      "  demo concurrent --dump-after 150ms         # the coroutines, parked on their timers\n"
      "  demo concurrent --format json > run.json\n");
  return {cmd, run_command<Options, Settings>(opts, global, check, run)};
}

}  // namespace demo
