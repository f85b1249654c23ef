// compare_report.hpp: how `demo compare` shows its rows: the table, the
// speedup bar chart, the conclusions, and the JSON and CSV documents.
//
// The speedup is over procs=1 of the same workload (always measured:
// procs=1 is added when missing) and the efficiency is speedup / procs; a
// speedup needs both rows complete (all --runs). Conclusions are drawn only
// from a complete comparison, and decided from the medians with stated
// thresholds: a speedup counts as faster (or slower) only beyond 10% and
// beyond the spread of the samples ((max - min) / median of either row); in
// between it is "within noise". Memory per task (KiB/task) is shown for the
// sleep-bound rows only: for a few CPU-bound tasks the growth of resident
// memory is the runtime's and the trace's, not the tasks'.
#pragma once

#include <string>
#include <vector>

#include "demo/render/output.hpp"
#include "demo/run/compare_measure.hpp"

namespace demo::compare {

// conclusions() are one line per workload (and one for --threads) that say
// what the rows show.
std::vector<std::string> conclusions(const Settings& s, const std::vector<Row>& rows);

// at_a_glance() is the lesson in a 2x2: sleep-bound and cpu-bound, on 1
// worker and on the most workers measured: the median wall times, and what
// each pair shows (faster, within noise, ... as conclusions() decides it;
// "interrupted" when the comparison is not complete). At most `width`
// columns (0: no limit) when the verdicts fit; else each goes below its row.
std::string at_a_glance(const Settings& s, const std::vector<Row>& rows, bool completed,
                        const Style& style, int width);

// table() is the rows as a table `width` columns wide at most (0: no
// limit), with the notes of the rows under it.
std::string table(const Settings& s, const std::vector<Row>& rows, const Style& style, int width);

// bar_chart() draws the speedups, its lines at most `width` columns wide (0:
// no limit); empty when no speedup was measured.
std::string bar_chart(const std::vector<Row>& rows, const Style& style, int width);

// to_json() and to_csv() are the documents of --format json and csv.
std::string to_json(const Settings& s, const std::vector<Row>& rows,
                    const std::vector<std::string>& lines, bool completed);
std::string to_csv(const Settings& s, const std::vector<Row>& rows,
                   const std::vector<std::string>& lines, bool completed);

}  // namespace demo::compare
