// compare_report.cpp: see compare_report.hpp.
#include "demo/render/compare_report.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "demo/render/text.hpp"

namespace demo::compare {

namespace {

// kMinGain: a speedup within 10% of 1x is not called faster or slower, even
// when the samples agree closely: runs on a shared machine vary that much.
constexpr double kMinGain = 0.10;

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

std::string optional_number(std::optional<double> v, std::string_view format) {
  return v ? fmt::format(fmt::runtime(format), *v) : "-";
}

// find() is the row of workload `w` run by `r` (at `procs` workers for
// coroutines), or null.
const Row* find(const std::vector<Row>& rows, Workload w, Runner r, int procs) {
  for (const Row& row : rows) {
    if (row.workload == w && row.runner == r && (r == Runner::kThreads || row.procs == procs)) {
      return &row;
    }
  }
  return nullptr;
}

// best() is the fastest row of workload `w` on more than one worker, or null.
const Row* best(const std::vector<Row>& rows, Workload w) {
  const Row* top = nullptr;
  for (const Row& row : rows) {
    if (row.workload == w && row.runner == Runner::kCoroutines && row.procs > 1 &&
        (top == nullptr || row.wall() < top->wall())) {
      top = &row;
    }
  }
  return top;
}

// could_run() is the most tasks of `row`'s workload that can run at once on
// its workers: no more than the CPUs (and for cpu-bound, the tasks).
int could_run(const Settings& s, const Row& row) {
  const int could = std::min(row.procs, s.cpus);
  return row.workload == Workload::kCpu ? std::min(could, s.cpu_tasks) : could;
}

// rate() is "4,321 requests/s".
std::string rate(const Row& row) {
  return fmt::format(
      "{} requests/s",
      with_commas(static_cast<std::uint64_t>(row.requests_per_s().value_or(0) + 0.5)));
}

// io_conclusion() says what the io-bound rows show: how fast one worker
// serves the requests, whether more workers change that (judge()), and how
// one OS thread per connection compares, by requests per second (the
// thread row may have fewer connections: --max-threads).
std::string io_conclusion(const Settings& s, const Row& one, const Row* top, const Row* threads) {
  const std::int64_t serial_ms =
      one.requests * std::chrono::duration_cast<std::chrono::milliseconds>(s.io.backend).count();
  std::string line =
      fmt::format("io-bound: 1 worker serves {} at once: {} requests in {:.0f} ms, {}",
                  plural(one.tasks, "connection", "connections"),
                  with_commas(static_cast<std::uint64_t>(one.requests)), one.wall(), rate(one));
  if (serial_ms > 0 && one.tasks > 1) {
    line += fmt::format(" (one after another, their {} backend waits alone would take {} ms)",
                        format_duration(s.io.backend),
                        with_commas(static_cast<std::uint64_t>(serial_ms)));
  }
  if (top != nullptr) {
    const Verdict v = judge(one, *top, could_run(s, *top));
    switch (v.kind) {
      case Verdict::kBeyondTheCpus:
        line += fmt::format("; {} workers: {}", top->procs, beyond_the_cpus(v));
        break;
      case Verdict::kFaster:
        line += fmt::format(
            "; {} workers serve them {:.2f}x faster ({}): they share the CPU work between the "
            "waits (system calls, wake-ups)",
            top->procs, v.speedup, rate(*top));
        break;
      case Verdict::kSlower:
        line +=
            fmt::format("; {} workers are slower ({:.2f}x, {})", top->procs, v.speedup, rate(*top));
        break;
      case Verdict::kWithinNoise:
        line += fmt::format("; {} workers: {}: the work is waiting, not computing", top->procs,
                            within_noise(v));
        break;
    }
  }
  if (threads != nullptr && threads->complete && one.complete) {
    const double ratio = *threads->requests_per_s() / *one.requests_per_s();
    const double margin = std::max({kMinGain, one.spread(), threads->spread()});
    std::string verdict;
    if (ratio >= 1 + margin) {
      verdict = "more";
    } else if (ratio <= 1 / (1 + margin)) {
      verdict = "fewer";
    } else {
      Verdict v;
      v.speedup = ratio;
      v.margin = margin;
      verdict = "about the same, " + within_noise(v).substr(within_noise(v).find("within"));
    }
    line +=
        fmt::format("; one OS thread per connection ({} threads): {}, {:.2f}x 1 worker's rate: {}",
                    with_commas(static_cast<std::uint64_t>(2 * threads->tasks)), rate(*threads),
                    ratio, verdict);
    if (threads->tasks < one.tasks) {
      line += fmt::format(" (connections capped at {}: --max-threads)", threads->tasks);
    }
  }
  return line;
}

}  // namespace

// conclusions() are drawn only from a complete comparison.
std::vector<std::string> conclusions(const Settings& s, const std::vector<Row>& rows) {
  std::vector<std::string> out;
  auto find = [&](Workload w, Runner r, int procs) { return compare::find(rows, w, r, procs); };
  auto best = [&](Workload w) { return compare::best(rows, w); };

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
      const bool enough =
          top != nullptr && judge(*one, *top, could_run(s, *top)).kind != Verdict::kFaster;
      line = fmt::format(
          "sleep-bound: 1 worker overlaps the waits: {} x {} of waiting in {:.0f} ms "
          "(concurrency{})",
          tasks, format_duration(s.sleep), one->wall(), enough ? " is enough" : "");
    }
    if (const Row* top = best(Workload::kSleep)) {
      const Verdict v = judge(*one, *top, could_run(s, *top));
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
      const int could = could_run(s, *top);
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
  if (const Row* one = find(Workload::kIo, Runner::kCoroutines, 1)) {
    out.push_back(
        io_conclusion(s, *one, best(Workload::kIo), find(Workload::kIo, Runner::kThreads, 0)));
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

// at_a_glance() is the 2x2: each workload's median wall time on 1 worker
// and on the most workers measured, and what the pair shows (the same
// verdict as conclusions(): judge()).
std::string at_a_glance(const Settings& s, const std::vector<Row>& rows, bool completed,
                        const Style& style, int width) {
  const int most = *std::max_element(s.procs.begin(), s.procs.end());
  const std::string many = plural(most, "worker", "workers");
  auto wall = [](const Row* row) {
    return row != nullptr && !row->samples.empty() ? format_ms(row->wall()) + " ms"
                                                   : std::string("-");
  };
  auto shows = [&](Workload w, const Row* one, const Row* top) -> std::string {
    const bool sleep = w == Workload::kSleep;
    const bool io = w == Workload::kIo;
    if (!completed) return "interrupted: no conclusion";
    if (one == nullptr || !one->complete) return "-";
    if (top == nullptr) return fmt::format("only 1 worker measured (try --procs 1,{})", s.cpus);
    if (sleep && (s.sleep.count() == 0 || one->tasks == 1)) return "no waits to overlap";
    if (w == Workload::kCpu && s.cpu_tasks == 1) return "one task: nothing to run in parallel";
    const Verdict v = judge(*one, *top, could_run(s, *top));
    switch (v.kind) {
      case Verdict::kBeyondTheCpus:
        return fmt::format("{:.2f}x: noise (beyond what the CPUs allow)", v.speedup);
      case Verdict::kFaster:
        return fmt::format("{:.2f}x faster: {}", v.speedup,
                           sleep ? "start-up work shared"
                                 : (io ? "CPU work between waits shared" : "parallelism"));
      case Verdict::kSlower:
        return fmt::format("{:.2f}x, slower{}", v.speedup,
                           w == Workload::kCpu ? ": no free CPUs" : "");
      case Verdict::kWithinNoise:
        return fmt::format(
            "{:.2f}x, within noise: {}", v.speedup,
            sleep ? "concurrency is enough" : (io ? "waiting, not computing" : "no speedup seen"));
    }
    return "";
  };
  struct Line {
    std::string label, one, top, what;
  };
  std::vector<Line> lines{{"", "1 worker", most > 1 ? many : "-", "what it shows"}};
  for (const Workload w : {Workload::kSleep, Workload::kCpu, Workload::kIo}) {
    const Row* one = find(rows, w, Runner::kCoroutines, 1);
    if (one == nullptr) continue;
    const Row* top = most > 1 ? find(rows, w, Runner::kCoroutines, most) : nullptr;
    lines.push_back(
        {fmt::format("  {}", name(w)), wall(one), most > 1 ? wall(top) : "-", shows(w, one, top)});
  }
  constexpr std::size_t kLabel = 13;  // "  sleep-bound"
  std::size_t cell = 0;
  for (const Line& l : lines) cell = std::max({cell, l.one.size(), l.top.size()});
  std::string out = style.bold("At a glance (median wall time; the table follows)") + "\n";
  for (const Line& l : lines) {
    const std::string head =
        fmt::format("{:<{}}  {:>{}}  {:>{}}  ", l.label, kLabel, l.one, cell, l.top, cell);
    if (width > 0 && head.size() + display_width(l.what) > static_cast<std::size_t>(width)) {
      // Too narrow: the verdict goes below.
      out += head.substr(0, head.find_last_not_of(' ') + 1) + "\n" + std::string(kLabel + 2, ' ') +
             l.what + "\n";
    } else {
      out += head + l.what + "\n";
    }
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
                       style.task(bar, row.workload == Workload::kSleep ? 0
                                       : row.workload == Workload::kCpu ? 3
                                                                        : 5),
                       pad, *s);
  }
  return out;
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
               {"req/s", true, 4},
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
               eff ? fmt::format("{:.0f}%", 100 * *eff) : "-",
               row.requests_per_s()
                   ? with_commas(static_cast<std::uint64_t>(*row.requests_per_s() + 0.5))
                   : "-",
               fmt::format("{:.2f}", row.startup()), optional_number(row.rss_per_task(), "{:.1f}"),
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
      .field("time_slice_ms", static_cast<double>(s.time_slice.count()) / 1e6)
      .field("connections", s.io.connections)
      .field("requests_per_connection", s.io.requests)
      .field("backend_ms", static_cast<double>(s.io.backend.count()) / 1e6);
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
    w.key("requests");
    row.workload == Workload::kIo ? w.value(row.requests) : w.null();
    const auto rps = row.requests_per_s();
    w.key("requests_per_s");
    rps ? w.value(*rps) : w.null();
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
                  "requests",
                  "requests_per_s",
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
                  "connections",
                  "requests_per_connection",
                  "backend_ms",
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
             {"requests", row.workload == Workload::kIo ? std::to_string(row.requests) : ""},
             {"requests_per_s", num(row.requests_per_s())},
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
           {"connections", std::to_string(s.io.connections)},
           {"requests_per_connection", std::to_string(s.io.requests)},
           {"backend_ms", csv_number(static_cast<double>(s.io.backend.count()) / 1e6)},
           {"peak_rss_kib", std::to_string(peak_rss_kib())},
           {"interrupted", completed ? "false" : "true"}});
  return csv.str();
}
}  // namespace demo::compare
