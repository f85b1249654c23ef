// conformance_gochan_test.cpp: the programs of Go's test/chan directory
// (fifo.go, doubleselect.go, sieve1.go) as tests.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "conformance_support.hpp"
#include "corun/corun.hpp"

namespace {

using corun::Channel;
using corun::make_channel;
using corun::conformance::ConformanceTest;

using ConformanceGoChan = ConformanceTest;
CORUN_AT_PROCS(ConformanceGoChan);

// fifo.go: AsynchFifo and SynchFifo.
TEST_P(ConformanceGoChan, Fifo) {
  go_main([] {
    constexpr int N = 10;
    {
      auto ch = make_channel<int>(N);
      for (int i = 0; i < N; ++i) ch.send(i);
      for (int i = 0; i < N; ++i) ASSERT_EQ(ch.recv(), i) << "bad receive";
    }
    {
      // Thread together a daisy chain to read the elements in sequence.
      auto ch = make_channel<int>();
      auto in = make_channel<int>();
      auto start = in;
      for (int i = 0; i < N; ++i) {
        auto out = make_channel<int>();
        corun::go([ch, val = i, in, out]() mutable {
          (void)in.recv();
          EXPECT_EQ(ch.recv(), val);
          out.send(1);
        });
        in = out;
      }
      start.send(0);
      for (int i = 0; i < N; ++i) ch.send(i);
      (void)in.recv();
    }
  });
}

// doubleselect.go: a sender selects over four channels; if two cases of one
// select both ran, a value would arrive twice.
TEST_P(ConformanceGoChan, DoubleSelect) {
  go_main([] {
    const int iterations = SCALED(100000, 10000);
    auto c1 = make_channel<int>();
    auto c2 = make_channel<int>();
    auto c3 = make_channel<int>();
    auto c4 = make_channel<int>();
    auto done = make_channel<bool>();
    auto cmux = make_channel<int>();
    // sender sends a counter to one of four different channels.
    corun::go([=]() mutable {
      for (int i = 0; i < iterations; ++i) {
        corun::select(corun::send(c1, i), corun::send(c2, i), corun::send(c3, i),
                      corun::send(c4, i));
      }
      c4.close();
      c3.close();
      c2.close();
      c1.close();
    });
    // mux receives the values from the sender and forwards them to cmux.
    for (Channel<int> in : {c1, c2, c3, c4}) {
      corun::go([out = cmux, in, done]() mutable {
        for (int v : in) out.send(v);
        done.send(true);
      });
    }
    corun::go([done, cmux]() mutable {
      for (int i = 0; i < 4; ++i) (void)done.recv();
      cmux.close();
    });
    // recver checks for duplicates.
    std::vector<bool> seen(static_cast<std::size_t>(iterations));
    int n = 0;
    for (int v : cmux) {
      ASSERT_FALSE(seen[static_cast<std::size_t>(v)]) << "got duplicate value: " << v;
      seen[static_cast<std::size_t>(v)] = true;
      ++n;
    }
    EXPECT_EQ(n, iterations);
  });
}

// sieve1.go: the concurrent prime sieve, daisy-chaining filter coroutines.
TEST_P(ConformanceGoChan, Sieve1) {
  go_main([] {
    // Send the sequence 2, 3, 4, ... to channel 'ch'.
    auto generate = [](Channel<int> ch) {
      for (int i = 2;; ++i) ch.send(i);
    };
    // Copy the values from 'in' to 'out', removing those divisible by 'prime'.
    auto filter = [](Channel<int> in, Channel<int> out, int prime) {
      for (int i : in) {
        if (i % prime != 0) out.send(i);
      }
    };
    auto ch = make_channel<int>();
    corun::go([=] { generate(ch); });
    std::vector<int> primes;
    for (;;) {
      const int prime = *ch.recv();
      if (prime > 100) break;
      primes.push_back(prime);
      auto ch1 = make_channel<int>();
      corun::go([=] { filter(ch, ch1, prime); });
      ch = ch1;
    }
    // The generator and filters stay blocked: corun::run cancels them.
    EXPECT_EQ(primes, (std::vector<int>{2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                                        43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97}));
  });
}

}  // namespace
