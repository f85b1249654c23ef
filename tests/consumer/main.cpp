// A program of corun's users, built against the installed package (see
// check_install.cmake): coroutines on two workers send their squares over a
// channel, a WaitGroup closes it when all are sent, main adds them up.
#include <corun/corun.hpp>
#include <cstdint>
#include <cstdio>

int main() {
  constexpr std::int64_t kTasks = 100;
  std::int64_t sum = 0;
  corun::run({.procs = 2}, [&] {
    corun::Channel<std::int64_t> squares(4);
    corun::WaitGroup wg;
    for (std::int64_t i = 1; i <= kTasks; ++i) {
      wg.add(1);
      corun::go([=, &wg]() mutable {
        corun::this_coroutine::yield();
        squares.send(i * i);
        wg.done();
      });
    }
    corun::go([&] {
      wg.wait();
      squares.close();
    });
    for (std::int64_t v : squares) sum += v;
  });
  constexpr std::int64_t kExpected = kTasks * (kTasks + 1) * (2 * kTasks + 1) / 6;
  if (sum != kExpected) {
    std::fprintf(stderr, "consumer: expected a sum of squares of %lld, got %lld\n",
                 static_cast<long long>(kExpected), static_cast<long long>(sum));
    return 1;
  }
  std::printf("consumer: sum of squares 1..%lld = %lld\n", static_cast<long long>(kTasks),
              static_cast<long long>(sum));
  return 0;
}
