// conformance_chan_test.cpp: Go's runtime/chan_test.go, test for test, on
// corun's Channel and select. Each runs at procs 1, 2, 4 and 8.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conformance_support.hpp"
#include "corun/corun.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Channel;
using corun::make_channel;
using corun::otherwise;
using corun::recv;
using corun::select;
using corun::send;
using corun::conformance::ConformanceTest;
namespace this_coroutine = corun::this_coroutine;

using ConformanceChan = ConformanceTest;
CORUN_AT_PROCS(ConformanceChan);

// TestChan steps through capacities 0..199 (Go runs every one; a sample
// keeps the four worker counts fast while covering small, odd and large).
TEST_P(ConformanceChan, TestChan) {
  go_main([] {
    for (std::size_t cap : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 31, 50, 64, 99, 128, 150, 199}) {
      // (No SCOPED_TRACE: its stack is per thread, and coroutines migrate.)
      const std::string where = "chan[" + std::to_string(cap) + "]: ";
      {
        // Ensure that receive from empty chan blocks.
        auto c = make_channel<int>(cap);
        std::atomic<bool> recv1{false}, recv2{false};
        corun::go([c, &recv1]() mutable {
          (void)c.recv();
          recv1 = true;
        });
        corun::go([c, &recv2]() mutable {
          (void)c.recv();
          recv2 = true;
        });
        this_coroutine::sleep_for(1ms);
        ASSERT_FALSE(recv1 || recv2) << where << "receive from empty chan";
        // Ensure that non-blocking receive does not block.
        ASSERT_EQ(select(recv(c), otherwise()), 1u) << where << "receive from empty chan";
        ASSERT_EQ(select(recv(c, [](std::optional<int>) {}), otherwise()), 1u) << where;
        c.send(0);
        c.send(0);
        while (!recv1 || !recv2) this_coroutine::yield();
      }
      {
        // Ensure that send to full chan blocks.
        auto c = make_channel<int>(cap);
        for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
        std::atomic<bool> sent{false};
        corun::go([c, &sent]() mutable {
          c.send(0);
          sent = true;
        });
        this_coroutine::sleep_for(1ms);
        ASSERT_FALSE(sent) << where << "send to full chan";
        // Ensure that non-blocking send does not block.
        ASSERT_EQ(select(send(c, 0), otherwise()), 1u) << where << "send to full chan";
        (void)c.recv();
        while (!sent) this_coroutine::yield();
      }
      {
        // Ensure that we receive 0 from closed chan.
        auto c = make_channel<int>(cap);
        for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
        c.close();
        for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(c.recv(), static_cast<int>(i)) << where;
        ASSERT_EQ(c.recv(), std::nullopt) << where;
        ASSERT_EQ(c.recv(), std::nullopt) << where;
      }
      {
        // Ensure that close unblocks receive.
        auto c = make_channel<int>(cap);
        auto done = make_channel<bool>();
        corun::go([c, done]() mutable { done.send(!c.recv().has_value()); });
        this_coroutine::sleep_for(1ms);
        c.close();
        ASSERT_EQ(done.recv(), true) << where << "received a value from closed chan";
      }
      {
        // Send 100 integers, ensure that we receive them non-corrupted in
        // FIFO order.
        auto c = make_channel<int>(cap);
        corun::go([c]() mutable {
          for (int i = 0; i < 100; ++i) c.send(i);
        });
        for (int i = 0; i < 100; ++i) ASSERT_EQ(c.recv(), i) << where;

        // Send 1000 integers in 4 coroutines, ensure that we receive what we
        // send.
        constexpr int P = 4;
        constexpr int L = 1000;
        for (int p = 0; p < P; ++p) {
          corun::go([c]() mutable {
            for (int i = 0; i < L; ++i) c.send(i);
          });
        }
        auto done = make_channel<std::map<int, int>>();
        for (int p = 0; p < P; ++p) {
          corun::go([c, done]() mutable {
            std::map<int, int> got;
            for (int i = 0; i < L; ++i) ++got[*c.recv()];
            done.send(std::move(got));
          });
        }
        std::map<int, int> got;
        for (int p = 0; p < P; ++p) {
          const std::map<int, int> part = *done.recv();
          for (auto [k, v] : part) got[k] += v;
        }
        ASSERT_EQ(got.size(), static_cast<std::size_t>(L)) << where;
        for (auto [k, v] : got) ASSERT_EQ(v, P) << where << "value " << k;
      }
      {
        // Test len/cap.
        auto c = make_channel<int>(cap);
        ASSERT_EQ(c.len(), 0u) << where;
        ASSERT_EQ(c.cap(), cap) << where;
        for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
        ASSERT_EQ(c.len(), cap) << where;
        ASSERT_EQ(c.cap(), cap) << where;
      }
    }
  });
}

TEST_P(ConformanceChan, TestNonblockRecvRace) {
  go_main([] {
    const int n = SCALED(10000, 1000);
    auto ready = make_channel<bool>(1);
    for (int i = 0; i < n; ++i) {
      auto c = make_channel<int>(1);
      c.send(1);
      corun::go([c, ready]() mutable {
        bool ok = true;
        select(recv(c), otherwise([&] { ok = false; }));
        ready.send(ok);
      });
      c.close();
      (void)c.recv();
      ASSERT_EQ(ready.recv(), true) << "chan is not ready";
    }
  });
}

// This test checks that select acts on the state of the channels at one
// moment in the execution, not over a smeared time window. One coroutine
// makes c1 ready, starts a second, makes c2 ready, then makes c1 not ready
// (if it can). The second does a non-blocking select receiving from c1 and
// c2: one of them is always ready, so it must never take the default case.
TEST_P(ConformanceChan, TestNonblockSelectRace) {
  go_main([] {
    const int n = SCALED(100000, 5000);
    auto done = make_channel<bool>(1);
    for (int i = 0; i < n; ++i) {
      auto c1 = make_channel<int>(1);
      auto c2 = make_channel<int>(1);
      c1.send(1);
      corun::go([c1, c2, done]() mutable {
        bool ok = true;
        select(recv(c1), recv(c2), otherwise([&] { ok = false; }));
        done.send(ok);
      });
      c2.send(1);
      select(recv(c1), otherwise());
      ASSERT_EQ(done.recv(), true) << "no chan is ready";
    }
  });
}

// Same as TestNonblockSelectRace, but close(c2) replaces c2 <- 1.
TEST_P(ConformanceChan, TestNonblockSelectRace2) {
  go_main([] {
    const int n = SCALED(100000, 5000);
    auto done = make_channel<bool>(1);
    for (int i = 0; i < n; ++i) {
      auto c1 = make_channel<int>(1);
      auto c2 = make_channel<int>();
      c1.send(1);
      corun::go([c1, c2, done]() mutable {
        bool ok = true;
        select(recv(c1), recv(c2), otherwise([&] { ok = false; }));
        done.send(ok);
      });
      c2.close();
      select(recv(c1), otherwise());
      ASSERT_EQ(done.recv(), true) << "no chan is ready";
    }
  });
}

// Ensure that send/recv on the same chan in select does not crash nor
// deadlock, and that a select never receives its own value.
TEST_P(ConformanceChan, TestSelfSelect) {
  go_main([] {
    for (std::size_t cap : {0u, 10u}) {
      corun::WaitGroup wg;
      wg.add(2);
      auto c = make_channel<int>(cap);
      for (int p = 0; p < 2; ++p) {
        corun::go([c, p, cap, &wg] {
          auto check = [&](std::optional<int> v) {
            EXPECT_FALSE(cap == 0 && v == p) << "self receive";
          };
          for (int i = 0; i < 1000; ++i) {
            if (p == 0 || i % 2 == 0) {
              select(send(c, p), recv(c, check));
            } else {
              select(recv(c, check), send(c, p));
            }
          }
          wg.done();
        });
      }
      wg.wait();
    }
  });
}

TEST_P(ConformanceChan, TestSelectStress) {
  go_main([] {
    std::array<Channel<int>, 4> c = {make_channel<int>(0), make_channel<int>(0),
                                     make_channel<int>(2), make_channel<int>(3)};
    const int N = SCALED(100000, 10000);
    // There are 4 coroutines that send N values on each of the chans, 4 that
    // receive N values on each of the chans, 1 that sends N values on each
    // of the chans in a single select, and 1 that receives N values on each
    // of the chans in a single select. All these sends, receives and selects
    // interact chaotically at runtime, but this whole construct must not
    // deadlock.
    corun::WaitGroup wg;
    wg.add(10);
    for (int k = 0; k < 4; ++k) {
      corun::go([ch = c[k], N, &wg]() mutable {
        for (int i = 0; i < N; ++i) ch.send(0);
        wg.done();
      });
      corun::go([ch = c[k], N, &wg]() mutable {
        for (int i = 0; i < N; ++i) (void)ch.recv();
        wg.done();
      });
    }
    corun::go([c, N, &wg]() mutable {
      std::array<int, 4> n{};
      auto c1 = c;
      auto sent = [&](int k) {
        return [&, k] {
          if (++n[k] == N) c1[k] = Channel<int>{};
        };
      };
      for (int i = 0; i < 4 * N; ++i) {
        select(send(c1[3], 0, sent(3)), send(c1[2], 0, sent(2)), send(c1[0], 0, sent(0)),
               send(c1[1], 0, sent(1)));
      }
      wg.done();
    });
    corun::go([c, N, &wg]() mutable {
      std::array<int, 4> n{};
      auto c1 = c;
      auto received = [&](int k) {
        return [&, k] {
          if (++n[k] == N) c1[k] = Channel<int>{};
        };
      };
      for (int i = 0; i < 4 * N; ++i) {
        select(recv(c1[0], received(0)), recv(c1[1], received(1)), recv(c1[2], received(2)),
               recv(c1[3], received(3)));
      }
      wg.done();
    });
    wg.wait();
  });
}

TEST_P(ConformanceChan, TestSelectFairness) {
  go_main([] {
    constexpr int kTrials = 10000;
    auto c1 = make_channel<char>(kTrials + 1);
    auto c2 = make_channel<char>(kTrials + 1);
    for (int i = 0; i < kTrials + 1; ++i) {
      c1.send(1);
      c2.send(2);
    }
    auto c3 = make_channel<char>();
    auto c4 = make_channel<char>();
    auto out = make_channel<char>();
    auto done = make_channel<char>();
    corun::WaitGroup wg;
    wg.add(1);
    corun::go([=, &wg] {
      for (;;) {
        char b = 0;
        auto take = [&](std::optional<char> v) { b = *v; };
        select(recv(c3, take), recv(c4, take), recv(c1, take), recv(c2, take));
        if (select(send(out, b), recv(done)) == 1) break;
      }
      wg.done();
    });
    int cnt1 = 0, cnt2 = 0;
    for (int i = 0; i < kTrials; ++i) {
      const char b = *out.recv();
      if (b == 1) {
        ++cnt1;
      } else if (b == 2) {
        ++cnt2;
      } else {
        FAIL() << "unexpected value " << int{b} << " on channel";
      }
    }
    // If the select is fair, cnt1 and cnt2 are about the same: fail beyond
    // 4.9 sigma (1 in a million).
    const double r = static_cast<double>(cnt1) / kTrials;
    EXPECT_LE(std::abs(r - 0.5), 0.0245) << "unfair select: " << cnt1 << ", " << cnt2;
    done.close();
    wg.wait();
  });
}

TEST_P(ConformanceChan, TestPseudoRandomSend) {
  go_main([] {
    constexpr int n = 100;
    for (std::size_t cap : {std::size_t{0}, std::size_t{n}}) {
      auto c = make_channel<int>(cap);
      std::vector<int> l(n);
      corun::WaitGroup wg;
      wg.add(1);
      corun::go([c, &l, &wg]() mutable {
        for (int i = 0; i < n; ++i) {
          this_coroutine::yield();
          l[i] = *c.recv();
        }
        wg.done();
      });
      for (int i = 0; i < n; ++i) select(send(c, 1), send(c, 0));
      wg.wait();
      int n0 = 0, n1 = 0;
      for (int i : l) {
        n0 += (i + 1) % 2;
        n1 += i;
      }
      EXPECT_GT(n0, n / 10) << "want pseudorandom, got " << n0 << " zeros and " << n1
                            << " ones (chan cap " << cap << ")";
      EXPECT_GT(n1, n / 10) << "want pseudorandom, got " << n0 << " zeros and " << n1
                            << " ones (chan cap " << cap << ")";
    }
  });
}

TEST_P(ConformanceChan, TestMultiConsumer) {
  go_main([] {
    constexpr int kWork = 23;
    constexpr int kIter = 271828;
    static constexpr std::array<int, 10> pn = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
    auto q = make_channel<int>(kWork * 3);
    auto r = make_channel<int>(kWork * 3);

    // workers
    corun::WaitGroup wg;
    for (int i = 0; i < kWork; ++i) {
      wg.add(1);
      corun::go([q, r, w = i, &wg]() mutable {
        for (int v : q) {
          // mess with the fifo-ish nature of range
          if (pn[w % pn.size()] == v) this_coroutine::yield();
          r.send(v);
        }
        wg.done();
      });
    }

    // feeder & closer
    long expect = 0;
    corun::go([q, r, &expect, &wg]() mutable {
      for (int i = 0; i < kIter; ++i) {
        const int v = pn[i % pn.size()];
        expect += v;
        q.send(v);
      }
      q.close();  // no more work
      wg.wait();  // workers done
      r.close();  // ... so there can be no more results
    });

    // consume & check
    long n = 0, s = 0;
    for (int v : r) {
      ++n;
      s += v;
    }
    EXPECT_EQ(n, kIter);
    EXPECT_EQ(s, expect);
  });
}

// TestSelectDuplicateChannel makes sure a coroutine can be queued on the
// same channel several times.
TEST_P(ConformanceChan, TestSelectDuplicateChannel) {
  go_main([] {
    auto c = make_channel<int>();
    auto d = make_channel<int>();
    auto e = make_channel<int>();

    // coroutine A
    corun::go([c, d, e]() mutable {
      select(recv(c), recv(c), recv(d));
      e.send(9);
    });
    this_coroutine::sleep_for(1ms);  // make sure A gets queued first on c

    // coroutine B
    corun::go([c]() mutable { (void)c.recv(); });
    this_coroutine::sleep_for(1ms);  // make sure B gets queued on c before continuing

    d.send(7);       // wake up A, it dequeues itself from c; this used to corrupt c.recvq
    (void)e.recv();  // A tells us it's done
    c.send(8);       // wake up B; this used to wake an already running coroutine instead
  });
}

}  // namespace
