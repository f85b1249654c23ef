// narration.cpp: see narration.hpp.
#include "demo/render/narration.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

#include "demo/render/task_history.hpp"
#include "demo/render/text.hpp"

namespace demo {

namespace {

// kWaitWorth is the shortest wait for a worker worth telling (shorter ones
// are the scheduler's own switching time).
constexpr std::int64_t kWaitWorth = 50'000;  // ns

std::string ms(std::int64_t ns) {
  const double v = static_cast<double>(ns) / 1e6;
  return v < 1.0 ? fmt::format("{:.3f} ms", v) : fmt::format("{:.1f} ms", v);
}

// Told is one run of a task, told as one line; `key` is the line without
// its numbers, to find repetition.
struct Told {
  std::int64_t start_ns = 0;
  std::string line;
  std::string key;
};

struct Run {
  const TaskTrack* task;
  std::size_t span;  // index in task->spans
};

}  // namespace

std::string narrate(const std::vector<corun::TraceEvent>& events, const TaskLabels& labels,
                    const NarrationOptions& opts) {
  const TaskHistory h = task_history(events);
  auto name = [&](std::uint64_t coroutine) {
    const auto it = labels.find(coroutine);
    return it != labels.end() ? it->second.name : fmt::format("G{}", coroutine);
  };
  std::string out = fmt::format(
      "{}, told from its trace{}:\n", opts.title,
      opts.interrupted
          ? fmt::format(" (interrupted by Ctrl-C at {}: told up to there)", ms(h.end_ns))
          : "");
  if (h.tasks.empty()) return out + "  Nothing ran.\n";

  // The start.
  std::int64_t first_spawn = h.tasks.front().spawn_ns;
  std::int64_t last_spawn = first_spawn;
  for (const TaskTrack& t : h.tasks) last_spawn = std::max(last_spawn, t.spawn_ns);
  out += fmt::format(
      "  {} start{} {}, on {}. A task waits in a queue (runnable) until a worker is free to "
      "run it.\n",
      plural(static_cast<std::int64_t>(h.tasks.size()), "task", "tasks"),
      h.tasks.size() == 1 ? "s" : "",
      first_spawn == last_spawn ? fmt::format("at {}", ms(first_spawn))
                                : fmt::format("between {} and {}", ms(first_spawn), ms(last_spawn)),
      plural(opts.procs, "worker", "workers"));

  // Every run, in time order.
  std::vector<Run> runs;
  for (const TaskTrack& t : h.tasks) {
    for (std::size_t i = 0; i < t.spans.size(); ++i) {
      if (t.spans[i].state == TaskState::kRunning) runs.push_back({&t, i});
    }
  }
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) {
    return a.task->spans[a.span].start_ns < b.task->spans[b.span].start_ns;
  });
  // The wake-up that led to each run: by coroutine and the run's start.
  std::map<std::pair<std::uint64_t, std::int64_t>, const Wakeup*> woke_for;
  for (const Wakeup& w : h.wakeups) {
    if (w.run_ns >= 0) woke_for[{w.coroutine, w.run_ns}] = &w;
  }
  std::vector<Told> told;
  for (const Run& r : runs) {
    const StateSpan& s = r.task->spans[r.span];
    std::string line = name(r.task->coroutine);
    std::string key = line;
    // What came before: what ended its wait, and a wait for a worker.
    if (r.span > 0 && r.task->spans[r.span - 1].state == TaskState::kRunnable) {
      const StateSpan& queued = r.task->spans[r.span - 1];
      const auto wake = woke_for.find({r.task->coroutine, s.start_ns});
      const Wakeup* wk = wake != woke_for.end() ? wake->second : nullptr;
      const TaskState before = r.span > 1 ? r.task->spans[r.span - 2].state : TaskState::kRunnable;
      if (before == TaskState::kSleeping || (wk != nullptr && wk->timer)) {
        const bool timeout = before == TaskState::kBlocked;
        line += fmt::format(", {} at {},", timeout ? "its wait timed out" : "its timer fired",
                            ms(queued.start_ns));
        key += timeout ? ", its wait timed out," : ", its timer fired,";
      } else if (before == TaskState::kBlocked) {
        const std::string by = wk != nullptr && wk->waker != 0 ? "by " + name(wk->waker) + " "
                               : wk != nullptr                 ? "by a thread "
                                                               : "";
        line += fmt::format(", woken {}at {},", by, ms(queued.start_ns));
        key += fmt::format(", woken {},", by);
      }
      if (queued.end_ns - queued.start_ns >= kWaitWorth) {
        line += fmt::format(" waits {} for a worker, then", ms(queued.end_ns - queued.start_ns));
        key += " waits for a worker, then";
      }
    }
    line += fmt::format(" runs on P{} for {}", s.worker, ms(s.end_ns - s.start_ns));
    key += fmt::format(" runs on P{} for", s.worker);
    // Who else ran at the same time.
    std::set<std::pair<std::string, int>> beside;
    for (const Run& o : runs) {
      const StateSpan& os = o.task->spans[o.span];
      if (o.task == r.task || os.worker == s.worker) continue;
      if (os.start_ns < s.end_ns && s.start_ns < os.end_ns) {
        beside.emplace(name(o.task->coroutine), os.worker);
      }
    }
    if (!beside.empty()) {
      std::string list;
      for (const auto& [n, w] : beside) {
        list += fmt::format("{}{} (P{})", list.empty() ? "" : ", ", n, w);
        if (list.size() > 60) {
          list += ", ...";
          break;
        }
      }
      line += " at the same time as " + list;
      key += " at the same time as " + list;
    }
    line += "; then ";
    key += "; then ";
    std::string then;
    const bool last = r.span + 1 == r.task->spans.size();
    const StateSpan* next = last ? nullptr : &r.task->spans[r.span + 1];
    if (next != nullptr && next->state == TaskState::kSleeping) {
      const bool woke = r.span + 2 < r.task->spans.size() || r.task->exited;
      then = woke ? fmt::format("it sleeps for {}: P{} is free for others",
                                ms(next->end_ns - next->start_ns), s.worker)
                  : fmt::format("it sleeps: P{} is free for others", s.worker);
      key += "sleeps";
    } else if (next != nullptr && next->state == TaskState::kBlocked) {
      then = fmt::format("it waits ({}): P{} is free for others", next->wait, s.worker);
      key += then;
    } else if (s.why == corun::StopReason::kPreempt) {
      then = "its time slice is used up: it goes back to the queue";
      key += then;
    } else if (s.why == corun::StopReason::kYield) {
      then = "it yields to the others";
      key += then;
    } else if (s.why == corun::StopReason::kExit) {
      then = "it is done";
      key += then;
    } else {
      then = "it is still running where the trace ends";
      key += then;
    }
    told.push_back({s.start_ns, line + then + ".", key});
  }

  // Repetition: a block of p lines followed by blocks with the same lines
  // (in any order) is told once, then counted.
  std::size_t lines = 0;
  std::size_t i = 0;
  while (i < told.size()) {
    std::size_t best_p = 1;
    std::size_t best_k = 1;
    for (std::size_t p = 1; p <= 8 && i + p <= told.size(); ++p) {
      std::multiset<std::string> block;
      for (std::size_t j = i; j < i + p; ++j) block.insert(told[j].key);
      std::size_t k = 1;
      while (i + (k + 1) * p <= told.size()) {
        std::multiset<std::string> next;
        for (std::size_t j = i + k * p; j < i + (k + 1) * p; ++j) next.insert(told[j].key);
        if (next != block) break;
        ++k;
      }
      // Told as a repetition only when it saves at least two lines.
      if (k > 1 && (k - 1) * p >= 2 && p * k > best_p * best_k) {
        best_p = p;
        best_k = k;
      }
    }
    if (lines >= kMaxNarratedLines) {
      out += fmt::format("  ... and {} more runs, to {}.\n", told.size() - i, ms(h.end_ns));
      break;
    }
    for (std::size_t j = i; j < i + best_p; ++j) {
      out += fmt::format("  {:>9}  {}\n", ms(told[j].start_ns), told[j].line);
      ++lines;
    }
    if (best_k > 1) {
      const std::size_t more = (best_k - 1) * best_p;
      const Told& end = told[i + best_k * best_p - 1];
      out += fmt::format("  ... the same {} more time{} ({}), the last from {}.\n", best_k - 1,
                         best_k == 2 ? "" : "s",
                         plural(static_cast<std::int64_t>(more), "run", "runs"), ms(end.start_ns));
      ++lines;
    }
    i += best_p * best_k;
  }

  // What it shows.
  std::vector<std::pair<std::int64_t, int>> running_edges;
  std::vector<std::pair<std::int64_t, int>> progress_edges;  // first run .. done
  std::int64_t waiting_ns = 0;
  std::int64_t running_ns = 0;
  bool interleaved = false;  // a started task waited while another ran
  for (const TaskTrack& t : h.tasks) {
    std::int64_t first_run = -1;
    for (const StateSpan& s : t.spans) {
      const std::int64_t d = s.end_ns - s.start_ns;
      if (s.state == TaskState::kRunning) {
        if (first_run < 0) first_run = s.start_ns;
        running_ns += d;
        if (d > 0) {
          running_edges.emplace_back(s.start_ns, 1);
          running_edges.emplace_back(s.end_ns, -1);
        }
      } else if (s.state != TaskState::kRunnable) {
        waiting_ns += d;
      }
    }
    if (first_run >= 0 && t.end_ns > first_run) {
      progress_edges.emplace_back(first_run, 1);
      progress_edges.emplace_back(t.end_ns, -1);
    }
  }
  auto peak = [](std::vector<std::pair<std::int64_t, int>>& edges) {
    std::sort(edges.begin(), edges.end());
    int now = 0;
    int most = 0;
    for (const auto& [t, d] : edges) most = std::max(most, now += d);
    return most;
  };
  const int most_running = peak(running_edges);
  const int most_progress = peak(progress_edges);
  for (const TaskTrack& t : h.tasks) {
    std::int64_t first_run = -1;
    for (const StateSpan& s : t.spans) {
      if (s.state == TaskState::kRunning) {
        if (first_run < 0) first_run = s.start_ns;
        continue;
      }
      if (first_run < 0 || s.end_ns <= s.start_ns) continue;
      for (const TaskTrack& o : h.tasks) {
        if (&o == &t) continue;
        for (const StateSpan& os : o.spans) {
          if (os.state == TaskState::kRunning && os.start_ns < s.end_ns && s.start_ns < os.end_ns) {
            interleaved = true;
          }
        }
      }
    }
  }

  std::string verdict;
  if (most_running >= 2 && interleaved) {
    verdict = fmt::format(
        "both: parallelism (up to {} tasks ran at the same instant, on different workers) and "
        "concurrency (a started task waited, sleeping or queued, while another ran)",
        most_running);
  } else if (most_running >= 2) {
    verdict = fmt::format(
        "parallelism: up to {} tasks ran at the same instant, on different workers", most_running);
  } else if (most_progress >= 2) {
    verdict = fmt::format(
        "concurrency without parallelism: up to {} tasks were in progress at once, but only "
        "one ran at any instant",
        most_progress);
  } else {
    verdict = "neither concurrency nor parallelism: each task ran to its end before the next began";
  }
  out += fmt::format("  What it shows: {}.\n", verdict);
  // More workers can save at most the time a task waited for one: the
  // longest such wait of any one task bounds what the run could gain.
  const std::int64_t total = std::max<std::int64_t>(1, h.end_ns);
  std::int64_t longest_wait = 0;
  std::string longest_task;
  for (const TaskTrack& t : h.tasks) {
    std::int64_t queued = 0;
    for (const StateSpan& s : t.spans) {
      if (s.state == TaskState::kRunnable) queued += s.end_ns - s.start_ns;
    }
    if (queued > longest_wait) {
      longest_wait = queued;
      longest_task = name(t.coroutine);
    }
  }
  if (longest_wait * 10 > total) {
    out += fmt::format(
        "  With more workers: {} waited {} in all for a worker ({:.0f}% of the run); with {} "
        "workers no task would have had to wait, so the run could end up to that much sooner.\n",
        longest_task, ms(longest_wait),
        100.0 * static_cast<double>(longest_wait) / static_cast<double>(total),
        std::max(most_progress, opts.procs + 1));
  } else {
    out += fmt::format(
        "  With more workers: little would change: no task waited more than {} in all for a "
        "worker; the tasks spent {} sleeping or blocked and {} running, and a worker does not "
        "make a timer fire sooner.\n",
        ms(longest_wait), ms(waiting_ns), ms(running_ns));
  }
  return out;
}

}  // namespace demo
