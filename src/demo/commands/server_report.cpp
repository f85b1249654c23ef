// server_report.cpp: see server_report.hpp.
#include "demo/commands/server_report.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <vector>

#include "corun/corun.hpp"
#include "demo/render/text.hpp"

namespace demo {

namespace {

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string workers_serving(int procs) {
  return procs == 1 ? "One worker" : fmt::format("{} workers", procs);
}

// verdict() says from the figures whether the backend waits overlapped.
std::string verdict(const ServerSettings& s, const ServerOutcome& o) {
  if (o.requests_done < 2) return "A single request has nothing to overlap with.";
  if (s.backend.count() == 0) return "No backend wait (--backend 0): nothing to overlap.";
  if (s.clients == 1) {
    return "One client sends one request at a time: nothing to overlap (try --clients 8).";
  }
  const int peak = o.peak_in_progress.value_or(0);
  const auto workers_used = static_cast<int>(o.handler_workers.size());
  const std::string waits =
      fmt::format("{:.0f} ms of backend waits in {:.0f} ms", o.backend_ms, o.serving_ms);
  if (o.overlap.value_or(0) >= kOverlapShown) {
    switch (s.sleep) {
      case SleepKind::kCorun:
        return fmt::format(
            "{} served {} requests at once ({}): their waits overlapped "
            "(concurrency).{}",
            workers_serving(s.procs), peak, waits,
            s.procs > 1 ? " Waiting needs no CPU: one worker would do the same." : "");
      case SleepKind::kBlocking:
        return fmt::format(
            "{} served {} requests at once although each backend wait held an OS thread ({}): "
            "corun::blocking() handed the worker on to another thread meanwhile (concurrency "
            "kept).",
            workers_serving(s.procs), peak, waits);
      case SleepKind::kOs:
        break;
    }
    if (workers_used > 1) {
      return fmt::format(
          "The backend waits overlapped ({}) only because the handlers ran on {} worker threads "
          "at once: each OS sleep held its thread, so at most {} requests were in progress at "
          "once (at --procs 1 they would not overlap).",
          waits, workers_used, peak);
    }
    return fmt::format("The backend waits overlapped ({}; {} at once).", waits, peak);
  }
  switch (s.sleep) {
    case SleepKind::kCorun:
      return fmt::format(
          "The backend waits are too short next to the network's and the scheduler's delays to "
          "show an overlap ({}; try a longer --backend).",
          waits);
    case SleepKind::kBlocking:
      return fmt::format(
          "The backend waits did not overlap ({}; at most {} in progress at once): "
          "corun::blocking() did not hand the worker on while they held its thread.",
          waits, peak);
    case SleepKind::kOs:
      break;
  }
  return fmt::format(
      "Each backend wait (an OS sleep) held its worker's thread, so the requests were served one "
      "after another ({}; at most {} in progress at once): concurrency lost. --sleep corun "
      "parks the handler instead.",
      waits, peak);
}

}  // namespace

ServerOutcome summarize_server(const ServerSettings& s, const ServerRun& run, std::int64_t wall_ns,
                               bool completed) {
  ServerOutcome o;
  o.completed = completed;
  o.wall_ms = ms(wall_ns);
  std::vector<double> latencies;
  std::int64_t first_sent = -1;
  for (const RequestRecord& r : run.records()) {
    if (r.sent_ns >= 0 && (first_sent < 0 || r.sent_ns < first_sent)) first_sent = r.sent_ns;
    if (!r.done()) continue;
    ++o.requests_done;
    latencies.push_back(ms(r.answered_ns - r.sent_ns));
    o.handler_workers.insert(r.handler_worker);
  }
  o.first_request_ms = first_sent < 0 ? 0 : ms(first_sent);
  o.serving_ms = o.wall_ms - o.first_request_ms;
  o.backend_ms = o.requests_done * ms(s.backend.count());
  const int total = s.clients * s.requests;
  if (!completed) {
    o.summary = fmt::format(
        "Interrupted (Ctrl-C) after {:.0f} ms: {} of {} requests answered; no rate, latency or "
        "overlap is computed from unfinished work.",
        o.wall_ms, o.requests_done, total);
    return o;
  }
  if (o.serving_ms > 0) o.requests_per_s = o.requests_done / (o.serving_ms / 1e3);
  if (!latencies.empty()) {
    o.latency_min_ms = *std::min_element(latencies.begin(), latencies.end());
    o.latency_max_ms = *std::max_element(latencies.begin(), latencies.end());
    o.latency_median_ms = median(latencies);
  }
  o.peak_in_progress = run.peak_in_progress();
  if (o.serving_ms > 0) o.overlap = o.backend_ms / o.serving_ms;
  o.summary = fmt::format(
      "{} x {}: {} answered in {:.0f} ms from the first request ({:.1f} requests/s); wall time "
      "{:.0f} ms on {}.\nLatency: min {}, median {}, max {} ms; at most {} in progress at once "
      "(measured).\n{}",
      plural(s.clients, "client", "clients"), plural(s.requests, "request", "requests"),
      plural(o.requests_done, "request", "requests"), o.serving_ms, o.requests_per_s.value_or(0),
      o.wall_ms, plural(s.procs, "worker", "workers"), format_ms(o.latency_min_ms.value_or(0)),
      format_ms(o.latency_median_ms.value_or(0)), format_ms(o.latency_max_ms.value_or(0)),
      plural(*o.peak_in_progress, "request", "requests"), verdict(s, o));
  return o;
}

namespace {

template <class T>
void optional_field(JsonWriter& w, std::string_view name, const std::optional<T>& v) {
  w.key(name);
  v ? w.value(*v) : w.null();
}

std::string optional_cell(const std::optional<double>& v) { return v ? csv_number(*v) : ""; }

std::string workers_list(const std::set<int>& workers) {
  std::string text;
  for (int worker : workers) text += (text.empty() ? "" : " ") + std::to_string(worker);
  return text;
}

}  // namespace

std::string server_json(const ServerSettings& s, const ServerRun& run, const ServerOutcome& o) {
  JsonWriter w;
  w.begin_object()
      .field("command", "server")
      .field("version", CORUN_VERSION)
      .field("procs", s.procs)
      .field("cpus", corun::available_cpus())
      .field("clients", s.clients)
      .field("requests", s.requests)
      .field("backend_ms", ms(s.backend.count()))
      .field("sleep", to_string(s.sleep))
      .field("port", run.port());
  w.key("events").begin_array();
  for (const ServerEvent& e : run.events()) {
    w.begin_object()
        .field("t_ms", ms(e.t_ns))
        .field("worker", e.worker)
        .field("coroutine", e.coroutine)
        .field("who", e.who)
        .field("what", e.what)
        .end_object();
  }
  w.end_array().key("request_list").begin_array();
  for (int c = 1; c <= s.clients; ++c) {
    for (int q = 1; q <= s.requests; ++q) {
      const RequestRecord& r = run.record(c, q);
      auto t = [&](std::int64_t ns) {
        return ns >= 0 ? std::optional<double>(ms(ns)) : std::nullopt;
      };
      w.begin_object().field("client", c).field("request", q);
      optional_field(w, "sent_ms", t(r.sent_ns));
      optional_field(w, "received_ms", t(r.received_ns));
      optional_field(w, "replied_ms", t(r.replied_ns));
      optional_field(w, "answered_ms", t(r.answered_ns));
      optional_field(
          w, "latency_ms",
          r.done() ? std::optional<double>(ms(r.answered_ns - r.sent_ns)) : std::nullopt);
      w.field("handler_worker", r.handler_worker).end_object();
    }
  }
  w.end_array().key("handler_workers").begin_array(/*one_line=*/true);
  for (int worker : o.handler_workers) w.value(worker);
  w.end_array()
      .field("requests_done", o.requests_done)
      .field("wall_ms", o.wall_ms)
      .field("first_request_ms", o.first_request_ms)
      .field("backend_waited_ms", o.backend_ms);
  optional_field(w, "requests_per_s", o.requests_per_s);
  optional_field(w, "latency_min_ms", o.latency_min_ms);
  optional_field(w, "latency_median_ms", o.latency_median_ms);
  optional_field(w, "latency_max_ms", o.latency_max_ms);
  optional_field(w, "peak_in_progress", o.peak_in_progress);
  optional_field(w, "overlap", o.overlap);
  w.field("interrupted", !o.completed).field("summary", o.summary).end_object();
  return w.str();
}

// server_csv() is one table of three kinds of record (see CsvRecords):
// `event` (a live line), `request` (one per request) and one `summary`.
std::string server_csv(const ServerSettings& s, const ServerRun& run, const ServerOutcome& o) {
  CsvRecords csv({"t_ms",
                  "worker",
                  "coroutine",
                  "who",
                  "what",
                  "client",
                  "request",
                  "sent_ms",
                  "received_ms",
                  "replied_ms",
                  "answered_ms",
                  "latency_ms",
                  "handler_worker",
                  "command",
                  "version",
                  "procs",
                  "cpus",
                  "clients",
                  "requests",
                  "backend_ms",
                  "sleep",
                  "handler_workers",
                  "requests_done",
                  "wall_ms",
                  "first_request_ms",
                  "backend_waited_ms",
                  "requests_per_s",
                  "latency_min_ms",
                  "latency_median_ms",
                  "latency_max_ms",
                  "peak_in_progress",
                  "overlap",
                  "interrupted",
                  "summary"});
  auto t = [](std::int64_t ns) { return ns >= 0 ? csv_number(ms(ns)) : std::string(); };
  for (const ServerEvent& e : run.events()) {
    csv.add("event", {{"t_ms", t(e.t_ns)},
                      {"worker", std::to_string(e.worker)},
                      {"coroutine", std::to_string(e.coroutine)},
                      {"who", e.who},
                      {"what", e.what}});
  }
  for (int c = 1; c <= s.clients; ++c) {
    for (int q = 1; q <= s.requests; ++q) {
      const RequestRecord& r = run.record(c, q);
      csv.add("request", {{"client", std::to_string(c)},
                          {"request", std::to_string(q)},
                          {"sent_ms", t(r.sent_ns)},
                          {"received_ms", t(r.received_ns)},
                          {"replied_ms", t(r.replied_ns)},
                          {"answered_ms", t(r.answered_ns)},
                          {"latency_ms", r.done() ? t(r.answered_ns - r.sent_ns) : ""},
                          {"handler_worker", std::to_string(r.handler_worker)}});
    }
  }
  csv.add("summary", {{"command", "server"},
                      {"version", CORUN_VERSION},
                      {"procs", std::to_string(s.procs)},
                      {"cpus", std::to_string(corun::available_cpus())},
                      {"clients", std::to_string(s.clients)},
                      {"requests", std::to_string(s.requests)},
                      {"backend_ms", csv_number(ms(s.backend.count()))},
                      {"sleep", to_string(s.sleep)},
                      {"handler_workers", workers_list(o.handler_workers)},
                      {"requests_done", std::to_string(o.requests_done)},
                      {"wall_ms", csv_number(o.wall_ms)},
                      {"first_request_ms", csv_number(o.first_request_ms)},
                      {"backend_waited_ms", csv_number(o.backend_ms)},
                      {"requests_per_s", optional_cell(o.requests_per_s)},
                      {"latency_min_ms", optional_cell(o.latency_min_ms)},
                      {"latency_median_ms", optional_cell(o.latency_median_ms)},
                      {"latency_max_ms", optional_cell(o.latency_max_ms)},
                      {"peak_in_progress",
                       o.peak_in_progress ? std::to_string(*o.peak_in_progress) : std::string()},
                      {"overlap", optional_cell(o.overlap)},
                      {"interrupted", o.completed ? "false" : "true"},
                      {"summary", o.summary}});
  return csv.str();
}

}  // namespace demo
