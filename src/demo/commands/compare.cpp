// compare.cpp: `demo compare`, concurrency and parallelism measured side by
// side.
//
// Two workloads run at each procs value, --runs times each:
//   sleep-bound: --sleepers tasks each sleep --sleep (default 10,000 x 100 ms);
//   cpu-bound:   --cpu-tasks tasks each run --work iterations of the
//                xorshift loop (default: as many tasks as the largest procs).
// The table gives the median wall time (and its range), the CPU time
// (getrusage), the speedup over procs=1 (always measured: procs=1 is added
// when missing) and the efficiency (speedup / procs). The sleep-bound
// workload gains nothing from more workers (waiting needs no CPU: one
// worker overlaps all the waits); the CPU-bound one speeds up with the CPUs.
//
// --threads adds the same workloads with one OS thread per task
// (std::thread), capped at --max-threads (and at half the process's thread
// limit): start-up time and memory show what coroutines save. Memory is the
// growth of resident memory (RSS) from before a run to its peak, sampled
// while the tasks are alive, per task.
//
// Only complete runs are samples: a run counts when every one of its tasks
// did all its work (TaskTally), so a run cut off by Ctrl-C is dropped, not
// kept as a short one. A speedup needs both rows complete (all --runs), and
// an interrupted comparison draws no conclusion.
//
// Conclusions are decided from the medians with stated thresholds: a
// speedup counts as faster (or slower) only beyond kMinGain and beyond the
// spread of the samples ((max - min) / median of either row); in between it
// is "within noise". Memory per task (KiB/task) is shown for the sleep-bound
// rows only, where thousands of tasks are alive at once: for a few CPU-bound
// tasks the growth of resident memory is the runtime's and the trace's,
// not the tasks'.
//
// --timeslice sets the runtimes' Config::time_slice (10 ms, or off). The
// CPU-bound runs are always traced, to count their preemptions (runs that
// stopped with StopReason::kPreempt); the sleep-bound ones only with --trace
// (their first run), since tracing 10,000 sleepers would cost time that the
// table measures.
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/commands/cpu_work.hpp"
#include "demo/render/output.hpp"
#include "demo/render/text.hpp"
#include "demo/render/trace_view.hpp"
#include "demo/run/done_on_exit.hpp"
#include "demo/run/interrupt.hpp"
#include "demo/run/measure.hpp"
#include "demo/run/session.hpp"

namespace demo {

namespace {

constexpr auto kMaxSleep = std::chrono::seconds(10);

// kMinGain: a speedup within 10% of 1x is not called faster or slower, even
// when the samples agree closely: runs on a shared machine vary that much.
constexpr double kMinGain = 0.10;

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
};

struct Settings {
  std::vector<int> procs;
  bool baseline_added = false;  // procs=1 was not asked for
  int runs = 3;
  int sleepers = 10000;
  std::chrono::nanoseconds sleep{};
  std::uint64_t work = 0;
  int cpu_tasks = 1;
  bool threads = false;
  int max_threads = 10000;  // after the system's limits
  int cpus = 1;
  std::chrono::nanoseconds time_slice{};  // 0: off
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
  if (procs_given(o.common)) {
    s.procs = parse_procs_list("--procs", o.common.procs);
  } else {
    const int env = env_procs();
    s.procs = {1, env != 0 ? env : s.cpus};
    std::sort(s.procs.begin(), s.procs.end());
    s.procs.erase(std::unique(s.procs.begin(), s.procs.end()), s.procs.end());
  }
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
  return s;
}

enum class Workload { kSleep, kCpu };
enum class Runner { kCoroutines, kThreads };

const char* name(Workload w) { return w == Workload::kSleep ? "sleep-bound" : "cpu-bound"; }
const char* name(Runner r) { return r == Runner::kCoroutines ? "coroutines" : "threads"; }

// Sample is one measured run.
struct Sample {
  double wall_ms = 0;     // first spawn to last task finished
  double cpu_ms = 0;      // getrusage, whole process, over the run
  double startup_ms = 0;  // spawning all the tasks
  std::int64_t rss_growth_kib = 0;
  std::uint64_t checksum = 0;
  std::optional<std::uint64_t> preemptions;  // counted when the run was traced
};

// Row is one line of the table: a workload on a runner at a procs value.
struct Row {
  Workload workload = Workload::kSleep;
  Runner runner = Runner::kCoroutines;
  int procs = 0;  // 0 for threads: the OS schedules them
  int tasks = 0;
  std::vector<Sample> samples;  // complete runs only
  bool complete = false;        // all --runs were measured
  std::string note;             // e.g. thread creation failed

  double wall() const { return median(pick(&Sample::wall_ms)); }
  double wall_min() const { return std::ranges::min(pick(&Sample::wall_ms)); }
  double wall_max() const { return std::ranges::max(pick(&Sample::wall_ms)); }
  double cpu() const { return median(pick(&Sample::cpu_ms)); }
  double startup() const { return median(pick(&Sample::startup_ms)); }
  double rss_growth() const {
    std::vector<double> v;
    for (const Sample& s : samples) v.push_back(static_cast<double>(s.rss_growth_kib));
    return median(v);
  }
  // rss_per_task() is shown only where it measures the tasks (see the top).
  std::optional<double> rss_per_task() const {
    if (workload != Workload::kSleep) return std::nullopt;
    return rss_growth() / tasks;
  }
  // spread() is how far the samples lie apart, relative to their median.
  double spread() const { return (wall_max() - wall_min()) / wall(); }
  // preemptions() is the median over the runs that counted them.
  std::optional<double> preemptions() const {
    std::vector<double> v;
    for (const Sample& s : samples) {
      if (s.preemptions) v.push_back(static_cast<double>(*s.preemptions));
    }
    return v.empty() ? std::nullopt : std::optional<double>(median(v));
  }

 private:
  std::vector<double> pick(double Sample::*field) const {
    std::vector<double> v;
    for (const Sample& s : samples) v.push_back(s.*field);
    return v;
  }
};

// Meter watches one run: CPU time, resident memory (sampled at each poll)
// and when the last task finished.
class Meter {
 public:
  Meter() : rss_before_(rss_kib()), peak_rss_(rss_before_), cpu_before_(process_cpu_time()) {}
  void start() { clock_ = Stopwatch(); }
  void spawned() { startup_ns_ = clock_.elapsed_ns(); }
  void task_finished() { finished_.record(clock_.elapsed_ns()); }
  void sample_rss() { peak_rss_ = std::max(peak_rss_, rss_kib()); }

  Sample result(std::uint64_t checksum) const {
    Sample s;
    s.wall_ms = static_cast<double>(finished_.get()) / 1e6;
    s.cpu_ms = (process_cpu_time() - cpu_before_).total_ms();
    s.startup_ms = static_cast<double>(startup_ns_) / 1e6;
    s.rss_growth_kib = std::max<std::int64_t>(0, peak_rss_ - rss_before_);
    s.checksum = checksum;
    return s;
  }

 private:
  std::int64_t rss_before_;
  std::int64_t peak_rss_;
  CpuTime cpu_before_;
  Stopwatch clock_;
  std::int64_t startup_ns_ = 0;
  LatestTime finished_;
};

class Comparison {
 public:
  Comparison(const Settings& s, Session& session) : s_(s), session_(session) {}

  // measure() fills rows() until every row is complete (true) or Ctrl-C
  // stopped it (false).
  bool measure() {
    for (Workload w : {Workload::kSleep, Workload::kCpu}) {
      for (int procs : s_.procs) {
        if (!measure_row(w, Runner::kCoroutines, procs)) return false;
      }
      if (s_.threads && !measure_row(w, Runner::kThreads, 0)) return false;
    }
    return true;
  }

  const std::vector<Row>& rows() const { return rows_; }

 private:
  int tasks(Workload w, Runner r) const {
    const int n = w == Workload::kSleep ? s_.sleepers : s_.cpu_tasks;
    return r == Runner::kThreads ? std::min(n, s_.max_threads) : n;
  }

  bool measure_row(Workload workload, Runner runner, int procs) {
    Row row;
    row.workload = workload;
    row.runner = runner;
    row.procs = procs;
    row.tasks = tasks(workload, runner);
    for (int run = 0; run < s_.runs && !interrupted(); ++run) {
      session_.console().progress(
          fmt::format("{}, {}, run {}/{}", name(row.workload),
                      row.procs > 0 ? fmt::format("procs={}", row.procs) : "threads", run + 1,
                      s_.runs),
          runs_done_++, total_runs(), "runs");
      std::optional<Sample> sample;
      if (row.runner == Runner::kCoroutines) {
        sample = run_coroutines(row, run == 0 && session_.tracing());
      } else {
        sample = run_threads(row);
      }
      if (!sample) break;  // cut off by Ctrl-C: not a sample
      row.samples.push_back(*sample);
    }
    row.complete = row.samples.size() == static_cast<std::size_t>(s_.runs);
    const bool completed = row.complete;
    if (!row.complete && !row.samples.empty()) {
      row.note += fmt::format("{}interrupted: {} of {} runs finished", row.note.empty() ? "" : "; ",
                              row.samples.size(), s_.runs);
    }
    if (!row.samples.empty()) {
      std::string walls;
      for (const Sample& s : row.samples) walls += " " + format_ms(s.wall_ms);
      session_.console().extra(session_.console().style().dim(
          fmt::format("  {} on {}{}:{} ms\n", name(row.workload), name(row.runner),
                      row.procs > 0 ? fmt::format(", procs={}", row.procs) : "", walls)));
      rows_.push_back(std::move(row));
    }
    return completed;
  }

  // run_coroutines() is one run on a corun::Runtime; nullopt unless every
  // task did all its work.
  std::optional<Sample> run_coroutines(const Row& row, bool trace) {
    const bool record = trace || row.workload == Workload::kCpu;
    Meter meter;
    std::atomic<std::uint64_t> checksum{0};
    std::vector<corun::TraceEvent> events;
    TaskLabels labels;
    TaskTally tally(row.tasks);
    {
      corun::WaitGroup wg;
      corun::Runtime rt(
          corun::Config{.procs = row.procs, .time_slice = s_.time_slice, .trace = record});
      wg.add(row.tasks);
      meter.start();
      for (int i = 0; i < row.tasks; ++i) {
        const std::uint64_t id = rt.go([this, &row, &meter, &checksum, &wg, &tally, i] {
          const DoneOnExit done(wg);
          run_task(row.workload, i, meter, checksum, tally, [this] {
            corun::this_coroutine::sleep_for(s_.sleep);  // throws Cancelled when interrupted
          });
        });
        if (trace) {
          const auto index = static_cast<std::size_t>(i);
          labels[id] = {
              fmt::format("{} {}", row.workload == Workload::kSleep ? "sleeper" : "cpu", i + 1),
              default_symbol(index), index};
        }
      }
      meter.spawned();
      wait_for_tasks(tally, [&meter] { meter.sample_rss(); });
      if (tally.complete()) rt.wait();
      events = rt.trace();
    }  // an interrupted run's sleepers are cancelled here
    if (trace) {
      session_.add_run(fmt::format("{}, procs={}", name(row.workload), row.procs), row.procs,
                       events, labels, !tally.complete());
    }
    if (!tally.complete()) return std::nullopt;
    Sample sample = meter.result(checksum.load());
    if (record) sample.preemptions = count_preemptions(events).total;
    return sample;
  }

  // run_task() is one task of either runner: a sleep (`sleep`) or the CPU
  // loop; it counts as done only when its work is complete.
  template <typename Sleep>
  void run_task(Workload workload, int i, Meter& meter, std::atomic<std::uint64_t>& checksum,
                TaskTally& tally, Sleep sleep) {
    if (workload == Workload::kSleep) {
      sleep();
    } else {
      const CpuTaskResult r = run_cpu_task(static_cast<std::uint64_t>(i), s_.work);
      if (!r.completed) return;  // stopped by Ctrl-C
      checksum.fetch_add(r.sum, std::memory_order_relaxed);
    }
    meter.task_finished();
    tally.done();
  }

  // run_threads() is one run with one std::thread per task; nullopt unless
  // every task did all its work. Sleeping threads are not woken on Ctrl-C
  // (--sleep is at most 10 s); the run is dropped all the same.
  std::optional<Sample> run_threads(Row& row) {
    Meter meter;
    std::atomic<std::uint64_t> checksum{0};
    TaskTally tally(row.tasks);
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(row.tasks));
    meter.start();
    for (int i = 0; i < row.tasks; ++i) {
      try {
        threads.emplace_back([this, &row, &meter, &checksum, &tally, i] {
          run_task(row.workload, i, meter, checksum, tally,
                   [this] { std::this_thread::sleep_for(s_.sleep); });
        });
      } catch (const std::system_error& e) {
        row.note = fmt::format("thread creation failed after {}: {}", with_commas(threads.size()),
                               e.what());
        spdlog::warn("{}: {}", name(row.workload), row.note);
        break;
      }
    }
    meter.spawned();
    const int started = static_cast<int>(threads.size());
    tally.started_only(started);
    wait_for_tasks(tally, [&meter] { meter.sample_rss(); });
    for (std::thread& t : threads) t.join();
    row.tasks = started;
    if (!tally.complete()) return std::nullopt;
    return meter.result(checksum.load());
  }

  // total_runs() is how many runs measure() makes, for the progress line.
  int total_runs() const {
    const int rows = static_cast<int>(s_.procs.size()) + (s_.threads ? 1 : 0);
    return 2 * rows * s_.runs;
  }

  const Settings& s_;
  Session& session_;
  std::vector<Row> rows_;
  int runs_done_ = 0;
};

// speedup() is the row's median wall time against procs=1 of its workload;
// none unless both rows have all their runs.
std::optional<double> speedup(const std::vector<Row>& rows, const Row& row) {
  if (!row.complete) return std::nullopt;
  for (const Row& base : rows) {
    if (base.workload == row.workload && base.runner == Runner::kCoroutines && base.procs == 1) {
      if (!base.complete) return std::nullopt;
      return base.wall() / row.wall();
    }
  }
  return std::nullopt;
}

std::optional<double> efficiency(const std::vector<Row>& rows, const Row& row) {
  const auto s = speedup(rows, row);
  if (!s || row.runner != Runner::kCoroutines) return std::nullopt;
  return *s / row.procs;
}

// Verdict is how a row compares with procs=1 of its workload, decided from
// the medians: faster or slower only beyond the margin (kMinGain, or the
// samples' spread where that is larger), else within noise.
// A speedup beyond what the CPUs allow (`could`: the most tasks that can
// run at once) by more than the margin is noise too: other work on the
// machine slowed the procs=1 runs.
struct Verdict {
  enum Kind { kFaster, kSlower, kWithinNoise, kBeyondTheCpus } kind = kWithinNoise;
  double speedup = 1;
  double margin = kMinGain;
  int could = 1;
};

Verdict judge(const Row& base, const Row& row, int could) {
  Verdict v;
  v.speedup = base.wall() / row.wall();
  v.margin = std::max({kMinGain, base.spread(), row.spread()});
  v.could = could;
  if (v.speedup > could * (1 + v.margin)) {
    v.kind = Verdict::kBeyondTheCpus;
  } else if (v.speedup >= 1 + v.margin) {
    v.kind = Verdict::kFaster;
  } else if (v.speedup <= 1 / (1 + v.margin)) {
    v.kind = Verdict::kSlower;
  }
  return v;
}

// within_noise() is "1.05x, within noise (less than 10%)", or "2.49x, within
// noise (the runs vary by up to 163%)" where the spread is the larger margin.
std::string within_noise(const Verdict& v) {
  if (v.margin > kMinGain) {
    return fmt::format("{:.2f}x, within noise (the runs vary by up to {:.0f}%)", v.speedup,
                       100 * v.margin);
  }
  return fmt::format("{:.2f}x, within noise (less than {:.0f}%)", v.speedup, 100 * kMinGain);
}

// beyond_the_cpus() is "6.08x, more than the 2x that 2 CPUs allow: noise (...)".
std::string beyond_the_cpus(const Verdict& v) {
  return fmt::format(
      "{:.2f}x, more than the {}x that {} allow: noise (other work on the "
      "machine slowed some runs; try more --runs)",
      v.speedup, v.could, plural(v.could, "CPU", "CPUs"));
}

// conclusions() are drawn only from a complete comparison.
std::vector<std::string> conclusions(const Settings& s, const std::vector<Row>& rows) {
  std::vector<std::string> out;
  auto find = [&](Workload w, Runner r, int procs) -> const Row* {
    for (const Row& row : rows) {
      if (row.workload == w && row.runner == r && (r == Runner::kThreads || row.procs == procs)) {
        return &row;
      }
    }
    return nullptr;
  };
  auto best = [&](Workload w) {
    const Row* top = nullptr;
    for (const Row& row : rows) {
      if (row.workload == w && row.runner == Runner::kCoroutines && row.procs > 1 &&
          (top == nullptr || row.wall() < top->wall())) {
        top = &row;
      }
    }
    return top;
  };

  if (const Row* one = find(Workload::kSleep, Runner::kCoroutines, 1)) {
    const std::string tasks = with_commas(static_cast<std::uint64_t>(one->tasks));
    std::string line;
    if (s.sleep.count() == 0) {
      line = fmt::format(
          "sleep-bound: --sleep 0: no waits to overlap; the {} tasks only start "
          "and exit ({:.0f} ms on 1 worker)",
          tasks, one->wall());
    } else if (one->tasks == 1) {
      line = fmt::format("sleep-bound: one task: no waits to overlap ({} in {:.0f} ms)",
                         format_duration(s.sleep), one->wall());
    } else {
      // More workers that are no faster make it "concurrency is enough".
      const Row* top = best(Workload::kSleep);
      const bool enough = top != nullptr &&
                          judge(*one, *top, std::min(top->procs, s.cpus)).kind != Verdict::kFaster;
      line = fmt::format(
          "sleep-bound: 1 worker overlaps the waits: {} x {} of waiting in {:.0f} ms "
          "(concurrency{})",
          tasks, format_duration(s.sleep), one->wall(), enough ? " is enough" : "");
    }
    if (const Row* top = best(Workload::kSleep)) {
      const Verdict v = judge(*one, *top, std::min(top->procs, s.cpus));
      switch (v.kind) {
        case Verdict::kBeyondTheCpus:
          line += fmt::format("; {} workers: {}", top->procs, beyond_the_cpus(v));
          break;
        case Verdict::kFaster:
          line += fmt::format(
              "; {} workers finish {:.2f}x faster: starting {} tasks{} is CPU work, which they "
              "share",
              top->procs, v.speedup, tasks, s.sleep.count() > 0 ? " and their timers" : "");
          break;
        case Verdict::kSlower:
          line += fmt::format("; {} workers are slower ({:.2f}x)", top->procs, v.speedup);
          break;
        case Verdict::kWithinNoise:
          line += fmt::format("; {} workers: {}", top->procs, within_noise(v));
          break;
      }
    }
    out.push_back(line);
  }
  if (const Row* one = find(Workload::kCpu, Runner::kCoroutines, 1)) {
    const Row* top = best(Workload::kCpu);
    const std::string cpus = plural(s.cpus, "CPU", "CPUs");
    if (top == nullptr) {
      out.emplace_back(
          "cpu-bound: only procs=1 measured: run with --procs 1,2 on a multi-core machine to see "
          "parallelism");
    } else if (s.cpu_tasks == 1) {
      out.push_back(
          fmt::format("cpu-bound: one task: nothing to run in parallel ({} workers: {:.2f}x)",
                      top->procs, one->wall() / top->wall()));
    } else {
      const int could = std::min({top->procs, s.cpu_tasks, s.cpus});
      const Verdict v = judge(*one, *top, could);
      std::string line;
      switch (v.kind) {
        case Verdict::kBeyondTheCpus:
          line = fmt::format("cpu-bound: {} workers: {}", top->procs, beyond_the_cpus(v));
          break;
        case Verdict::kFaster:
          line = fmt::format("cpu-bound: {} workers finish {:.2f}x faster: that is parallelism",
                             top->procs, v.speedup);
          if (v.speedup < 0.75 * could) {
            line += fmt::format(", short of the {}x that {} could give", could,
                                plural(could, "CPU", "CPUs"));
          }
          if (s.procs.back() > s.cpus) {
            line += fmt::format(" (more workers than the {} add nothing)", cpus);
          }
          break;
        case Verdict::kSlower:
          line = fmt::format(
              "cpu-bound: {} workers on {} are slower ({:.2f}x): parallelism needs free CPUs",
              top->procs, cpus, v.speedup);
          break;
        case Verdict::kWithinNoise:
          line = fmt::format(
              "cpu-bound: {} workers on {} are no faster: {}: parallelism needs free CPUs",
              top->procs, cpus, within_noise(v));
          break;
      }
      out.push_back(line);
    }
  }
  const Row* threads = find(Workload::kSleep, Runner::kThreads, 0);
  const Row* coroutines = find(Workload::kSleep, Runner::kCoroutines, 1);
  if (threads != nullptr && coroutines != nullptr) {
    std::string line = fmt::format(
        "threads: starting {} OS threads took {:.1f} ms ({:.1f} us each) and {:.1f} KiB each; "
        "{} coroutines took {:.1f} ms ({:.2f} us each) and {:.1f} KiB each",
        with_commas(static_cast<std::uint64_t>(threads->tasks)), threads->startup(),
        1e3 * threads->startup() / threads->tasks, threads->rss_per_task().value_or(0),
        with_commas(static_cast<std::uint64_t>(coroutines->tasks)), coroutines->startup(),
        1e3 * coroutines->startup() / coroutines->tasks, coroutines->rss_per_task().value_or(0));
    if (threads->tasks < s.sleepers) {
      line += fmt::format(" (threads capped at {}: --max-threads)", with_commas(threads->tasks));
    }
    out.push_back(line);
  }
  return out;
}

// bar_chart() draws the speedups, its lines at most `width` columns wide (0:
// no limit): bars of up to 40 cells, fewer on a narrow terminal.
std::string bar_chart(const std::vector<Row>& rows, const Style& style, int width) {
  constexpr int kLabels = 24;  // "  sleep-bound  procs=2  "
  constexpr int kNumber = 7;   // " 12.34x"
  const int kWidth = width > 0 ? std::clamp(width - kLabels - kNumber, 5, 40) : 40;
  double top = 0;
  for (const Row& row : rows) top = std::max(top, speedup(rows, row).value_or(0));
  if (top <= 0) return "";
  const bool unicode = unicode_ok();
  static constexpr const char* kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  std::string out = style.bold("Speedup vs procs=1") + "\n";
  const char* last_workload = "";
  for (const Row& row : rows) {
    const auto s = speedup(rows, row);
    if (!s) continue;
    const double cells = *s / top * kWidth;
    const int full = static_cast<int>(cells);
    std::string bar;
    for (int i = 0; i < full; ++i) bar += unicode ? "█" : "#";
    if (unicode) bar += kEighths[static_cast<int>((cells - full) * 8)];
    const char* workload =
        std::string_view(name(row.workload)) == last_workload ? "" : name(row.workload);
    last_workload = name(row.workload);
    const std::string label =
        row.runner == Runner::kThreads ? "threads" : fmt::format("procs={}", row.procs);
    const std::string pad(static_cast<std::size_t>(kWidth + 1) - display_width(bar), ' ');
    out += fmt::format("  {:<12} {:<8} {}{}{:.2f}x\n", workload, label,
                       style.task(bar, row.workload == Workload::kSleep ? 0 : 3), pad, *s);
  }
  return out;
}

std::string optional_number(std::optional<double> v, std::string_view format) {
  return v ? fmt::format(fmt::runtime(format), *v) : "-";
}

// table() is the rows as a table `width` columns wide at most (0: no
// limit). Each column has a priority (see TextTable): on a narrow terminal
// the details go first, the wall time and the speedup stay.
std::string table(const Settings& s, const std::vector<Row>& rows, const Style& style, int width) {
  TextTable t({{"workload"},
               {"runner", false, 1},
               {"procs", true},
               {"tasks", true, 1},
               {"wall ms", true},
               {"min-max ms", true, 5},
               {"CPU ms", true, 3},
               {"speedup", true},
               {"efficiency", true, 2},
               {"start-up ms", true, 7},
               {"KiB/task", true, 8},
               {"preemptions", true, 6}});
  for (const Row& row : rows) {
    const auto eff = efficiency(rows, row);
    t.add_row({name(row.workload), name(row.runner),
               row.runner == Runner::kThreads ? "-" : std::to_string(row.procs),
               with_commas(static_cast<std::uint64_t>(row.tasks)), format_ms(row.wall()),
               fmt::format("{}-{}", format_ms(row.wall_min()), format_ms(row.wall_max())),
               format_ms(row.cpu()), optional_number(speedup(rows, row), "{:.2f}x"),
               eff ? fmt::format("{:.0f}%", 100 * *eff) : "-", fmt::format("{:.2f}", row.startup()),
               optional_number(row.rss_per_task(), "{:.1f}"),
               optional_number(row.preemptions(), "{:g}")});
  }
  std::string out = "\n" + t.render("", style, width);
  if (s.baseline_added) out += style.dim("(procs=1 added as the baseline of the speedup)\n");
  for (const Row& row : rows) {
    if (!row.note.empty())
      out += fmt::format("note: {} {}: {}\n", name(row.workload), name(row.runner), row.note);
  }
  return out;
}

std::string to_json(const Settings& s, const std::vector<Row>& rows,
                    const std::vector<std::string>& lines, bool completed) {
  JsonWriter w;
  w.begin_object()
      .field("command", "compare")
      .field("version", CORUN_VERSION)
      .field("cpus", s.cpus)
      .key("procs")
      .begin_array(/*one_line=*/true);
  for (int p : s.procs) w.value(p);
  w.end_array()
      .field("runs", s.runs)
      .field("sleepers", s.sleepers)
      .field("sleep_ms", static_cast<double>(s.sleep.count()) / 1e6)
      .field("cpu_tasks", s.cpu_tasks)
      .field("work", s.work)
      .field("threads", s.threads)
      .field("max_threads", s.max_threads)
      .field("time_slice_ms", static_cast<double>(s.time_slice.count()) / 1e6);
  w.key("rows").begin_array();
  for (const Row& row : rows) {
    w.begin_object().field("workload", name(row.workload)).field("runner", name(row.runner));
    w.key("procs");
    if (row.runner == Runner::kThreads) {
      w.null();
    } else {
      w.value(row.procs);
    }
    w.field("tasks", row.tasks)
        .field("runs", row.samples.size())
        .field("wall_ms_median", row.wall())
        .field("wall_ms_min", row.wall_min())
        .field("wall_ms_max", row.wall_max())
        .field("cpu_ms_median", row.cpu());
    const auto sp = speedup(rows, row);
    const auto eff = efficiency(rows, row);
    w.key("speedup");
    sp ? w.value(*sp) : w.null();
    w.key("efficiency");
    eff ? w.value(*eff) : w.null();
    w.field("startup_ms_median", row.startup()).field("rss_growth_kib_median", row.rss_growth());
    const auto per_task = row.rss_per_task();
    w.key("rss_kib_per_task");
    per_task ? w.value(*per_task) : w.null();
    const auto preemptions = row.preemptions();
    w.key("preemptions");
    preemptions ? w.value(*preemptions) : w.null();
    w.key("checksum");
    row.workload == Workload::kCpu ? w.exact(row.samples.front().checksum) : w.null();
    w.field("note", row.note).key("samples").begin_array();
    for (const Sample& sample : row.samples) {
      w.begin_object()
          .field("wall_ms", sample.wall_ms)
          .field("cpu_ms", sample.cpu_ms)
          .field("startup_ms", sample.startup_ms)
          .field("rss_growth_kib", sample.rss_growth_kib);
      w.key("preemptions");
      sample.preemptions ? w.value(*sample.preemptions) : w.null();
      w.end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().key("conclusions").begin_array();
  for (const std::string& line : lines) w.value(line);
  w.end_array().field("peak_rss_kib", peak_rss_kib()).field("interrupted", !completed).end_object();
  return w.str();
}

// to_csv() is one table of three kinds of record (see CsvRecords): `row`
// (a line of the table), `conclusion` (one per line) and one `summary` (the
// JSON document's other fields, procs separated by spaces).
std::string to_csv(const Settings& s, const std::vector<Row>& rows,
                   const std::vector<std::string>& lines, bool completed) {
  CsvRecords csv({"workload",
                  "runner",
                  "procs",
                  "tasks",
                  "runs",
                  "wall_ms_median",
                  "wall_ms_min",
                  "wall_ms_max",
                  "cpu_ms_median",
                  "speedup",
                  "efficiency",
                  "startup_ms_median",
                  "rss_growth_kib_median",
                  "rss_kib_per_task",
                  "preemptions",
                  "checksum",
                  "note",
                  "conclusion",
                  "command",
                  "version",
                  "cpus",
                  "sleepers",
                  "sleep_ms",
                  "cpu_tasks",
                  "work",
                  "threads",
                  "max_threads",
                  "time_slice_ms",
                  "peak_rss_kib",
                  "interrupted"});
  auto num = [](std::optional<double> v) { return v ? csv_number(*v) : ""; };
  for (const Row& row : rows) {
    csv.add("row",
            {{"workload", name(row.workload)},
             {"runner", name(row.runner)},
             {"procs", row.runner == Runner::kThreads ? "" : std::to_string(row.procs)},
             {"tasks", std::to_string(row.tasks)},
             {"runs", std::to_string(row.samples.size())},
             {"wall_ms_median", num(row.wall())},
             {"wall_ms_min", num(row.wall_min())},
             {"wall_ms_max", num(row.wall_max())},
             {"cpu_ms_median", num(row.cpu())},
             {"speedup", num(speedup(rows, row))},
             {"efficiency", num(efficiency(rows, row))},
             {"startup_ms_median", num(row.startup())},
             {"rss_growth_kib_median", num(row.rss_growth())},
             {"rss_kib_per_task", num(row.rss_per_task())},
             {"preemptions", row.preemptions() ? fmt::format("{:g}", *row.preemptions()) : ""},
             {"checksum",
              row.workload == Workload::kCpu ? std::to_string(row.samples.front().checksum) : ""},
             {"note", row.note}});
  }
  for (const std::string& line : lines) csv.add("conclusion", {{"conclusion", line}});
  std::string procs;
  for (int p : s.procs) procs += (procs.empty() ? "" : " ") + std::to_string(p);
  csv.add("summary",
          {{"command", "compare"},
           {"version", CORUN_VERSION},
           {"cpus", std::to_string(s.cpus)},
           {"procs", procs},
           {"runs", std::to_string(s.runs)},
           {"sleepers", std::to_string(s.sleepers)},
           {"sleep_ms", csv_number(static_cast<double>(s.sleep.count()) / 1e6)},
           {"cpu_tasks", std::to_string(s.cpu_tasks)},
           {"work", std::to_string(s.work)},
           {"threads", s.threads ? "true" : "false"},
           {"max_threads", std::to_string(s.max_threads)},
           {"time_slice_ms", csv_number(static_cast<double>(s.time_slice.count()) / 1e6)},
           {"peak_rss_kib", std::to_string(peak_rss_kib())},
           {"interrupted", completed ? "false" : "true"}});
  return csv.str();
}

std::string header(const Settings& s) {
  std::string procs;
  for (int p : s.procs) procs += (procs.empty() ? "" : ", ") + std::to_string(p);
  return fmt::format(
      "Comparing sleep-bound ({} x sleep {}) and cpu-bound ({} x {} iterations) work at procs {}; "
      "{} each (the table shows medians); {} available{}\n"
      "Time slice: {}\n",
      plural(s.sleepers, "task", "tasks"), format_duration(s.sleep),
      plural(s.cpu_tasks, "task", "tasks"), with_commas(s.work), procs,
      plural(s.runs, "run", "runs"), plural(s.cpus, "CPU", "CPUs"),
      s.threads ? fmt::format("; threads capped at {}", with_commas(s.max_threads)) : "",
      describe_time_slice(s.time_slice));
}

int run(const Options& opts, const GlobalOptions& global) {
  // First: from here on, Ctrl-C stops the run and exits 130 (one that comes
  // while the options are checked stops the run as it starts).
  const InterruptScope sigint;
  const Settings s = check(opts);
  spdlog::debug(
      "compare: procs={} runs={} sleepers={} cpu_tasks={} work={} max_threads={} time_slice={}",
      fmt::join(s.procs, ","), s.runs, s.sleepers, s.cpu_tasks, s.work, s.max_threads,
      describe_time_slice(s.time_slice));
  Session session(opts.common, global);
  Console& console = session.console();
  console.extra(console.style().bold(header(s)));

  Comparison comparison(s, session);
  const bool completed = comparison.measure();
  const std::vector<Row>& rows = comparison.rows();
  const std::vector<std::string> lines =
      completed ? conclusions(s, rows) : std::vector<std::string>{};
  const std::string stopped =
      "Interrupted (Ctrl-C): the table shows the runs that finished; no conclusion is drawn "
      "from an unfinished comparison.\n";
  std::string text = table(s, rows, console.style(), console.table_width());
  for (const std::string& line : lines) text += line + "\n";
  if (!completed) text += stopped;
  if (!rows.empty()) text += "\n" + bar_chart(rows, console.style(), console.table_width());
  console.report(text, [&] {
    return session.format() == Format::kJson ? to_json(s, rows, lines, completed)
                                             : to_csv(s, rows, lines, completed);
  });
  return session.finish(completed ? kExitOk : kExitInterrupted);
}

}  // namespace

Command add_compare(CLI::App& parent, const GlobalOptions& global) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "compare", "Sleep-bound and CPU-bound work at several procs values, measured and explained");
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
  add_time_slice_option(*cmd, opts->time_slice);
  cmd->footer(
      "Examples:\n"
      "  demo compare                               # procs 1 and all CPUs, 3 runs each\n"
      "  demo compare --procs 1,2,4 --runs 5\n"
      "  demo compare --threads                     # + 10,000 OS threads vs 10,000 coroutines\n"
      "  demo compare --format csv > runs.csv\n"
      "  demo compare --timeslice off             # CPU-bound tasks run to completion\n"
      "\n"
      "KiB/task: growth of resident memory (RSS) from before a run to its peak, per task;\n"
      "sleep-bound rows only (thousands of tasks alive at once), '-' elsewhere.\n"
      "Conclusions: faster or slower only beyond 10% and beyond the spread of the runs\n"
      "((max - min) / median); in between, within noise.\n"
      "start-up ms: time to spawn all the tasks. CPU ms: getrusage, user + system.\n"
      "preemptions: per run (median), how many times a task's time slice ran out and another\n"
      "task got its worker; counted from the trace, so for CPU-bound coroutine rows (and,\n"
      "with --trace, the sleep-bound ones); '-' where not counted.\n");
  return {cmd, [opts, &global] { return run(*opts, global); }};
}

}  // namespace demo
