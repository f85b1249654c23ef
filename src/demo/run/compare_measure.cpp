// compare_measure.cpp: see compare_measure.hpp.
#include "demo/run/compare_measure.hpp"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "corun/corun.hpp"
#include "demo/commands/cpu_work.hpp"
#include "demo/render/text.hpp"
#include "demo/render/trace_view.hpp"
#include "demo/run/interrupt.hpp"
#include "demo/run/task_run.hpp"

namespace demo::compare {

namespace {

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
  Comparison(const Settings& s, Session& session, std::vector<Row>& rows)
      : s_(s), session_(session), rows_(rows) {}

  // measure() fills the rows until every row is complete (true) or Ctrl-C
  // stopped it (false).
  bool measure() {
    for (Workload w : {Workload::kSleep, Workload::kCpu, Workload::kIo}) {
      for (int procs : s_.procs) {
        if (!measure_row(w, Runner::kCoroutines, procs)) return false;
      }
      if (has_thread_row(w) && !measure_row(w, Runner::kThreads, 0)) return false;
    }
    return true;
  }

 private:
  bool has_thread_row(Workload w) const { return w == Workload::kIo || s_.threads; }

  int tasks(Workload w, Runner r) const {
    if (w == Workload::kIo) {
      // Two threads per connection: one on each side.
      return r == Runner::kThreads ? thread_connections() : s_.io.connections;
    }
    const int n = w == Workload::kSleep ? s_.sleepers : s_.cpu_tasks;
    return r == Runner::kThreads ? std::min(n, s_.max_threads) : n;
  }
  int thread_connections() const {
    return std::min(s_.io.connections, std::max(1, s_.max_threads / 2));
  }

  bool measure_row(Workload workload, Runner runner, int procs) {
    Row row;
    row.workload = workload;
    row.runner = runner;
    row.procs = procs;
    row.tasks = tasks(workload, runner);
    if (workload == Workload::kIo) row.requests = std::int64_t{row.tasks} * s_.io.requests;
    for (int run = 0; run < s_.runs && !interrupted(); ++run) {
      session_.console().progress(
          fmt::format("{}, {}, run {}/{}", name(row.workload),
                      row.procs > 0 ? fmt::format("procs={}", row.procs) : "threads", run + 1,
                      s_.runs),
          runs_done_++, total_runs(), "runs");
      std::optional<Sample> sample;
      if (row.workload == Workload::kIo) {
        sample = row.runner == Runner::kCoroutines ? run_io_coroutines(row, run == 0)
                                                   : run_io_threads(row);
      } else if (row.runner == Runner::kCoroutines) {
        sample = run_coroutines(row, run == 0 && session_.tracing());
      } else {
        sample = run_threads(row);
      }
      if (!sample) {
        // Not a sample: cut off by Ctrl-C, or a run that failed (its error
        // is the row's note), which ends the comparison with that error
        // rather than pass for an interruption.
        if (!interrupted() && !row.note.empty()) {
          throw std::runtime_error(
              fmt::format("{} on {}{}: {}", name(row.workload), name(row.runner),
                          row.procs > 0 ? fmt::format(", procs={}", row.procs) : "", row.note));
        }
        break;
      }
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
    TaskLabels labels;
    TaskTally tally(row.tasks);
    TaskRunHooks hooks;
    hooks.started = [&meter](std::chrono::steady_clock::time_point) { meter.start(); };
    hooks.spawned = [&](std::size_t i, std::uint64_t id) {
      if (!trace) return;
      const char* kind = row.workload == Workload::kSleep ? "sleeper" : "cpu";
      labels[id] = {fmt::format("{} {}", kind, i + 1), default_symbol(i), i};
    };
    hooks.all_spawned = [&meter] { meter.spawned(); };
    hooks.tick = [&meter] { meter.sample_rss(); };
    const auto task = [&](std::size_t i) {
      run_task(row.workload, static_cast<int>(i), meter, checksum, tally, [this] {
        corun::this_coroutine::sleep_for(s_.sleep);  // throws Cancelled when interrupted
      });
    };
    const TaskRun run =
        run_tasks(corun::Config{.procs = row.procs, .time_slice = s_.time_slice, .trace = record},
                  tally, task, OnInterrupt::kCancel, hooks);
    if (trace) {
      session_.add_run(fmt::format("{}, procs={}", name(row.workload), row.procs), row.procs,
                       run.trace, labels, !run.completed, run.cpu);
    }
    if (!run.completed) return std::nullopt;
    Sample sample = meter.result(checksum.load());
    if (record) sample.preemptions = count_preemptions(run.trace).total;
    return sample;
  }

  // run_io_coroutines() is one run of the io-bound workload on a
  // corun::Runtime; nullopt unless every request was answered.
  std::optional<Sample> run_io_coroutines(Row& row, bool first) {
    const bool trace = first && session_.tracing();
    Meter meter;
    IoWorkload w = s_.io;
    w.connections = row.tasks;
    IoCoroutineRun io(w);
    TaskTally tally(io.tasks());
    TaskRunHooks hooks;
    hooks.started = [&meter](std::chrono::steady_clock::time_point) { meter.start(); };
    TaskLabels labels;
    hooks.spawned = [&](std::size_t i, std::uint64_t id) {
      if (!trace) return;
      labels[id] = {i == 0 ? std::string("server") : fmt::format("client {}", i), default_symbol(i),
                    i};
    };
    hooks.all_spawned = [&meter] { meter.spawned(); };
    hooks.tick = [&meter] { meter.sample_rss(); };
    const TaskRun run = run_tasks(
        corun::Config{.procs = row.procs, .time_slice = s_.time_slice, .trace = trace}, tally,
        [&](std::size_t i) { io.run_task(i, tally, [&meter] { meter.task_finished(); }); },
        OnInterrupt::kCancel, hooks);
    if (trace) {
      session_.add_run(fmt::format("{}, procs={}", name(row.workload), row.procs), row.procs,
                       run.trace, labels, !run.completed, run.cpu);
    }
    if (!io.error().empty()) failed(row, io.error());
    if (!run.completed) return std::nullopt;
    return meter.result(static_cast<std::uint64_t>(io.answered()));
  }

  // run_io_threads() is one run of the io-bound workload with one OS thread
  // per connection on each side.
  std::optional<Sample> run_io_threads(Row& row) {
    Meter meter;
    IoWorkload w = s_.io;
    w.connections = row.tasks;
    meter.start();
    const IoThreadRun run = compare::run_io_threads(
        w, [&meter] { meter.spawned(); }, [&meter] { meter.task_finished(); },
        [&meter] { meter.sample_rss(); });
    if (!run.error.empty()) failed(row, run.error);
    if (!run.completed) return std::nullopt;
    return meter.result(static_cast<std::uint64_t>(run.answered));
  }

  // failed() keeps a run's error as the row's note (once); measure_row()
  // then ends the comparison with it.
  static void failed(Row& row, const std::string& error) {
    if (row.note.find(error) != std::string::npos) return;
    row.note += (row.note.empty() ? "" : "; ") + error;
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
    int rows = 0;
    for (Workload w : {Workload::kSleep, Workload::kCpu, Workload::kIo}) {
      rows += static_cast<int>(s_.procs.size()) + (has_thread_row(w) ? 1 : 0);
    }
    return rows * s_.runs;
  }

  const Settings& s_;
  Session& session_;
  std::vector<Row>& rows_;
  int runs_done_ = 0;
};

}  // namespace

bool measure(const Settings& s, Session& session, std::vector<Row>& rows) {
  Comparison comparison(s, session, rows);
  return comparison.measure();
}

}  // namespace demo::compare
