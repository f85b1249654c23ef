// compare_io.hpp: `demo compare`'s I/O-bound workload, `demo server`'s shape
// without its live lines: a server on 127.0.0.1 and --connections clients,
// one TCP connection each; every client sends --requests requests one after
// another (a 16-byte message, the next once the previous was answered) and
// the server's handler answers each after a --backend wait (the slow
// database behind a web server). The work is almost all waiting: on the
// sockets and on the backend.
//
// It runs two ways, each one real measurement:
//   - IoCoroutineRun: the server, a handler per connection and the clients
//     are coroutines of one Runtime (corun::net, a corun sleep as the
//     backend): tasks 0 (the server) and 1..N (the clients) of run_tasks();
//   - run_io_threads(): one OS thread per connection on each side (plain
//     blocking sockets, std::thread, std::this_thread::sleep_for).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "corun/wait_group.hpp"
#include "demo/run/interrupt.hpp"

namespace demo::compare {

struct IoWorkload {
  int connections = 50;
  int requests = 4;  // per connection
  std::chrono::nanoseconds backend{};
};

// IoCoroutineRun is one run of the workload as coroutines.
class IoCoroutineRun {
 public:
  explicit IoCoroutineRun(const IoWorkload& w) : w_(w) { listening_.add(1); }

  // tasks() is the server and the clients.
  int tasks() const { return w_.connections + 1; }
  // run_task() is task `i`'s body: the server (0) or client i, which calls
  // client_done() once it got all its answers. Every task calls
  // tally.done() once its work is complete, tally.fail() on an error.
  void run_task(std::size_t i, TaskTally& tally, const std::function<void()>& client_done);
  // answered() counts the answers the clients got and checked.
  std::int64_t answered() const { return answered_.load(); }
  // error() is the first failure ("client 3: connect: ..."), empty if none.
  std::string error() const;

 private:
  void serve();
  void run_client(int client);
  void fail(const std::string& who, const std::exception& e);

  const IoWorkload& w_;
  corun::WaitGroup listening_;  // the clients wait for the port
  std::atomic<int> port_{0};
  std::atomic<std::int64_t> answered_{0};
  mutable std::mutex mu_;
  std::string error_;  // guarded by mu_
};

// IoThreadRun is what run_io_threads() leaves.
struct IoThreadRun {
  bool completed = false;     // every request answered
  std::int64_t answered = 0;  // answers the clients got and checked
  std::string error;          // the first failure, empty if none
};

// run_io_threads() is one run with one OS thread per connection on each
// side. spawned() runs once every thread was started, client_done() as each
// client got all its answers, tick() every few milliseconds while they run.
// Ctrl-C stops the clients before their next request.
IoThreadRun run_io_threads(const IoWorkload& w, const std::function<void()>& spawned,
                           const std::function<void()>& client_done,
                           const std::function<void()>& tick);

}  // namespace demo::compare
