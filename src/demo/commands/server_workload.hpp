// server_workload.hpp: `demo server`'s run: a small server on 127.0.0.1 and
// its clients, all coroutines of one runtime, talking over real TCP
// connections.
//
// The protocol is one line each way per request, over one connection per
// client: the client sends "GET <client> <request>\n"; the server answers
// "OK <client> <request>\n" once its "backend" (a wait of --backend, made
// the --sleep way) is over. Task 0 is the server: it listens on port 0 (a
// free port), accepts one connection per client and spawns a handler for
// each; tasks 1..N are the clients: each connects, then sends its requests
// one after another, each once the previous one was answered.
//
// A client is done once it got all its answers; the server once every
// handler answered all its requests. A request is "in progress" from when
// its handler read it until it wrote the answer: the peak of that count is
// measured, not assumed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "corun/wait_group.hpp"
#include "demo/commands/sleep_kind.hpp"
#include "demo/render/output.hpp"
#include "demo/run/interrupt.hpp"
#include "demo/run/measure.hpp"

namespace demo {

struct ServerSettings {
  int procs = 1;
  int clients = 8;
  int requests = 1;
  std::chrono::nanoseconds backend{};
  SleepKind sleep = SleepKind::kCorun;
};

// RequestRecord is one request's times (ns on the run's clock; -1: not
// reached). The client writes sent and answered, the handler the rest.
struct RequestRecord {
  std::int64_t sent_ns = -1;      // the client wrote it
  std::int64_t received_ns = -1;  // its handler read it
  std::int64_t replied_ns = -1;   // its handler wrote the answer
  std::int64_t answered_ns = -1;  // the client read the answer
  int handler_worker = -1;        // the worker its handler read it on
  bool done() const { return answered_ns >= 0; }
};

// ServerEvent is one live line.
struct ServerEvent {
  std::int64_t t_ns = 0;
  int worker = -1;
  std::uint64_t coroutine = 0;
  std::string who;   // "client 3", "server"
  std::string what;  // "sends request 1"
};

class LineStream;  // server_workload.cpp

class ServerRun {
 public:
  ServerRun(const ServerSettings& s, Console& console);

  // tasks() is the run's task count: the server and the clients.
  int tasks() const { return s_.clients + 1; }
  // start(): see RunState::start in concurrent.cpp.
  void start(std::chrono::steady_clock::time_point epoch) { clock_ = Stopwatch(epoch); }
  // run_task() is task `i`'s body: the server (0) or client i.
  void run_task(std::size_t i, TaskTally& tally);

  std::int64_t elapsed_ns() const { return clock_.elapsed_ns(); }
  std::int64_t finished_ns() const { return finished_.get(); }
  // After the run (the runtime stopped):
  const std::vector<RequestRecord>& records() const { return records_; }
  const std::vector<ServerEvent>& events() const { return events_; }
  const RequestRecord& record(int client, int request) const {
    return records_[static_cast<std::size_t>((client - 1) * s_.requests + request - 1)];
  }
  std::uint64_t server_coroutine() const { return server_coroutine_; }
  const std::vector<std::uint64_t>& client_coroutines() const { return client_coroutines_; }
  std::vector<std::uint64_t>& client_coroutines() { return client_coroutines_; }
  const std::vector<std::uint64_t>& handler_coroutines() const { return handler_coroutines_; }
  int peak_in_progress() const { return peak_.load(); }
  int port() const { return port_; }
  // error() is the first failure ("client 3: connect: Connection refused"),
  // empty if none.
  const std::string& error() const { return error_; }

 private:
  void serve(TaskTally& tally);
  void handle(LineStream& conn);
  void run_client(int client, TaskTally& tally);
  // fail() keeps the first error ("client 3: connect: ...") and stops the run.
  void fail(const std::string& who, const std::exception& e, TaskTally& tally);
  void say(const std::string& who, const std::string& what);
  RequestRecord& record_of(int client, int request) {
    return records_[static_cast<std::size_t>((client - 1) * s_.requests + request - 1)];
  }

  const ServerSettings& s_;
  Console& console_;
  Stopwatch clock_;
  LatestTime finished_;
  std::vector<RequestRecord> records_;
  std::vector<std::uint64_t> client_coroutines_;   // written by the main thread
  std::uint64_t server_coroutine_ = 0;             // written by the server
  std::vector<std::uint64_t> handler_coroutines_;  // written by the server
  corun::WaitGroup listening_;                     // the clients wait for the port
  corun::WaitGroup handlers_;                      // the server waits for its handlers
  std::atomic<int> port_{0};
  std::atomic<int> in_progress_{0};
  std::atomic<int> peak_{0};
  std::atomic<std::int64_t> answered_{0};  // for the progress line
  std::mutex mu_;
  std::vector<ServerEvent> events_;  // guarded by mu_ during the run
  std::string error_;                // guarded by mu_ during the run
};

}  // namespace demo
