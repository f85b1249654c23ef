// state_columns.hpp: a run's time cut into equal columns, and what each
// task did in each column: the cells of the timeline's task rows and of its
// histogram rows (how many tasks were in each state in each column).
//
// The rule for a column that holds several states of one task: running
// beats runnable, which beats waiting (sleeping or blocked; the longest
// wait shows), which beats not started / done. So a task that ran in a
// column always shows as running there, on the worker where it ran longest.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "demo/render/task_history.hpp"

namespace demo {

// Columns is [0, end_ns) cut into `count` columns.
struct Columns {
  std::int64_t end_ns = 1;
  int count = 1;

  double ns_per_column() const { return static_cast<double>(end_ns) / count; }
  std::int64_t start_of(int c) const;
  // of() is the column holding time `ns` (clamped to the picture).
  int of(std::int64_t ns) const;
};

// Cell symbols of a task row.
inline constexpr char kCellRunnable = '-';
inline constexpr char kCellSleeping = 'z';
inline constexpr char kCellAbsent = ' ';  // not started yet, or done
char running_symbol(int worker);          // '0'..'9' for P0..P9, '#' beyond
char wait_symbol(const char* wait);       // c: channel, s: select, w: WaitGroup, m: Mutex, b: other

// task_cells() is one character per column for task `t` (the rule above).
std::string task_cells(const TaskTrack& t, const Columns& cols);

// StateCounts is, per column, how many tasks were in a state at some time
// in it (a task that ran and slept in one column counts in both rows).
struct StateCounts {
  static constexpr std::array<TaskState, 4> kStates = {TaskState::kRunning, TaskState::kRunnable,
                                                       TaskState::kSleeping, TaskState::kBlocked};
  std::array<std::vector<std::uint64_t>, 4> counts;  // by kStates' order, then column
};

StateCounts state_counts(const TaskHistory& h, const Columns& cols);

}  // namespace demo
