// workloads.cpp: see workloads.hpp. Each workload mirrors the Go peer's
// (shared/peers/go/main.go) statement for statement; the timed part runs in
// one coroutine, as Go's runs in its main goroutine.
#include "demo/commands/workloads.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "corun/corun.hpp"
#include "corun/net.hpp"
#include "demo/commands/cpu_work.hpp"
#include "demo/run/measure.hpp"

namespace demo {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

void yield_workload(std::int64_t n) {
  corun::WaitGroup wg;
  wg.add(2);
  for (int t = 0; t < 2; ++t) {
    corun::go([&wg, n] {
      for (std::int64_t i = 0; i < n; ++i) corun::this_coroutine::yield();
      wg.done();
    });
  }
  wg.wait();
}

void pingpong_workload(std::int64_t n) {
  corun::Channel<std::int64_t> a(0), b(0);
  corun::go([a, b]() mutable {
    for (std::int64_t v : a) b.send(v);
    b.close();
  });
  for (std::int64_t i = 0; i < n; ++i) {
    a.send(i);
    (void)b.recv();
  }
  a.close();
}

void spawn_workload(std::int64_t n) {
  corun::WaitGroup wg;
  wg.add(n);
  for (std::int64_t i = 0; i < n; ++i) corun::go([&wg] { wg.done(); });
  wg.wait();
}

// skynet() is the subtree of `size` leaves numbered from `num`: a leaf sends
// its number on `c`; an inner node splits its leaves into at most `div`
// children (the first size % div get one more) and sends their sum. For n a
// power of `div` that is the classic tree, child i holding
// [num + i*size/div, num + (i+1)*size/div); for any other n it still
// covers 0..n-1 exactly once, so the checksum is n*(n-1)/2.
void skynet(corun::Channel<std::int64_t> c, std::int64_t num, std::int64_t size, std::int64_t div) {
  if (size == 1) {
    c.send(num);
    return;
  }
  const std::int64_t children = std::min(size, div);
  corun::Channel<std::int64_t> rc(0);
  std::int64_t sub = num;
  for (std::int64_t i = 0; i < children; ++i) {
    const std::int64_t sub_size = size / children + (i < size % children ? 1 : 0);
    corun::go([rc, sub, sub_size, div] { skynet(rc, sub, sub_size, div); });
    sub += sub_size;
  }
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < children; ++i) sum += *rc.recv();
  c.send(sum);
}

std::uint64_t skynet_workload(std::int64_t n) {
  corun::Channel<std::int64_t> c(0);
  corun::go([c, n] { skynet(c, 0, n, 10); });
  return static_cast<std::uint64_t>(*c.recv());
}

// check_skynet() throws unless `sum` is 0 + 1 + ... + (n-1) (mod 2^64), what
// a tree with every leaf once adds up to.
void check_skynet(std::uint64_t sum, std::int64_t n) {
  const auto un = static_cast<std::uint64_t>(n);
  const std::uint64_t expected = un % 2 == 0 ? (un / 2) * (un - 1) : un * ((un - 1) / 2);
  if (sum != expected) {
    throw std::runtime_error(fmt::format(
        "bench skynet: checksum {} for n = {}, expected n*(n-1)/2 = {}", sum, n, expected));
  }
}

void sleepers_workload(std::int64_t n) {
  corun::WaitGroup wg;
  wg.add(n);
  for (std::int64_t i = 0; i < n; ++i) {
    corun::go([&wg] {
      corun::this_coroutine::sleep_for(100ms);
      wg.done();
    });
  }
  wg.wait();
}

double park_workload(std::int64_t n) {
  const std::int64_t before = rss_kib();
  corun::Channel<char> gate(0);
  corun::WaitGroup parked, done;
  parked.add(n);
  done.add(n);
  for (std::int64_t i = 0; i < n; ++i) {
    corun::go([gate, &parked, &done]() mutable {
      parked.done();
      (void)gate.recv();
      done.done();
    });
  }
  parked.wait();
  const double per_task = static_cast<double>(rss_kib() - before) / static_cast<double>(n);
  gate.close();
  done.wait();
  return per_task;
}

std::uint64_t cpu_workload(std::int64_t n, int tasks) {
  // The first n % tasks tasks run one iteration more: exactly n in all.
  const std::int64_t per = n / tasks;
  const std::int64_t extra = n % tasks;
  std::vector<std::uint64_t> sums(static_cast<std::size_t>(tasks));
  corun::WaitGroup wg;
  wg.add(tasks);
  for (int i = 0; i < tasks; ++i) {
    corun::go([&, i] {
      XorShiftLoop loop(static_cast<std::uint64_t>(i));
      loop.run(static_cast<std::uint64_t>(per + (i < extra ? 1 : 0)));
      sums[static_cast<std::size_t>(i)] = loop.sum();
      wg.done();
    });
  }
  wg.wait();
  std::uint64_t checksum = 0;
  for (std::uint64_t s : sums) checksum += s;
  return checksum;
}

// echo_workload(): a TCP echo server on 127.0.0.1 (an accept loop, a
// coroutine per connection echoing what it reads, up to 512 bytes at a
// time) and `conns` client connections, each a coroutine making its share
// of n round trips of 512 bytes. Returns the round trips' time in ns; the
// connections' set-up (from before the listen) goes to `setup_ns`.
double echo_workload(std::int64_t n, int conns, double& setup_ns) {
  constexpr std::size_t kSize = 512;
  const auto t0 = Clock::now();
  auto listener = corun::net::TcpListener::listen("127.0.0.1", 0);
  const corun::net::Address addr = listener.local_address();
  // The accept loop says when every connection is accepted ("") or why
  // accepting failed (out of descriptors: see ulimit -n).
  corun::Channel<std::string> accepted(1);
  corun::go([&listener, accepted, conns]() mutable {
    for (int i = 0;; ++i) {
      if (i == conns) accepted.send("");
      corun::net::TcpStream c;
      try {
        c = listener.accept();
      } catch (const std::system_error& e) {
        if (i < conns) accepted.send(e.what());
        return;  // or closed: the run is over
      }
      corun::go([c = std::move(c)]() mutable {
        char buf[kSize];
        try {
          for (std::size_t k; (k = c.read(buf, kSize)) > 0;) c.write_all(buf, k);
        } catch (const std::system_error&) {
          // the client went away
        }
      });
    }
  });
  std::vector<corun::net::TcpStream> clients;
  clients.reserve(static_cast<std::size_t>(conns));
  for (int i = 0; i < conns; ++i) clients.push_back(corun::net::TcpStream::connect(addr));
  if (const std::string error = *accepted.recv(); !error.empty()) {
    throw std::runtime_error(error);
  }
  setup_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();

  corun::WaitGroup wg;
  wg.add(conns);
  std::atomic<bool> failed{false};
  std::string first_error;  // written once, by the first failing client
  const auto start = Clock::now();
  for (int i = 0; i < conns; ++i) {
    const std::int64_t trips = n / conns + (i < n % conns ? 1 : 0);
    corun::go([&c = clients[static_cast<std::size_t>(i)], trips, &wg, &failed, &first_error] {
      char msg[kSize] = {};
      char back[kSize];
      try {
        for (std::int64_t t = 0; t < trips; ++t) {
          c.write_all(msg, kSize);
          c.read_exact(back, kSize);
        }
      } catch (const std::system_error& e) {
        if (!failed.exchange(true)) first_error = e.what();
      }
      wg.done();
    });
  }
  wg.wait();
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  for (auto& c : clients) c.close();
  listener.close();
  if (failed.load()) throw std::runtime_error(first_error);
  return ns;
}

}  // namespace

const std::vector<WorkloadSpec>& workloads() {
  static const std::vector<WorkloadSpec> specs = {
      {"yield", 2'000'000, "one yield (2n ops)"},
      {"pingpong", 1'000'000, "one round trip"},
      {"spawn", 1'000'000, "one coroutine"},
      {"skynet", 1'000'000, "the whole run / n (as the peers)"},
      {"sleepers", 100'000, "one coroutine"},
      {"park", 100'000, "one coroutine"},
      {"cpu", 400'000'000, "one iteration"},
      {"echo", 100'000, "one 512-byte TCP round trip"},
  };
  return specs;
}

const WorkloadSpec* find_workload(std::string_view name) {
  for (const auto& w : workloads()) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

WorkloadResult run_workload(std::string_view name, int procs, std::int64_t n, int tasks) {
  const WorkloadSpec* spec = find_workload(name);
  if (spec == nullptr) throw std::invalid_argument("unknown workload");
  WorkloadResult r;
  r.workload = std::string(name);
  r.procs = procs;
  r.n = n > 0 ? n : spec->default_n;
  if (name == "echo") {
    // Timed inside the main coroutine from the moment every connection is
    // up (set-up reported apart), as the Go peer does.
    const int conns = tasks > 0 ? tasks : 100;
    double ns = 0;
    double setup_ns = 0;
    std::string error;
    corun::run({.procs = procs}, [&] {
      try {
        ns = echo_workload(r.n, conns, setup_ns);
      } catch (const std::exception& e) {  // e.g. out of descriptors
        error = e.what();
      }
    });
    if (!error.empty()) {
      throw std::runtime_error(fmt::format(
          "bench echo: {} ({} connections take {} descriptors; see ulimit -n and ulimit -Hn)",
          error, conns, 2 * conns));
    }
    r.tasks = conns;
    r.setup_ms = setup_ns / 1e6;
    r.wall_ms = ns / 1e6;
    r.ns_per_op = ns / static_cast<double>(r.n);
    return r;
  }
  if (tasks <= 0) tasks = procs;

  std::int64_t ops = r.n;
  std::function<void()> body;
  if (name == "yield") {
    body = [&] { yield_workload(r.n); };
    ops = 2 * r.n;
  } else if (name == "pingpong") {
    body = [&] { pingpong_workload(r.n); };
  } else if (name == "spawn") {
    body = [&] { spawn_workload(r.n); };
  } else if (name == "skynet") {
    body = [&] { r.checksum = skynet_workload(r.n); };
  } else if (name == "sleepers") {
    body = [&] { sleepers_workload(r.n); };
  } else if (name == "park") {
    body = [&] { r.rss_kib_per_task = park_workload(r.n); };
  } else {
    body = [&] { r.checksum = cpu_workload(r.n, tasks); };
  }

  // Timed inside the main coroutine, as Go times its main goroutine: the
  // runtime's start and stop are left out.
  double ns = 0;
  corun::run({.procs = procs}, [&] {
    const auto start = Clock::now();
    body();
    ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  });
  r.wall_ms = ns / 1e6;
  r.ns_per_op = ns / static_cast<double>(ops);
  if (name == "skynet") check_skynet(*r.checksum, r.n);
  return r;
}

}  // namespace demo
