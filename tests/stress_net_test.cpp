// stress_net_test.cpp: thousands of TCP connections opened, used with random
// sizes and closed at random points, at procs 1, 2, 4 and 8, against an
// echo server in the same runtime. Conservation: every byte a client sends
// comes back once, in order (a running checksum of what was sent against
// one of what came back, per connection), and the server counts the same
// bytes in and out. No descriptor leaks: /proc/self/fd holds as many
// entries afterwards as before.
#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <system_error>
#include <vector>

#include "corun/corun.hpp"
#include "corun/net.hpp"
#include "test_support.hpp"

namespace {

using corun::net::TcpListener;
using corun::net::TcpStream;
using corun::test::ProcsTest;
using corun::test::scaled;
using corun::test::Watchdog;

int open_fds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The byte at position `i` of connection `conn`'s stream: checkable on the
// way back without keeping what was sent.
unsigned char byte_at(std::uint64_t conn, std::uint64_t i) {
  return static_cast<unsigned char>((conn * 131 + i * 7 + (i >> 9)) & 0xFF);
}

class StressNet : public ProcsTest {};
// (Named Stress* so that ctest labels it a stress test.)
INSTANTIATE_TEST_SUITE_P(StressProcs, StressNet, ::testing::Values(1, 2, 4, 8),
                         ::corun::test::ProcsName{});

TEST_P(StressNet, ByteConservation) {
  Watchdog dog("the connection stress hung", std::chrono::seconds(120));
  const char* seed_env = std::getenv("CORUN_STRESS_SEED");
  std::uint64_t seed = seed_env != nullptr ? std::strtoull(seed_env, nullptr, 10) : 12345;
  seed += static_cast<std::uint64_t>(procs());
  const int conns = static_cast<int>(scaled(2000, 300));
  const int at_once = static_cast<int>(scaled(200, 50));
  const int fds_before = open_fds();

  std::atomic<std::int64_t> sent{0}, received{0}, server_in{0}, server_out{0}, server_lost{0};
  std::atomic<int> serving{0};
  std::atomic<int> mismatches{0}, finished{0};
  corun::run({.procs = procs()}, [&] {
    auto ln = TcpListener::listen("127.0.0.1", 0);
    const auto addr = ln.local_address();
    corun::go([&] {
      for (;;) {
        TcpStream c;
        try {
          c = ln.accept();
        } catch (const std::system_error&) {
          return;  // the listener was closed
        }
        serving.fetch_add(1);
        corun::go([&, c = std::move(c)]() mutable {
          char buf[1500];
          std::size_t k = 0;
          try {
            while ((k = c.read(buf, sizeof buf)) > 0) {
              server_in += static_cast<std::int64_t>(k);
              c.write_all(buf, k);
              server_out += static_cast<std::int64_t>(k);
              k = 0;
            }
          } catch (const std::system_error&) {
            // A client that closed without reading: reset, or a broken pipe
            // (what was being written back is lost, counted).
            server_lost += static_cast<std::int64_t>(k);
          }
          serving.fetch_sub(1);
        });
      }
    });
    corun::Channel<int> slots(at_once);  // bounds the connections open at once
    corun::WaitGroup wg;
    wg.add(conns);
    for (int i = 0; i < conns; ++i) {
      slots.send(i);
      const std::uint64_t conn_seed = splitmix(seed);
      corun::go([&, i, conn_seed] {
        const auto id = static_cast<std::uint64_t>(i);
        std::uint64_t rnd = conn_seed;
        // How many bytes, in chunks of random size, and whether the
        // client reads everything back or closes early, at random.
        const std::uint64_t total = splitmix(rnd) % 20000;
        const bool abrupt = splitmix(rnd) % 8 == 0;
        TcpStream c = TcpStream::connect(addr);
        std::uint64_t out = 0, back = 0;
        std::vector<unsigned char> chunk(4096);
        std::vector<unsigned char> in(4096);
        // Interleave writes with reads so that neither side's buffers fill.
        while (out < total) {
          const std::uint64_t k = std::min<std::uint64_t>(1 + splitmix(rnd) % 4096, total - out);
          for (std::uint64_t j = 0; j < k; ++j) chunk[j] = byte_at(id, out + j);
          c.write_all(chunk.data(), k);
          sent += static_cast<std::int64_t>(k);
          out += k;
          if (abrupt && splitmix(rnd) % 4 == 0) break;  // closes with echoes unread
          while (back < out) {
            const std::size_t r = c.read(in.data(), std::min<std::uint64_t>(in.size(), out - back));
            if (r == 0) break;
            for (std::size_t j = 0; j < r; ++j) {
              if (in[j] != byte_at(id, back + j)) mismatches.fetch_add(1);
            }
            back += r;
            received += static_cast<std::int64_t>(r);
          }
        }
        if (!abrupt) {
          if (back != total) mismatches.fetch_add(1);  // every byte came back
          c.shutdown();                                // the server sees end of file and closes
          char b;
          if (c.read(&b, 1) != 0) mismatches.fetch_add(1);
          finished.fetch_add(1);
        }
        c.close();
        (void)slots.recv();
        wg.done();
      });
    }
    wg.wait();
    ln.close();
    // The server's connection coroutines end when their clients' ends close.
    while (serving.load() != 0) corun::this_coroutine::sleep_for(std::chrono::milliseconds(1));
  });
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(finished.load(), 0);
  // Every byte a client read back was one it sent, once, in order (checked
  // above); the server wrote back each byte it read.
  EXPECT_LE(received.load(), sent.load());
  EXPECT_LE(server_in.load(), sent.load());
  EXPECT_EQ(server_in.load(), server_out.load() + server_lost.load());
  EXPECT_EQ(open_fds(), fds_before);
}

}  // namespace
