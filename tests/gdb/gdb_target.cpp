// gdb_target.cpp: the program tools/gdb/corun-gdb.py is tested on
// (run_gdb_test.py): three coroutines parked in a channel receive, two in a
// sleep, one reading an empty pipe (an I/O wait), and a function to stop in
// once they all are. Built like a user's
// program: no debug information.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "corun/corun.hpp"

extern "C" {
// The ids the test asks `corun bt` for.
volatile unsigned long gdb_test_receiver_id = 0;
volatile unsigned long gdb_test_sleeper_id = 0;

// The debugger stops here, once every coroutine is parked.
__attribute__((noinline)) void gdb_test_ready() { asm volatile("" ::: "memory"); }
}

__attribute__((noinline)) void gdb_test_receiver(corun::Channel<int> ch) {
  (void)ch.recv();
  asm volatile("");  // not a tail call: this frame stays on the stack
}

__attribute__((noinline)) void gdb_test_sleeper() {
  corun::this_coroutine::sleep_for(std::chrono::hours(1));
  asm volatile("");
}

__attribute__((noinline)) void gdb_test_reader(int fd) {
  corun::io::Fd in(fd);
  char byte = 0;
  (void)in.read(&byte, 1);  // end of file once main closes the write end
  asm volatile("");
}

int main() {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return 1;
  corun::Runtime rt(corun::Config{.procs = 2});
  rt.go([fd = pipe_fds[0]] { gdb_test_reader(fd); });
  auto ch = corun::make_channel<int>();
  for (int i = 0; i < 3; ++i) {
    const auto id = rt.go([ch] { gdb_test_receiver(ch); });
    if (i == 0) gdb_test_receiver_id = id;
  }
  for (int i = 0; i < 2; ++i) {
    const auto id = rt.go([] { gdb_test_sleeper(); });
    if (i == 0) gdb_test_sleeper_id = id;
  }
  // Parked, all of them: the dump lists them so (at most 20 s).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    const std::string dump = rt.coroutine_dump();
    if (dump.find("3 coroutines [chan receive") != std::string::npos &&
        dump.find("2 coroutines [sleep") != std::string::npos &&
        dump.find(" [I/O wait") != std::string::npos &&
        dump.find("running") == std::string::npos) {  // and each worker back on its loop
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "gdb_target: the coroutines did not park within 20 s:\n%s",
                   dump.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  gdb_test_ready();
  ch.close();
  close(pipe_fds[1]);
  return 0;  // the sleepers are cancelled as rt ends
}
