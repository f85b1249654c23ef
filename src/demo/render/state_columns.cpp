// state_columns.cpp: see state_columns.hpp.
#include "demo/render/state_columns.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

namespace demo {

std::int64_t Columns::start_of(int c) const {
  return static_cast<std::int64_t>(std::llround(c * ns_per_column()));
}

int Columns::of(std::int64_t ns) const {
  auto c = static_cast<int>(static_cast<double>(ns) / ns_per_column());
  // Rounding: the column is the one whose [start, next start) holds ns.
  while (c > 0 && start_of(c) > ns) --c;
  while (c + 1 < count && start_of(c + 1) <= ns) ++c;
  return std::clamp(c, 0, count - 1);
}

char running_symbol(int worker) {
  return worker >= 0 && worker <= 9 ? static_cast<char>('0' + worker) : '#';
}

char wait_symbol(const char* wait) {
  const std::string_view w = wait != nullptr ? wait : "";
  if (w.starts_with("chan")) return 'c';
  if (w.starts_with("select")) return 's';
  if (w.starts_with("WaitGroup")) return 'w';
  if (w.starts_with("Mutex")) return 'm';
  return 'b';
}

namespace {

// for_columns() calls f(column, ns inside it) for each column span s
// touches; a span of no length touches the column of its start.
template <typename F>
void for_columns(const StateSpan& s, const Columns& cols, F&& f) {
  const int first = cols.of(s.start_ns);
  const int last = s.end_ns > s.start_ns ? cols.of(s.end_ns - 1) : first;
  for (int c = first; c <= last; ++c) {
    const std::int64_t from = std::max(s.start_ns, cols.start_of(c));
    const std::int64_t to =
        std::min(s.end_ns, c + 1 < cols.count ? cols.start_of(c + 1) : s.end_ns);
    f(c, std::max<std::int64_t>(0, to - from));
  }
}

}  // namespace

std::string task_cells(const TaskTrack& t, const Columns& cols) {
  const auto n = static_cast<std::size_t>(cols.count);
  // Per column: rank of the state shown (3 running, 2 runnable, 1 waiting),
  // its symbol and how long it lasted there (the longest wins a tie of rank).
  std::vector<int> rank(n, 0);
  std::vector<std::int64_t> length(n, -1);
  std::string cells(n, kCellAbsent);
  for (const StateSpan& s : t.spans) {
    int r = 1;
    char symbol = kCellSleeping;
    switch (s.state) {
      case TaskState::kRunning:
        r = 3;
        symbol = running_symbol(s.worker);
        break;
      case TaskState::kRunnable:
        r = 2;
        symbol = kCellRunnable;
        break;
      case TaskState::kSleeping:
        break;
      case TaskState::kBlocked:
        symbol = wait_symbol(s.wait);
        break;
    }
    // Runs on one worker in one column add up (a task preempted and
    // resumed on the same worker); other states compare span by span.
    for_columns(s, cols, [&](int c, std::int64_t ns) {
      const auto i = static_cast<std::size_t>(c);
      if (r == 3 && rank[i] == 3 && cells[i] == symbol) {
        length[i] += ns;
      } else if (r > rank[i] || (r == rank[i] && ns > length[i])) {
        rank[i] = r;
        length[i] = ns;
        cells[i] = symbol;
      }
    });
  }
  return cells;
}

StateCounts state_counts(const TaskHistory& h, const Columns& cols) {
  StateCounts out;
  for (auto& row : out.counts) row.assign(static_cast<std::size_t>(cols.count), 0);
  std::vector<int> seen(static_cast<std::size_t>(cols.count) * 4, -1);  // last task counted
  int task = 0;
  for (const TaskTrack& t : h.tasks) {
    for (const StateSpan& s : t.spans) {
      const auto row = static_cast<std::size_t>(
          std::find(StateCounts::kStates.begin(), StateCounts::kStates.end(), s.state) -
          StateCounts::kStates.begin());
      for_columns(s, cols, [&](int c, std::int64_t) {
        int& last = seen[static_cast<std::size_t>(c) * 4 + row];
        if (last == task) return;
        last = task;
        ++out.counts[row][static_cast<std::size_t>(c)];
      });
    }
    ++task;
  }
  return out;
}

}  // namespace demo
