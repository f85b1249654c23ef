// trace_file.cpp: see trace_file.hpp.
#include "demo/trace_file.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "demo/command.hpp"

namespace demo {

TraceFile::TraceFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw UsageError("--trace: expected a file path, got \"\"");
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw UsageError(
        fmt::format("--trace: expected a writable file path, got \"{}\" (a directory)", path_));
  }
  if (stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A device or a pipe (/dev/null, /dev/stdout, a FIFO): written in place.
    // A temporary file renamed over it would replace the node itself.
    fd_ = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) {
      throw UsageError(fmt::format("--trace: expected a writable file path, got \"{}\" ({})", path_,
                                   std::strerror(errno)));
    }
    return;
  }
  std::string templ = path_ + ".tmp.XXXXXX";
  fd_ = mkstemp(templ.data());
  if (fd_ < 0) {
    throw UsageError(fmt::format("--trace: expected a writable file path, got \"{}\" ({})", path_,
                                 std::strerror(errno)));
  }
  temp_path_ = templ;
  // mkstemp() makes the file 0600; give the trace the usual 0666 & ~umask.
  const mode_t mask = umask(0);
  umask(mask);
  fchmod(fd_, 0666 & ~mask);
}

TraceFile::~TraceFile() {
  if (fd_ >= 0) close(fd_);
  if (!temp_path_.empty()) unlink(temp_path_.c_str());
}

void TraceFile::commit(std::string_view contents) {
  auto fail = [&](const char* what) {
    const std::string reason = std::strerror(errno);
    throw std::runtime_error(fmt::format("--trace: {} \"{}\": {}", what, path_, reason));
  };
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = write(fd_, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  const bool in_place = temp_path_.empty();  // a device or a pipe: no fsync, no rename
  if (!in_place && fsync(fd_) != 0) fail("cannot write");
  const int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0) fail("cannot write");
  if (in_place) return;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("cannot rename the trace to");
  temp_path_.clear();
}

ChromeTrace::ChromeTrace() {
  w_.begin_object().field("displayTimeUnit", "ms").key("traceEvents").begin_array();
}

void ChromeTrace::add_run(int pid, std::string_view name, int procs,
                          const std::vector<corun::TraceEvent>& events, const TaskLabels& labels) {
  auto metadata = [&](std::string_view what, int tid, auto value, std::string_view arg) {
    w_.begin_object().field("name", what).field("ph", "M").field("pid", pid);
    if (tid >= 0) w_.field("tid", tid);
    w_.key("args").begin_object().field(arg, value).end_object().end_object();
  };
  metadata("process_name", -1, name, "name");
  metadata("process_sort_index", -1, pid, "sort_index");
  for (int p = 0; p < procs; ++p) {
    metadata("thread_name", p, fmt::format("P{}", p), "name");
    metadata("thread_sort_index", p, p, "sort_index");
  }
  for (const RunSlice& s : run_slices(events)) {
    const auto it = labels.find(s.coroutine);
    const std::string task = it != labels.end() ? it->second.name : fmt::format("G{}", s.coroutine);
    w_.begin_object()
        .field("name", task)
        .field("cat", "coroutine")
        .field("ph", "X")
        .field("ts", static_cast<double>(s.start_ns) / 1e3)
        .field("dur", static_cast<double>(s.end_ns - s.start_ns) / 1e3)
        .field("pid", pid)
        .field("tid", s.worker);
    w_.key("args").begin_object().field("coroutine", s.coroutine).field("task", task);
    w_.field("stop", corun::to_string(s.reason));
    if (s.wait != nullptr && *s.wait != '\0') w_.field("wait", s.wait);
    w_.end_object().end_object();
  }
  for (const corun::TraceEvent& e : events) {
    if (e.kind != corun::TraceKind::kSteal || e.worker < 0) continue;
    w_.begin_object()
        .field("name", "steal")
        .field("cat", "scheduler")
        .field("ph", "i")
        .field("s", "t")
        .field("ts", static_cast<double>(e.time_ns) / 1e3)
        .field("pid", pid)
        .field("tid", e.worker);
    w_.key("args")
        .begin_object()
        .field("from", fmt::format("P{}", e.coroutine))
        .field("coroutines", e.arg)
        .end_object()
        .end_object();
  }
}

std::string ChromeTrace::json() const {
  JsonWriter done = w_;
  done.end_array().end_object();
  return done.str();
}

}  // namespace demo
