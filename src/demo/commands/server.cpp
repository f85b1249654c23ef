// server.cpp: `demo server`, the seed's web server, live: a real TCP server
// on 127.0.0.1 in the demo process, --clients clients each making
// --requests requests over their own connection, each request waiting on a
// slow "backend" (server_workload.hpp). At --procs 1 one worker serves all
// the clients' requests at once: while a handler waits (on its socket, on
// the backend), the worker runs the others. --sleep os makes the backend an
// OS sleep, which holds the worker's thread: the requests are then served
// one after another. The summary says which happened from the run's own
// numbers (server_report.hpp).
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "corun/corun.hpp"
#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/commands/server_report.hpp"
#include "demo/commands/server_workload.hpp"
#include "demo/commands/sleep_kind.hpp"
#include "demo/render/output.hpp"
#include "demo/render/text.hpp"
#include "demo/run/interrupt.hpp"
#include "demo/run/run_and_report.hpp"
#include "demo/run/session.hpp"
#include "demo/run/task_run.hpp"

namespace demo {

namespace {

// Each client holds two descriptors (its end and the server's): 1,000
// clients stay well under the usual open-files limit.
constexpr int kMaxClients = 1'000;
constexpr int kMaxRequests = 100'000;
constexpr auto kMaxBackend = std::chrono::seconds(60);

struct Options {
  CommonOptions common;
  std::string clients = "8";
  std::string requests = "1";
  std::string backend = "100ms";
  std::string sleep = "corun";
};

ServerSettings check(const Options& o) {
  ServerSettings s;
  s.clients = static_cast<int>(parse_int("--clients", o.clients, 1, kMaxClients));
  s.requests = static_cast<int>(parse_int("--requests", o.requests, 1, kMaxRequests));
  if (std::int64_t{s.clients} * s.requests > kMaxRequests) {
    throw UsageError(fmt::format(
        "--requests: expected at most {} requests in all (--clients x --requests), got {} x {}",
        kMaxRequests, s.clients, s.requests));
  }
  s.backend = parse_duration("--backend", o.backend, kMaxBackend);
  s.sleep = parse_sleep_kind("--sleep", o.sleep);
  s.procs = resolve_procs(o.common.procs);
  spdlog::debug("server: procs={} clients={} requests={} backend={} sleep={}", s.procs, s.clients,
                s.requests, format_duration(s.backend), to_string(s.sleep));
  return s;
}

std::string header(const ServerSettings& s) {
  return fmt::format(
      "A server on 127.0.0.1 and {} x {}, each over its own connection; every request waits "
      "{} on a backend ({}); on {} (procs={})\n",
      plural(s.clients, "client", "clients"), plural(s.requests, "request", "requests"),
      format_duration(s.backend),
      s.sleep == SleepKind::kCorun ? "a corun sleep"
                                   : fmt::format("an OS sleep, --sleep {}", to_string(s.sleep)),
      plural(s.procs, "worker", "workers"), s.procs);
}

TaskLabels labels_of(const ServerRun& run) {
  TaskLabels labels;
  std::size_t index = 0;
  for (std::size_t c = 0; c < run.client_coroutines().size(); ++c) {
    labels[run.client_coroutines()[c]] = {fmt::format("client {}", c + 1), default_symbol(index),
                                          index};
    ++index;
  }
  labels[run.server_coroutine()] = {"server", default_symbol(index), index};
  ++index;
  for (std::size_t h = 0; h < run.handler_coroutines().size(); ++h) {
    labels[run.handler_coroutines()[h]] = {fmt::format("handler {}", h + 1), default_symbol(index),
                                           index};
    ++index;
  }
  return labels;
}

Report run(const ServerSettings& s, Session& session) {
  Console& console = session.console();
  console.extra(console.style().bold(header(s)));
  ServerRun server(s, console);
  TaskTally tally(server.tasks());
  TaskRunHooks hooks;
  hooks.started = [&](std::chrono::steady_clock::time_point epoch) { server.start(epoch); };
  hooks.spawned = [&server](std::size_t i, std::uint64_t id) {
    if (i > 0) server.client_coroutines()[i - 1] = id;
  };
  const TaskRun result = run_tasks(
      corun::Config{.procs = s.procs, .trace = session.tracing()}, tally,
      [&server, &tally](std::size_t i) { server.run_task(i, tally); }, OnInterrupt::kCancel, hooks);
  if (!server.error().empty()) throw std::runtime_error("server failed: " + server.error());
  const std::int64_t wall_ns = result.completed ? server.finished_ns() : server.elapsed_ns();
  const ServerOutcome outcome = summarize_server(s, server, wall_ns, result.completed);
  if (result.completed) console.extra("All requests answered.\n");
  session.add_run("demo server", s.procs, result.trace, labels_of(server), !result.completed);
  return {"\n" + outcome.summary + "\n",
          machine_document(
              session.format(), [&] { return server_json(s, server, outcome); },
              [&] { return server_csv(s, server, outcome); }),
          result.completed};
}

}  // namespace

Command add_server(CLI::App& parent, const GlobalOptions& global) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "server", "A TCP server and its clients: one worker serves many requests at once");
  add_common_options(*cmd, opts->common,
                     "Worker threads, 1..1024 (default: GOMAXPROCS, else all CPUs)");
  cmd->add_option("-c,--clients", opts->clients,
                  "Client coroutines, 1..1000, each with its own connection")
      ->type_name("N")
      ->default_str("8");
  cmd->add_option("-r,--requests", opts->requests,
                  "Requests per client, one after another (at most 100000 in all)")
      ->type_name("N")
      ->default_str("1");
  cmd->add_option("-b,--backend", opts->backend,
                  "How long the server's backend takes per request: a number and a unit, ns, "
                  "us, ms or s")
      ->type_name("DURATION")
      ->default_str("100ms");
  cmd->add_option("--sleep", opts->sleep,
                  "How the backend waits: corun parks the handler (its worker serves the "
                  "others); os calls std::this_thread::sleep_for, which holds the worker's "
                  "thread (at --procs 1 the requests are served one after another); blocking "
                  "makes that OS sleep inside corun::blocking()")
      ->type_name("KIND")
      ->default_str("corun");
  cmd->footer(
      "Protocol: one line each way per request, over one TCP connection per client on\n"
      "127.0.0.1 (a free port): the client sends \"GET <client> <request>\", the server\n"
      "answers \"OK <client> <request>\" once the backend's wait is over.\n"
      "\n"
      "Examples:\n"
      "  demo server --procs 1                   # 8 clients served at once by 1 worker\n"
      "  demo server --procs 1 --sleep os        # one request at a time\n"
      "  demo server --procs 1 --sleep blocking  # OS sleeps in corun::blocking()\n"
      "  demo server --clients 3 --requests 2 --timeline\n"
      "  demo server --format json > server.json\n");
  return {cmd, run_command<Options, ServerSettings>(opts, global, check, run)};
}

}  // namespace demo
