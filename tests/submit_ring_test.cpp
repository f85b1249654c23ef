// submit_ring_test.cpp: the worker's batch of socket calls
// (src/corun/io/submit_ring.hpp): a non-blocking call completes inside the
// io_uring_enter that submits it, with its data or EAGAIN; a runtime's
// socket traffic goes through the ring in batches (many calls per system
// call) and every byte arrives once, in order; the calls a coroutine queued
// leave while another coroutine holds the worker in an OS call (the
// monitor submits them); CORUN_IO_URING=0 turns the ring off.
#include "corun/io/submit_ring.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/net.hpp"
#include "corun/sched/coroutine.hpp"
#include "corun/sched/scheduler.hpp"
#include "net_test_support.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::detail::Coroutine;
using corun::detail::RingCall;
using corun::detail::SubmitRing;
using corun::test::ProcsTest;
using corun::test::Watchdog;

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0);
  }
  ~SocketPair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

// EnvGuard sets (or unsets) CORUN_IO_URING for a test, and puts it back.
struct EnvGuard {
  explicit EnvGuard(const char* value) {
    if (const char* v = std::getenv("CORUN_IO_URING")) saved = v, had = true;
    if (value != nullptr) {
      ::setenv("CORUN_IO_URING", value, 1);
    } else {
      ::unsetenv("CORUN_IO_URING");
    }
  }
  ~EnvGuard() {
    if (had) {
      ::setenv("CORUN_IO_URING", saved.c_str(), 1);
    } else {
      ::unsetenv("CORUN_IO_URING");
    }
  }
  std::string saved;
  bool had = false;
};

TEST(SubmitRing, NonBlockingCallsCompleteInsideTheSubmit) {
  EnvGuard env(nullptr);
  SubmitRing ring;
  if (!ring.can_queue()) GTEST_SKIP() << "io_uring is not available here";
  SocketPair s;
  Coroutine a, b, c;
  char in[16] = {};
  iovec iov{in, sizeof in};
  RingCall empty_read{&a}, send{&b};
  ring.queue_readv(s.fd[0], &iov, 1, &empty_read);
  ring.queue_send(s.fd[1], "hello", 5, MSG_NOSIGNAL, &send);
  EXPECT_TRUE(ring.busy());
  Coroutine* chain = ring.flush();
  // Both completed within the one submission, in order: the read found the
  // socket empty (EAGAIN at once, no wait in the kernel), the send sent.
  ASSERT_EQ(chain, &a);
  ASSERT_EQ(a.next, &b);
  EXPECT_EQ(b.next, nullptr);
  EXPECT_EQ(empty_read.result, -EAGAIN);
  EXPECT_EQ(send.result, 5);
  EXPECT_FALSE(ring.busy());
  EXPECT_FALSE(ring.lagging());
  EXPECT_EQ(ring.stats().calls, 2u);
  EXPECT_EQ(ring.stats().submits, 1u);

  RingCall read{&c};
  ring.queue_readv(s.fd[0], &iov, 1, &read);
  EXPECT_EQ(ring.flush(), &c);
  ASSERT_EQ(read.result, 5);
  EXPECT_EQ(std::memcmp(in, "hello", 5), 0);
  // A call on a closed descriptor completes with its error.
  RingCall bad{&a};
  ring.queue_send(-1, "x", 1, 0, &bad);
  EXPECT_EQ(ring.flush(), &a);
  EXPECT_EQ(bad.result, -EBADF);
  EXPECT_FALSE(ring.busy());
}

TEST(SubmitRing, FullRingRefusesMoreCalls) {
  EnvGuard env(nullptr);
  SubmitRing ring;
  if (!ring.can_queue()) GTEST_SKIP() << "io_uring is not available here";
  SocketPair s;
  std::vector<Coroutine> gs(SubmitRing::kEntries);
  std::vector<RingCall> calls(SubmitRing::kEntries);
  char buf[1];
  iovec iov{buf, 1};
  unsigned queued = 0;
  while (ring.can_queue()) {
    ASSERT_LT(queued, SubmitRing::kEntries);
    calls[queued].g = &gs[queued];
    ring.queue_readv(s.fd[0], &iov, 1, &calls[queued]);
    ++queued;
  }
  EXPECT_EQ(queued, SubmitRing::kEntries);
  unsigned completed = 0;
  for (Coroutine* g = ring.flush(); g != nullptr; g = g->next) ++completed;
  EXPECT_EQ(completed, queued);
  for (const RingCall& c : calls) EXPECT_EQ(c.result, -EAGAIN);
  EXPECT_TRUE(ring.can_queue());
}

TEST(SubmitRing, OffWithTheEnvironmentVariable) {
  EnvGuard env("0");
  SubmitRing ring;
  EXPECT_FALSE(ring.can_queue());
  EXPECT_EQ(ring.flush(), nullptr);
}

// echo_traffic(): kConns connections at `procs`, each client sending
// kTrips messages of a size that varies, checked byte for byte on the way
// back; returns the ring statistics of the worker the first client ended on.
corun::detail::SubmitRingStats echo_traffic(int procs, long& bytes_back) {
  constexpr int kConns = 20;
  constexpr int kTrips = 300;
  std::atomic<long> back{0};
  corun::detail::SubmitRingStats stats;
  corun::run({.procs = procs}, [&] {
    corun::WaitGroup wg;
    for (int c = 0; c < kConns; ++c) {
      wg.add(2);
      auto pair = std::make_shared<corun::test::StreamPair>(corun::test::connected_pair());
      corun::go([&, pair] {
        char buf[700];
        for (std::size_t k; (k = pair->server.read(buf, sizeof buf)) > 0;) {
          pair->server.write_all(buf, k);
        }
        wg.done();
      });
      corun::go([&, pair, c] {
        std::vector<unsigned char> out(700), in(700);
        for (int t = 0; t < kTrips; ++t) {
          const std::size_t n = 1 + static_cast<std::size_t>((c * 131 + t * 17) % 700);
          for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(c + t + i);
          pair->client.write_all(out.data(), n);
          pair->client.read_exact(in.data(), n);
          ASSERT_EQ(std::memcmp(in.data(), out.data(), n), 0) << "conn " << c << " trip " << t;
          back.fetch_add(static_cast<long>(n));
        }
        pair->client.shutdown(SHUT_WR);
        if (c == 0) stats = corun::detail::this_worker()->io_ring.stats();
        wg.done();
      });
    }
    wg.wait();
  });
  bytes_back = back.load();
  return stats;
}

long expected_echo_bytes() {
  long total = 0;
  for (int c = 0; c < 20; ++c) {
    for (int t = 0; t < 300; ++t) total += 1 + (c * 131 + t * 17) % 700;
  }
  return total;
}

class SubmitRingRuntime : public ProcsTest {};
CORUN_PROCS_TESTS(SubmitRingRuntime);

TEST_P(SubmitRingRuntime, EchoBytesArriveOnceInOrder) {
  Watchdog dog("batched echo hung");
  EnvGuard env(nullptr);
  long back = 0;
  echo_traffic(procs(), back);
  EXPECT_EQ(back, expected_echo_bytes());
}

TEST_P(SubmitRingRuntime, EchoWithoutTheRing) {
  Watchdog dog("echo without the ring hung");
  EnvGuard env("0");
  long back = 0;
  const auto stats = echo_traffic(procs(), back);
  EXPECT_EQ(back, expected_echo_bytes());
  EXPECT_EQ(stats.calls, 0u);
}

// One worker, twenty connections: the calls go through the ring, many to
// a system call (here about one io_uring_enter per turn of the worker).
TEST(SubmitRingBatching, ManyCallsPerSystemCall) {
  Watchdog dog("batched echo hung");
  EnvGuard env(nullptr);
  {
    SubmitRing probe;
    if (!probe.can_queue()) GTEST_SKIP() << "io_uring is not available here";
  }
  long back = 0;
  const auto stats = echo_traffic(1, back);
  EXPECT_EQ(back, expected_echo_bytes());
  EXPECT_GT(stats.calls, 10'000u) << "socket calls did not go through the ring";
  EXPECT_LT(stats.submits * 4, stats.calls) << stats.submits << " submits for " << stats.calls;
}

// A reply queued in the ring leaves while another coroutine holds the only
// worker in an OS sleep: the monitor submits it within a period or so, not
// after the sleep.
TEST(SubmitRingBatching, QueuedCallsLeaveWhileAnotherCoroutineHoldsTheWorker) {
  Watchdog dog("stalled ring hung");
  EnvGuard env(nullptr);
  {
    SubmitRing probe;
    if (!probe.can_queue()) GTEST_SKIP() << "io_uring is not available here";
  }
  constexpr auto kHold = 1500ms;
  std::chrono::steady_clock::duration arrived_after{};
  corun::run({.procs = 1}, [&] {
    auto pair = corun::test::connected_pair();
    const int peer = pair.client.fd().native_handle();
    const auto start = std::chrono::steady_clock::now();
    // A plain thread waits on the far end, with poll(2).
    std::thread reader([&] {
      pollfd p{peer, POLLIN, 0};
      EXPECT_EQ(::poll(&p, 1, 10'000), 1);
      arrived_after = std::chrono::steady_clock::now() - start;
    });
    corun::WaitGroup wg;
    wg.add(2);
    corun::go([&] {
      corun::go([&] {
        std::this_thread::sleep_for(kHold);  // holds the worker's thread
        wg.done();
      });
      // The holder is runnable beside this coroutine, so the write is
      // queued (batched), and the holder runs next.
      pair.server.write_all("reply", 5);
      wg.done();
    });
    wg.wait();
    reader.join();
  });
  EXPECT_LT(arrived_after, kHold / 2) << "the queued reply waited for the OS sleep";
}

}  // namespace
