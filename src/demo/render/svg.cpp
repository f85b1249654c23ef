// svg.cpp: see svg.hpp.
#include "demo/render/svg.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "demo/render/off_cpu.hpp"
#include "demo/render/state_columns.hpp"
#include "demo/render/task_history.hpp"
#include "demo/render/text.hpp"

namespace demo {

namespace {

constexpr int kWidth = 1000;
constexpr int kLeft = 130;  // lane labels
constexpr int kRight = 20;
constexpr int kPlot = kWidth - kLeft - kRight;
constexpr int kLane = 16;
constexpr int kGap = 4;
constexpr int kHistLane = 30;

constexpr const char* kRunning = "#2ca02c";
constexpr const char* kRunnable = "#17becf";
constexpr const char* kSleeping = "#ff9f40";
constexpr const char* kBlocked = "#d62728";
constexpr const char* kIdle = "#e0e0e0";
constexpr const char* kWake = "#333333";
constexpr const char* kSteal = "#9467bd";
constexpr const char* kOffCpu = "#e377c2";

// xml() escapes text for SVG.
std::string xml(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

const char* colour(const StateSpan& s) {
  switch (s.state) {
    case TaskState::kRunning:
      return kRunning;
    case TaskState::kRunnable:
      return kRunnable;
    case TaskState::kSleeping:
      return kSleeping;
    case TaskState::kBlocked:
      return kBlocked;
  }
  return kIdle;
}

// tick_step() is a round step (1, 2 or 5 x 10^k ms) giving 4 to 10 ticks.
double tick_step(double end_ms) {
  double step = std::pow(10.0, std::floor(std::log10(std::max(end_ms, 1e-3))));
  for (const double f : {0.1, 0.2, 0.5, 1.0}) {
    if (end_ms / (step * f) <= 10) return step * f;
  }
  return step;
}

std::string ms_text(double ms) {
  std::string s = fmt::format("{:.3f}", ms);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

void SvgPicture::add_run(std::string_view name, int procs,
                         const std::vector<corun::TraceEvent>& events, const TaskLabels& labels,
                         bool interrupted, const std::vector<CpuSample>& cpu) {
  const TaskHistory h = task_history(events);
  const std::vector<RunSlice> slices = run_slices(events);
  const OffCpu off_cpu(slices, cpu, procs);
  std::int64_t end_ns = std::max<std::int64_t>(1, h.end_ns);
  for (const RunSlice& s : slices) end_ns = std::max(end_ns, s.end_ns);
  const double end_ms = static_cast<double>(end_ns) / 1e6;
  auto x = [&](std::int64_t ns) {
    return kLeft + kPlot * static_cast<double>(std::clamp<std::int64_t>(ns, 0, end_ns)) /
                       static_cast<double>(end_ns);
  };
  auto task_name = [&](std::uint64_t coroutine) {
    const auto it = labels.find(coroutine);
    return it != labels.end() ? it->second.name : fmt::format("G{}", coroutine);
  };
  std::string& o = body_;
  int y = height_ + 24;

  // Summary: the run's numbers, all from its trace.
  std::vector<std::int64_t> busy(static_cast<std::size_t>(procs));
  for (const RunSlice& s : slices) {
    if (s.worker >= 0 && s.worker < procs)
      busy[static_cast<std::size_t>(s.worker)] += s.end_ns - s.start_ns;
  }
  std::int64_t busy_all = 0;
  for (const std::int64_t b : busy) busy_all += b;
  // The most coroutines running, and in progress (spawned, not done), at
  // one instant.
  std::vector<std::pair<std::int64_t, int>> running_edges;
  std::vector<std::pair<std::int64_t, int>> alive_edges;
  for (const TaskTrack& t : h.tasks) {
    alive_edges.emplace_back(t.spawn_ns, 1);
    if (t.exited) alive_edges.emplace_back(t.end_ns, -1);
    for (const StateSpan& s : t.spans) {
      if (s.state != TaskState::kRunning || s.end_ns <= s.start_ns) continue;
      running_edges.emplace_back(s.start_ns, 1);
      running_edges.emplace_back(s.end_ns, -1);
    }
  }
  auto peak = [](std::vector<std::pair<std::int64_t, int>>& edges) {
    std::sort(edges.begin(), edges.end());  // ends (-1) before starts (+1) at one instant
    int now = 0;
    int most = 0;
    for (const auto& [t, d] : edges) most = std::max(most, now += d);
    return most;
  };
  const int most_running = peak(running_edges);
  const int most_alive = peak(alive_edges);
  std::size_t arrows = h.steals.size();
  for (const Wakeup& w : h.wakeups) arrows += w.run_ns >= 0 ? 1 : 0;

  o += fmt::format(R"(<text x="10" y="{}" font-size="15" font-weight="bold">{}{}</text>)"
                   "\n",
                   y, xml(name),
                   interrupted ? " (interrupted by Ctrl-C: drawn up to where it stopped)" : "");
  y += 18;
  o += fmt::format(
      R"(<text x="10" y="{}" font-size="12">{} worker{}, {}, {} ms; workers busy {:.0f}%; at most {} running and {} in progress at once; {} wake-up{}, {} steal{}{}</text>)"
      "\n",
      y, procs, procs == 1 ? "" : "s",
      plural(static_cast<std::int64_t>(h.tasks.size()), "coroutine", "coroutines"),
      format_ms(end_ms),
      100.0 * static_cast<double>(busy_all) / (static_cast<double>(end_ns) * procs), most_running,
      most_alive, arrows - h.steals.size(), arrows - h.steals.size() == 1 ? "" : "s",
      h.steals.size(), h.steals.size() == 1 ? "" : "s",
      arrows > kMaxArrows ? " (too many to draw)" : "");
  y += 14;

  // Worker lanes.
  std::unordered_map<std::uint64_t, double> task_lane_y;  // coroutine -> lane middle
  std::vector<double> worker_lane_y;
  for (int w = 0; w < procs; ++w) {
    o += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="end">P{}</text>)"
                     "\n",
                     kLeft - 6, y + kLane - 4, w);
    o += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>)"
                     "\n",
                     kLeft, y, kPlot, kLane, kIdle);
    worker_lane_y.push_back(y + kLane / 2.0);
    for (const RunSlice& s : slices) {
      if (s.worker != w) continue;
      o += fmt::format(
          R"(<rect x="{:.2f}" y="{}" width="{:.2f}" height="{}" fill="{}" stroke="white" stroke-width="0.5"><title>{} on P{}, {} .. {} ms</title></rect>)"
          "\n",
          x(s.start_ns), y, std::max(2.0, x(s.end_ns) - x(s.start_ns)), kLane, kRunning,
          xml(task_name(s.coroutine)), w, ms_text(static_cast<double>(s.start_ns) / 1e6),
          ms_text(static_cast<double>(s.end_ns) / 1e6));
    }
    // Where its thread held a task but was off the CPU: a bar from the
    // lane's bottom, as high as the off-CPU share of the held time.
    for (const OffCpuStretch& st : off_cpu.stretches(w)) {
      if (st.off_ns <= 0) continue;
      const double high = kLane * std::min(1.0, st.off_share());
      o += fmt::format(
          R"(<rect x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}" fill="{}"><title>P{} held a task but was off the CPU {:.0f}% of that time, {} .. {} ms</title></rect>)"
          "\n",
          x(st.start_ns), y + kLane - high, std::max(0.5, x(st.end_ns) - x(st.start_ns)), high,
          kOffCpu, w, 100.0 * st.off_share(), ms_text(static_cast<double>(st.start_ns) / 1e6),
          ms_text(static_cast<double>(st.end_ns) / 1e6));
    }
    y += kLane + kGap;
  }
  y += 8;

  // Task lanes, or histogram lanes.
  if (h.tasks.size() <= kMaxTaskLanes) {
    for (const TaskTrack& t : h.tasks) {
      o += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>)"
                       "\n",
                       kLeft - 6, y + kLane - 4, xml(task_name(t.coroutine)));
      task_lane_y[t.coroutine] = y + kLane / 2.0;
      // The waits first, then the runs over them: a run narrower than a
      // pixel still shows.
      for (const bool runs : {false, true}) {
        for (const StateSpan& s : t.spans) {
          if ((s.state == TaskState::kRunning) != runs) continue;
          const std::string what =
              s.state == TaskState::kRunning   ? fmt::format("running on P{}", s.worker)
              : s.state == TaskState::kBlocked ? fmt::format("blocked: {}", s.wait)
                                               : std::string(to_string(s.state));
          o += fmt::format(
              R"(<rect x="{:.2f}" y="{}" width="{:.2f}" height="{}" fill="{}"><title>{}: {}, {} .. {} ms</title></rect>)"
              "\n",
              x(s.start_ns), y,
              std::max(s.state == TaskState::kRunning ? 2.0 : 0.3, x(s.end_ns) - x(s.start_ns)),
              kLane, colour(s), xml(task_name(t.coroutine)), xml(what),
              ms_text(static_cast<double>(s.start_ns) / 1e6),
              ms_text(static_cast<double>(s.end_ns) / 1e6));
        }
      }
      y += kLane + kGap;
    }
  } else {
    const Columns cols{end_ns, kPlot / 2};
    const StateCounts counts = state_counts(h, cols);
    static constexpr const char* kColours[] = {kRunning, kRunnable, kSleeping, kBlocked};
    for (std::size_t i = 0; i < StateCounts::kStates.size(); ++i) {
      const auto& row = counts.counts[i];
      const std::uint64_t most = *std::max_element(row.begin(), row.end());
      o += fmt::format(R"(<text x="{}" y="{}" font-size="11" text-anchor="end">{} (max {})</text>)"
                       "\n",
                       kLeft - 6, y + kHistLane - 4, to_string(StateCounts::kStates[i]),
                       with_commas(most));
      o += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#f6f6f6"/>)"
                       "\n",
                       kLeft, y, kPlot, kHistLane);
      for (int c = 0; c < cols.count; ++c) {
        const std::uint64_t n = row[static_cast<std::size_t>(c)];
        if (n == 0) continue;
        const double bar =
            std::max(1.0, kHistLane * static_cast<double>(n) / static_cast<double>(h.tasks.size()));
        o += fmt::format(R"(<rect x="{}" y="{:.2f}" width="2" height="{:.2f}" fill="{}"/>)"
                         "\n",
                         kLeft + 2 * c, y + kHistLane - bar, bar, kColours[i]);
      }
      y += kHistLane + kGap;
    }
  }

  // Arrows.
  if (arrows <= kMaxArrows) {
    for (const Wakeup& w : h.wakeups) {
      if (w.run_ns < 0 || !task_lane_y.contains(w.coroutine)) continue;
      const double to_y = task_lane_y[w.coroutine];
      const double from_y =
          w.waker != 0 && task_lane_y.contains(w.waker) ? task_lane_y[w.waker] : to_y - kLane / 2.0;
      o += fmt::format(
          R"(<line x1="{:.2f}" y1="{:.2f}" x2="{:.2f}" y2="{:.2f}" stroke="{}" stroke-width="1" marker-end='url(#arrow)'><title>{} {} at {} ms, ran at {} ms</title></line>)"
          "\n",
          x(w.time_ns), from_y, x(w.run_ns), to_y, kWake, xml(task_name(w.coroutine)),
          w.waker != 0 ? fmt::format("woken by G{}", w.waker)
                       : (w.timer ? "woken by its timer" : "woken by a thread"),
          ms_text(static_cast<double>(w.time_ns) / 1e6),
          ms_text(static_cast<double>(w.run_ns) / 1e6));
    }
    for (const Steal& s : h.steals) {
      if (s.victim < 0 || s.victim >= procs || s.thief < 0 || s.thief >= procs) continue;
      o += fmt::format(
          R"(<line x1="{:.2f}" y1="{:.2f}" x2="{:.2f}" y2="{:.2f}" stroke="{}" stroke-width="1.5" marker-end='url(#steal)'><title>P{} stole {} from P{} at {} ms</title></line>)"
          "\n",
          x(s.time_ns), worker_lane_y[static_cast<std::size_t>(s.victim)], x(s.time_ns),
          worker_lane_y[static_cast<std::size_t>(s.thief)], kSteal, s.thief, s.count, s.victim,
          ms_text(static_cast<double>(s.time_ns) / 1e6));
    }
  }
  if (interrupted) {
    o += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"/>)"
                     "\n",
                     kLeft + kPlot, height_ + 50, kLeft + kPlot, y, kBlocked);
  }

  // Time axis.
  o += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#000"/>)"
                   "\n",
                   kLeft, y, kLeft + kPlot, y);
  const double step = tick_step(end_ms);
  for (double t = 0; t <= end_ms + 1e-9; t += step) {
    const double tx = kLeft + kPlot * t / end_ms;
    o += fmt::format(R"(<line x1="{:.2f}" y1="{}" x2="{:.2f}" y2="{}" stroke="#000"/>)"
                     R"(<text x="{:.2f}" y="{}" font-size="10" text-anchor="middle">{} ms</text>)"
                     "\n",
                     tx, y, tx, y + 4, tx, y + 15, ms_text(t));
  }
  y += 28;

  // Legend.
  int lx = 10;
  std::vector<std::pair<const char*, const char*>> keys = {
      {kRunning, "running"},
      {kRunnable, "runnable (waiting for a worker)"},
      {kSleeping, "sleeping"},
      {kBlocked, "blocked (channel, WaitGroup, Mutex, select)"},
      {kIdle, "worker idle"}};
  if (off_cpu.known()) keys.emplace_back(kOffCpu, "held a task, off CPU");
  for (const auto& [c, what] : keys) {
    o += fmt::format(R"(<rect x="{}" y="{}" width="12" height="12" fill="{}"/>)"
                     R"(<text x="{}" y="{}" font-size="11">{}</text>)"
                     "\n",
                     lx, y - 10, c, lx + 16, y, xml(what));
    lx += 16 + static_cast<int>(std::string_view(what).size()) * 6 + 14;
  }
  o += fmt::format(
      R"(<text x="10" y="{}" font-size="11">arrows: a wake-up (from the waker, or for a timer from the task's own lane) to the woken task's next run; purple: a steal, victim to thief. Blank lane: not started yet, or done.</text>)"
      "\n",
      y + 16);
  height_ = y + 30;
}

std::string SvgPicture::svg() const {
  return fmt::format(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" font-family="sans-serif">
<defs>
<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{2}"/></marker>
<marker id="steal" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{3}"/></marker>
</defs>
<rect width="100%" height="100%" fill="white"/>
{4}</svg>
)",
      kWidth, std::max(height_, 40), kWake, kSteal, body_);
}

}  // namespace demo
