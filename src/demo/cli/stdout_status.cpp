// stdout_status.cpp: see stdout_status.hpp.
#include "demo/cli/stdout_status.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "demo/command.hpp"

namespace demo {

namespace {

// The errno of the first failed write to stdout; 0: none yet (or a failure
// whose reason is unknown, see finish_stdout()).
std::atomic<int> g_stdout_errno{0};

void note_stdout_failure(int err) noexcept {
  int none = 0;
  g_stdout_errno.compare_exchange_strong(none, err != 0 ? err : EIO);
}

}  // namespace

void reserve_standard_descriptors() noexcept {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    // open() returns the lowest free number: `fd`, as the lower ones are
    // open by now.
    const int got = open("/dev/null", (fd == 0 ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    if (got >= 0 && got != fd) close(got);
  }
}

bool write_stream(std::FILE* stream, std::string_view text) noexcept {
  errno = 0;
  const bool ok =
      std::fwrite(text.data(), 1, text.size(), stream) == text.size() && std::fflush(stream) == 0;
  if (!ok && stream == stdout) note_stdout_failure(errno);
  return ok;
}

int finish_stdout(int code) noexcept {
  errno = 0;
  const bool failed_before = std::ferror(stdout) != 0;
  if (std::fflush(stdout) != 0) note_stdout_failure(errno);
  errno = 0;
  if (std::fclose(stdout) != 0) note_stdout_failure(errno);
  if (code != kExitOk) return code;
  const int err = g_stdout_errno.load();
  if (err == 0 && !failed_before) return code;
  if (err == EPIPE) return kExitBrokenPipe;
  if (err == 0) {
    std::fputs("demo: error writing standard output\n", stderr);
  } else {
    std::fprintf(stderr, "demo: error writing standard output: %s\n", std::strerror(err));
  }
  return kExitFailure;
}

}  // namespace demo
