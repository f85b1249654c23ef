// server_report.hpp: what `demo server` concludes from its run, and the
// run as JSON and CSV.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "demo/commands/server_workload.hpp"

namespace demo {

// ServerOutcome is the run's figures. Those computed from the run's timing
// (rate, latency, peak, overlap) are left empty for a run that Ctrl-C cut
// short: nothing is concluded from unfinished work.
struct ServerOutcome {
  bool completed = true;
  int requests_done = 0;
  double wall_ms = 0;           // from the runtime's start to the last answer
  double first_request_ms = 0;  // when the first request was sent
  double serving_ms = 0;        // from the first request sent to the last answer
  double backend_ms = 0;        // the sum of the answered requests' backend waits
  std::set<int> handler_workers;
  std::optional<double> requests_per_s;
  std::optional<double> latency_min_ms, latency_median_ms, latency_max_ms;
  std::optional<int> peak_in_progress;
  std::optional<double> overlap;  // backend / serving
  std::string summary;
};

ServerOutcome summarize_server(const ServerSettings& s, const ServerRun& run, std::int64_t wall_ns,
                               bool completed);

std::string server_json(const ServerSettings& s, const ServerRun& run, const ServerOutcome& o);
std::string server_csv(const ServerSettings& s, const ServerRun& run, const ServerOutcome& o);

}  // namespace demo
