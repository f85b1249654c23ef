// timeline.cpp: see timeline.hpp.
#include "demo/render/timeline.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "demo/render/off_cpu.hpp"
#include "demo/render/state_columns.hpp"
#include "demo/render/task_history.hpp"
#include "demo/render/text.hpp"

namespace demo {

namespace {

// Cell is one column of one worker's row: how long each coroutine ran in
// it (a short list: a column rarely holds more than a few runs).
struct Cell {
  std::vector<std::pair<std::uint64_t, std::int64_t>> ran;  // coroutine, ns

  void add(std::uint64_t coroutine, std::int64_t ns) {
    for (auto& [id, total] : ran) {
      if (id == coroutine) {
        total += ns;
        return;
      }
    }
    ran.emplace_back(coroutine, ns);
  }

  // held() is how long some coroutine ran in the column.
  std::int64_t held() const {
    std::int64_t busy = 0;
    for (const auto& r : ran) busy += r.second;
    return busy;
  }

  // shown() is the coroutine that ran most of the column's busy time (at
  // least half of it), 0 when idle; `several` when no coroutine did.
  std::uint64_t shown(bool& several) const {
    several = false;
    std::int64_t busy = 0;
    std::pair<std::uint64_t, std::int64_t> top{0, -1};
    for (const auto& r : ran) {
      busy += r.second;
      if (r.second > top.second) top = r;
    }
    if (ran.empty()) return 0;
    if (2 * top.second < busy) several = true;
    return top.first;
  }
};

// kMaxLegend is how many tasks the legend names; beyond, symbols repeat
// and the legend says how many more there are.
constexpr std::size_t kMaxLegend = 26;

// Legend lays out items in lines of at most `width` columns.
class Legend {
 public:
  explicit Legend(int width) : width_(static_cast<std::size_t>(width)) {}
  void add(const std::string& item) {
    const std::size_t w = display_width(item);
    if (line_ > 2 && line_ + 3 + w > width_) {
      out_ += "\n  ";
      line_ = 2;
    }
    if (line_ > 2) {
      out_ += "   ";
      line_ += 3;
    }
    out_ += item;
    line_ += w;
  }
  // next_line() starts a new line for what follows.
  void next_line() {
    if (line_ > 2) {
      out_ += "\n  ";
      line_ = 2;
    }
  }
  std::string str() const { return line_ > 2 ? out_ + "\n" : out_.substr(0, out_.size() - 2); }

 private:
  std::size_t width_;
  std::string out_ = "  ";
  std::size_t line_ = 2;
};

std::string task_name(const TaskLabels& labels, std::uint64_t coroutine) {
  const auto it = labels.find(coroutine);
  return it != labels.end() ? it->second.name : fmt::format("G{}", coroutine);
}

// row_label() is a task row's label: its name, cut to 10 columns.
std::string row_label(const TaskLabels& labels, std::uint64_t coroutine) {
  std::string name = task_name(labels, coroutine);
  if (name.size() > 10) name = name.substr(0, 9) + "~";
  return name;
}

// compact() is a count in at most 5 columns: 9999, 10k, 1.2M.
std::string compact(std::uint64_t n) {
  if (n < 10'000) return std::to_string(n);
  if (n < 1'000'000) return fmt::format("{}k", n / 1000);
  return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
}

// level() is a histogram cell: blank for 0, else one of 8 heights (digits
// 1..9 without UTF-8), in proportion to `total`.
std::string level(std::uint64_t count, std::uint64_t total, bool unicode) {
  if (count == 0) return " ";
  static constexpr const char* kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const int steps = unicode ? 8 : 9;
  const auto h = static_cast<int>(
      std::clamp<std::uint64_t>((count * steps + total - 1) / std::max<std::uint64_t>(total, 1), 1,
                                static_cast<std::uint64_t>(steps)));
  return unicode ? kBlocks[h - 1] : std::string(1, static_cast<char>('0' + h));
}

}  // namespace

std::string render_timeline(const std::vector<corun::TraceEvent>& events, const TaskLabels& labels,
                            const TimelineOptions& opts, const Style& style) {
  const std::vector<RunSlice> slices = run_slices(events);
  const TaskHistory history = task_history(events);
  std::int64_t end_ns = std::max<std::int64_t>(1, history.end_ns);
  for (const RunSlice& s : slices) end_ns = std::max(end_ns, s.end_ns);
  const bool task_rows = history.tasks.size() <= kMaxTaskRows;

  std::size_t label_width = fmt::format("P{}", opts.procs - 1).size();
  if (task_rows) {
    for (const TaskTrack& t : history.tasks) {
      label_width = std::max(label_width, row_label(labels, t.coroutine).size());
    }
  } else if (!history.tasks.empty()) {
    label_width = std::max(label_width, std::string_view("runnable").size());
  }
  label_width += 4;  // "  " before, " |" after
  const OffCpu off_cpu = opts.cpu != nullptr ? OffCpu(slices, *opts.cpu, opts.procs) : OffCpu();
  const int figures = off_cpu.known() ? 12 : 7;  // "| 100%", and " ~100%"
  const int cols_count = std::max(10, opts.width - static_cast<int>(label_width) - figures);
  const Columns cols{end_ns, cols_count};
  auto label = [&](std::string_view text) {
    return fmt::format("{:>{}} |", text, label_width - 2);
  };

  // Worker rows.
  std::vector<std::vector<Cell>> rows(static_cast<std::size_t>(opts.procs),
                                      std::vector<Cell>(static_cast<std::size_t>(cols.count)));
  std::vector<std::int64_t> busy_ns(static_cast<std::size_t>(opts.procs));
  bool several = false;
  bool unknown = false;
  bool off_shown = false;
  for (const RunSlice& s : slices) {
    if (s.worker < 0 || s.worker >= opts.procs) continue;
    busy_ns[static_cast<std::size_t>(s.worker)] += s.end_ns - s.start_ns;
    const int first = cols.of(s.start_ns);
    const int last = cols.of(std::max(s.end_ns - 1, s.start_ns));
    for (int c = first; c <= last; ++c) {
      // The part of the run inside column c (at least 1 ns: a zero-length
      // run still shows).
      const std::int64_t col_end = c + 1 < cols.count ? cols.start_of(c + 1) : end_ns;
      const std::int64_t ns = std::max<std::int64_t>(
          1, std::min(s.end_ns, col_end) - std::max(s.start_ns, cols.start_of(c)));
      rows[static_cast<std::size_t>(s.worker)][static_cast<std::size_t>(c)].add(s.coroutine, ns);
    }
  }

  std::string title = fmt::format(
      "{}: {} worker{}, {}, 0 .. {} ms, {} ms per column", opts.title, opts.procs,
      opts.procs == 1 ? "" : "s",
      plural(static_cast<std::int64_t>(history.tasks.size()), "coroutine", "coroutines"),
      format_ms(static_cast<double>(end_ns) / 1e6),
      fmt::format("{:.2g}", cols.ns_per_column() / 1e6));
  std::string out = style.bold(title) + "\n";
  if (opts.interrupted) {
    out += fmt::format("(interrupted by Ctrl-C: drawn up to {} ms, where the run stopped)\n",
                       format_ms(static_cast<double>(end_ns) / 1e6));
  }
  for (int w = 0; w < opts.procs; ++w) {
    std::string row = label(fmt::format("P{}", w));
    for (int c = 0; c < cols.count; ++c) {
      const Cell& cell = rows[static_cast<std::size_t>(w)][static_cast<std::size_t>(c)];
      bool mixed = false;
      const std::uint64_t coroutine = cell.shown(mixed);
      const std::int64_t col_end = c + 1 < cols.count ? cols.start_of(c + 1) : end_ns;
      if (coroutine != 0 && off_cpu.known() &&
          2 * off_cpu.off_ns(w, cols.start_of(c), col_end) > static_cast<double>(cell.held())) {
        row += style.bold(std::string(1, kCellOffCpu));
        off_shown = true;
      } else if (coroutine == 0) {
        row += style.dim(".");
      } else if (mixed) {
        row += '*';
        several = true;
      } else if (auto it = labels.find(coroutine); it != labels.end()) {
        row += style.task(std::string(1, it->second.symbol), it->second.index);
      } else {
        row += '?';
        unknown = true;
      }
    }
    const double busy = 100.0 * static_cast<double>(busy_ns[static_cast<std::size_t>(w)]) /
                        static_cast<double>(end_ns);
    const std::string off =
        off_cpu.known() ? fmt::format(" ~{:>3.0f}%", 100.0 * off_cpu.off_share(w)) : "";
    out += fmt::format("{}| {:>3.0f}%{}\n", row, std::min(busy, 100.0), off);
  }

  // Task rows, or histogram rows.
  std::set<char> waits;  // the wait symbols drawn
  const bool unicode = unicode_ok();
  if (task_rows) {
    for (const TaskTrack& t : history.tasks) {
      std::string row = label(row_label(labels, t.coroutine));
      const auto it = labels.find(t.coroutine);
      const std::size_t colour = it != labels.end() ? it->second.index : t.coroutine;
      std::int64_t ran = 0;
      for (const StateSpan& s : t.spans) {
        if (s.state == TaskState::kRunning) ran += s.end_ns - s.start_ns;
      }
      for (const char c : task_cells(t, cols)) {
        if (c >= '0' && c <= '9') {
          row += style.task(std::string(1, c), colour);
        } else if (c == '#') {
          row += style.task("#", colour);
        } else {
          if (c != kCellRunnable && c != kCellAbsent) waits.insert(c);
          row += c == kCellAbsent ? std::string(1, c) : style.dim(std::string(1, c));
        }
      }
      const double share = 100.0 * static_cast<double>(ran) / static_cast<double>(end_ns);
      out += fmt::format("{}| {:>3.0f}%\n", row, std::min(share, 100.0));
    }
  } else {
    const StateCounts counts = state_counts(history, cols);
    for (std::size_t i = 0; i < StateCounts::kStates.size(); ++i) {
      const auto& row_counts = counts.counts[i];
      const std::uint64_t peak = *std::max_element(row_counts.begin(), row_counts.end());
      if (peak == 0 && StateCounts::kStates[i] == TaskState::kBlocked) continue;
      std::string row = label(to_string(StateCounts::kStates[i]));
      for (const std::uint64_t n : row_counts) row += level(n, history.tasks.size(), unicode);
      out += fmt::format("{}| {:>4}\n", row, compact(peak));
    }
  }
  const std::string end_label = format_ms(static_cast<double>(end_ns) / 1e6) + " ms";
  const std::string start_label = "0 ms";
  const int gap = cols.count - static_cast<int>(start_label.size() + end_label.size());
  out += std::string(label_width, ' ') + style.dim(start_label) +
         std::string(static_cast<std::size_t>(std::max(1, gap)), ' ') + style.dim(end_label) +
         (off_cpu.known() ? "   busy ~off\n" : "   busy\n");

  // Legend: the tasks' symbols in the worker rows, then the task rows'
  // symbols and rule.
  Legend legend(opts.width);
  std::map<std::uint64_t, const TaskLabel*> shown;  // by coroutine id: spawn order
  for (const RunSlice& s : slices) {
    if (auto it = labels.find(s.coroutine); it != labels.end()) shown[s.coroutine] = &it->second;
  }
  // With state rows (many tasks), the worker rows' symbols matter less:
  // fewer are named.
  const std::size_t max_legend = task_rows ? kMaxLegend : kMaxLegend / 3;
  std::size_t listed = 0;
  for (const auto& [id, l] : shown) {
    if (listed++ == max_legend) break;
    legend.add(
        fmt::format("{} {} (G{})", style.task(std::string(1, l->symbol), l->index), l->name, id));
  }
  if (shown.size() > max_legend) {
    legend.add(fmt::format("... {} more tasks (symbols repeat)", shown.size() - max_legend));
  }
  std::size_t preempted = 0;
  for (const RunSlice& s : slices) preempted += s.reason == corun::StopReason::kPreempt ? 1 : 0;
  if (preempted > 0) {
    legend.add(
        fmt::format("{} (a letter gives way where its time slice ran out)",
                    plural(static_cast<std::int64_t>(preempted), "preemption", "preemptions")));
  }
  if (several) legend.add("* several tasks, none for most of the column");
  if (unknown) legend.add("? other coroutines");
  legend.add(style.dim(".") + " idle");
  if (off_shown) {
    legend.add(
        fmt::format("{} held a task but off the CPU most of the column (the OS ran another thread)",
                    style.bold(std::string(1, kCellOffCpu))));
  }
  if (off_cpu.known()) {
    legend.add("~N%: the share of its busy time the worker's thread was off the CPU");
  }
  if (off_cpu.cut()) {
    legend.add("(off-CPU marks end where a blocking call handed a worker to another thread)");
  }
  legend.next_line();
  std::string rule;
  if (task_rows && !history.tasks.empty()) {
    const int top = std::min(opts.procs, 10) - 1;
    legend.add(top == 0 ? std::string("0 running on P0")
                        : fmt::format("0-{} running on that worker (P0-P{})", top, top));
    if (opts.procs > 10) legend.add("# running on P10 or above");
    legend.add("- runnable (waiting for a worker)");
    static constexpr std::pair<char, const char*> kWaits[] = {
        {'z', "sleeping"},          {'c', "blocked on a channel"}, {'s', "in select"},
        {'w', "in WaitGroup.wait"}, {'m', "waiting for a Mutex"},  {'b', "blocked"}};
    for (const auto& [c, what] : kWaits) {
      if (waits.contains(c)) legend.add(fmt::format("{} {}", c, what));
    }
    legend.add("blank: not started or done");
    rule =
        "A task's column shows it running if it ran there at all, else runnable if it waited "
        "for a worker, else its longest wait; on the right, the share of the run it ran.";
  } else if (!task_rows) {
    rule = fmt::format(
        "State rows: how many of the {} coroutines were in each state at some time in the "
        "column (the height is their share of all; right: the most in one column).",
        with_commas(history.tasks.size()));
  }
  std::string text = out + legend.str();
  if (!rule.empty()) text += wrap("  " + rule, opts.width) + "\n";
  return text;
}

}  // namespace demo
