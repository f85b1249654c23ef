// timeline.cpp: see timeline.hpp.
#include "demo/render/timeline.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

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

std::string legend(const std::vector<RunSlice>& slices, const TaskLabels& labels, bool several,
                   bool unknown, int width, const Style& style) {
  std::map<std::uint64_t, const TaskLabel*> shown;  // by coroutine id: spawn order
  for (const RunSlice& s : slices) {
    if (auto it = labels.find(s.coroutine); it != labels.end()) shown[s.coroutine] = &it->second;
  }
  std::vector<std::string> items;
  std::size_t listed = 0;
  for (const auto& [id, label] : shown) {
    if (listed++ == kMaxLegend) break;
    items.push_back(fmt::format(
        "{} {} (G{})", style.task(std::string(1, label->symbol), label->index), label->name, id));
  }
  if (shown.size() > kMaxLegend) {
    items.push_back(fmt::format("... {} more tasks (symbols repeat)", shown.size() - kMaxLegend));
  }
  std::size_t preempted = 0;
  for (const RunSlice& s : slices) preempted += s.reason == corun::StopReason::kPreempt ? 1 : 0;
  if (preempted > 0) {
    items.push_back(
        fmt::format("{} (a letter gives way where its time slice ran out)",
                    plural(static_cast<std::int64_t>(preempted), "preemption", "preemptions")));
  }
  if (several) items.emplace_back("* several tasks, none for most of the column");
  if (unknown) items.emplace_back("? other coroutines");
  items.push_back(style.dim(".") + " idle");

  std::string out = "  ";
  std::size_t line_width = 2;
  for (const std::string& item : items) {
    const std::size_t w = display_width(item);
    if (line_width > 2 && line_width + 3 + w > static_cast<std::size_t>(width)) {
      out += "\n  ";
      line_width = 2;
    }
    if (line_width > 2) {
      out += "   ";
      line_width += 3;
    }
    out += item;
    line_width += w;
  }
  return out + "\n";
}

}  // namespace

std::string render_timeline(const std::vector<RunSlice>& slices, const TaskLabels& labels,
                            const TimelineOptions& opts, const Style& style) {
  std::int64_t end_ns = 1;
  for (const RunSlice& s : slices) end_ns = std::max(end_ns, s.end_ns);

  const std::string row_label_example = fmt::format("  P{} |", opts.procs - 1);
  const int label_width = static_cast<int>(row_label_example.size());
  const int cols = std::max(10, opts.width - label_width - 7);  // 7: "| 100%"
  const double ns_per_col = static_cast<double>(end_ns) / cols;

  std::vector<std::vector<Cell>> rows(static_cast<std::size_t>(opts.procs),
                                      std::vector<Cell>(static_cast<std::size_t>(cols)));
  std::vector<std::int64_t> busy_ns(static_cast<std::size_t>(opts.procs));
  bool several = false;
  bool unknown = false;
  for (const RunSlice& s : slices) {
    if (s.worker < 0 || s.worker >= opts.procs) continue;
    busy_ns[static_cast<std::size_t>(s.worker)] += s.end_ns - s.start_ns;
    const auto first = static_cast<int>(static_cast<double>(s.start_ns) / ns_per_col);
    const auto last =
        static_cast<int>(static_cast<double>(std::max(s.end_ns - 1, s.start_ns)) / ns_per_col);
    for (int c = std::clamp(first, 0, cols - 1); c <= std::clamp(last, 0, cols - 1); ++c) {
      // The part of the run inside column c (at least 1 ns: a zero-length
      // run still shows).
      const auto col_start = static_cast<std::int64_t>(c * ns_per_col);
      const auto col_end = static_cast<std::int64_t>((c + 1) * ns_per_col);
      const std::int64_t ns =
          std::max<std::int64_t>(1, std::min(s.end_ns, col_end) - std::max(s.start_ns, col_start));
      rows[static_cast<std::size_t>(s.worker)][static_cast<std::size_t>(c)].add(s.coroutine, ns);
    }
  }

  std::string out = style.bold(fmt::format("{}: {} worker{}, 0 .. {} ms, {} ms per column",
                                           opts.title, opts.procs, opts.procs == 1 ? "" : "s",
                                           format_ms(static_cast<double>(end_ns) / 1e6),
                                           fmt::format("{:.2g}", ns_per_col / 1e6)));
  out += "\n";
  for (int w = 0; w < opts.procs; ++w) {
    std::string row = fmt::format("{:>{}} |", fmt::format("P{}", w), label_width - 2);
    for (const Cell& cell : rows[static_cast<std::size_t>(w)]) {
      bool mixed = false;
      const std::uint64_t coroutine = cell.shown(mixed);
      if (coroutine == 0) {
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
    out += fmt::format("{}| {:>3.0f}%\n", row, std::min(busy, 100.0));
  }
  const std::string end_label = format_ms(static_cast<double>(end_ns) / 1e6) + " ms";
  const std::string start_label = "0 ms";
  const int gap = cols - static_cast<int>(start_label.size() + end_label.size());
  out += std::string(static_cast<std::size_t>(label_width), ' ') + style.dim(start_label) +
         std::string(static_cast<std::size_t>(std::max(1, gap)), ' ') + style.dim(end_label) +
         "   busy\n";
  out += legend(slices, labels, several, unknown, opts.width, style);
  return out;
}

}  // namespace demo
