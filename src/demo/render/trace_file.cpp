// trace_file.cpp: see trace_file.hpp.
#include "demo/render/trace_file.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "demo/command.hpp"
#include "demo/render/task_history.hpp"

namespace demo {

namespace {

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// own_descriptor() is N when `path` names this process's descriptor N
// (/proc/self/fd/N, /dev/fd/N: a directory that is /proc/<pid>/fd), else -1.
int own_descriptor(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return -1;
  const std::string name = path.substr(slash + 1);
  if (name.empty() || name.size() > 9 ||
      name.find_first_not_of("0123456789") != std::string::npos) {
    return -1;
  }
  char* real = realpath(directory_of(path).c_str(), nullptr);
  if (real == nullptr) return -1;
  const bool fd_dir = fmt::format("/proc/{}/fd", getpid()) == real;
  std::free(real);
  return fd_dir ? std::stoi(name) : -1;
}

}  // namespace

void TraceFile::unwritable(std::string_view why) const {
  throw UsageError(
      fmt::format("{}: expected a writable file path, got \"{}\" ({})", option_, path_, why));
}

TraceFile::Target TraceFile::resolve(const std::string& path) const {
  // Symbolic links are followed one at a time, like open() does, so that
  // a link to a file that does not exist yet (a dangling link) names the
  // file to create.
  std::string at = path;
  for (int hops = 0; hops < 40; ++hops) {
    if (const int fd = own_descriptor(at); fd >= 0) return {at, Target::kDescriptor, fd};
    struct stat st {};
    if (lstat(at.c_str(), &st) != 0) {
      if (errno == ENOENT) return {at, Target::kMissing, -1};
      unwritable(std::strerror(errno));
    }
    if (!S_ISLNK(st.st_mode)) {
      if (S_ISDIR(st.st_mode)) unwritable("a directory");
      return {at, S_ISREG(st.st_mode) ? Target::kRegular : Target::kOther, -1};
    }
    std::string link(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 4095) + 1, '\0');
    const ssize_t n = readlink(at.c_str(), link.data(), link.size());
    if (n < 0) unwritable(std::strerror(errno));
    link.resize(static_cast<std::size_t>(n));
    at = link.starts_with('/') ? link : directory_of(at) + "/" + link;
  }
  unwritable(std::strerror(ELOOP));
}

bool TraceFile::may_replace(const struct stat& st, const std::string& path) {
  // Root may write any file (access() says yes): like rm, which asks before
  // removing a write-protected file even for root, a file that nobody may
  // write is left alone. Everyone else: what the kernel would let them open.
  if (geteuid() == 0) return (st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) != 0;
  return faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0;
}

TraceFile::TraceFile(std::string path, std::string_view option)
    : path_(std::move(path)), option_(option) {
  if (path_.empty()) throw UsageError(fmt::format("{}: expected a file path, got \"\"", option_));
  const Target target = resolve(path_);
  if (target.kind == Target::kDescriptor) {
    // /dev/stdout and the like: this process's own descriptor, written
    // where it stands (a pipe, a terminal, after what stdout got so far).
    fd_ = fcntl(target.fd, F_DUPFD_CLOEXEC, 3);
    if (fd_ < 0) unwritable(std::strerror(errno));
    return;
  }
  if (target.kind == Target::kOther) {
    // A device or a pipe (/dev/null, a FIFO): written in place. A temporary
    // file renamed over it would replace the node itself.
    fd_ = open(target.path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) unwritable(std::strerror(errno));
    return;
  }
  struct stat st {};
  const bool exists = target.kind == Target::kRegular && stat(target.path.c_str(), &st) == 0;
  if (exists && !may_replace(st, target.path)) unwritable("the file is read-only");
  // The new file is made next to the final one (the link's target), so
  // that the rename is atomic and the links stay links.
  std::string templ = target.path + ".tmp.XXXXXX";
  fd_ = mkstemp(templ.data());
  if (fd_ < 0) unwritable(std::strerror(errno));
  temp_path_ = templ;
  final_path_ = target.path;
  // mkstemp() makes the file 0600: a replaced file keeps its mode, a new
  // one gets the usual 0666 & ~umask.
  mode_t mode = st.st_mode & 07777;
  if (!exists) {
    const mode_t mask = umask(0);
    umask(mask);
    mode = 0666 & ~mask;
  }
  fchmod(fd_, mode);
}

TraceFile::~TraceFile() {
  if (fd_ >= 0) close(fd_);
  if (!temp_path_.empty()) unlink(temp_path_.c_str());
}

void TraceFile::commit(std::string_view contents) {
  auto fail = [&](const char* what) {
    const std::string reason = std::strerror(errno);
    throw std::runtime_error(fmt::format("{}: {} \"{}\": {}", option_, what, path_, reason));
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
  if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0) fail("cannot rename the trace to");
  temp_path_.clear();
}

ChromeTrace::ChromeTrace() {
  w_.begin_object().field("displayTimeUnit", "ms").key("traceEvents").begin_array();
}

namespace {

// state_name() is a coroutine track's slice name: "running on P0",
// "runnable", "sleeping", "blocked: chan receive".
std::string state_name(const StateSpan& s) {
  switch (s.state) {
    case TaskState::kRunning:
      return fmt::format("running on P{}", s.worker);
    case TaskState::kBlocked:
      return fmt::format("blocked: {}", *s.wait != '\0' ? s.wait : "unknown");
    default:
      return to_string(s.state);
  }
}

double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

}  // namespace

void ChromeTrace::add_run(int pid, std::string_view name, int procs,
                          const std::vector<corun::TraceEvent>& events, const TaskLabels& labels,
                          bool interrupted, const std::vector<CpuSample>& cpu) {
  auto metadata = [&](int process, std::string_view what, std::int64_t tid, auto value,
                      std::string_view arg) {
    w_.begin_object().field("name", what).field("ph", "M").field("pid", process);
    if (tid >= 0) w_.field("tid", tid);
    w_.key("args").begin_object().field(arg, value).end_object().end_object();
  };
  const std::string title =
      interrupted ? fmt::format("{} (interrupted by Ctrl-C)", name) : std::string(name);
  metadata(pid, "process_name", -1, title, "name");
  metadata(pid, "process_sort_index", -1, pid, "sort_index");
  for (int p = 0; p < procs; ++p) {
    metadata(pid, "thread_name", p, fmt::format("P{}", p), "name");
    metadata(pid, "thread_sort_index", p, p, "sort_index");
  }
  auto task_name = [&](std::uint64_t coroutine) {
    const auto it = labels.find(coroutine);
    return it != labels.end() ? it->second.name : fmt::format("G{}", coroutine);
  };
  const std::vector<RunSlice> slices = run_slices(events);
  for (const RunSlice& s : slices) {
    const std::string task = task_name(s.coroutine);
    w_.begin_object()
        .field("name", task)
        .field("cat", "coroutine")
        .field("ph", "X")
        .field("ts", us(s.start_ns))
        .field("dur", us(s.end_ns - s.start_ns))
        .field("pid", pid)
        .field("tid", s.worker);
    w_.key("args").begin_object().field("coroutine", s.coroutine).field("task", task);
    w_.field("stop", corun::to_string(s.reason));
    if (s.wait != nullptr && *s.wait != '\0') w_.field("wait", s.wait);
    w_.end_object().end_object();
  }

  // Off CPU: per worker, a counter of the share of the time its thread held
  // a task that it was off the CPU, one value per sampled stretch.
  const OffCpu off_cpu(slices, cpu, procs);
  for (int p = 0; p < procs && off_cpu.known(); ++p) {
    const std::string counter = fmt::format("P{} off CPU", p);
    auto value = [&](std::int64_t ns, double percent) {
      w_.begin_object()
          .field("name", counter)
          .field("cat", "os")
          .field("ph", "C")
          .field("ts", us(ns))
          .field("pid", pid);
      w_.key("args").begin_object().field("% of held time", percent).end_object().end_object();
    };
    for (const OffCpuStretch& st : off_cpu.stretches(p)) {
      value(st.start_ns, 100.0 * st.off_share());
    }
    if (!off_cpu.stretches(p).empty()) value(off_cpu.stretches(p).back().end_ns, 0.0);
  }

  // The coroutines: a process of their own (so Perfetto groups their tracks
  // apart from the workers'), a track each, its states tiling its life.
  const TaskHistory history = task_history(events);
  const int tasks_pid = kCoroutinePidBase + pid;
  metadata(tasks_pid, "process_name", -1, title + ": coroutines", "name");
  metadata(tasks_pid, "process_sort_index", -1, tasks_pid, "sort_index");
  for (const TaskTrack& t : history.tasks) {
    const auto tid = static_cast<std::int64_t>(t.coroutine);
    metadata(tasks_pid, "thread_name", tid,
             fmt::format("{} (G{})", task_name(t.coroutine), t.coroutine), "name");
    metadata(tasks_pid, "thread_sort_index", tid, tid, "sort_index");
    for (const StateSpan& s : t.spans) {
      w_.begin_object()
          .field("name", state_name(s))
          .field("cat", "state")
          .field("ph", "X")
          .field("ts", us(s.start_ns))
          .field("dur", us(s.end_ns - s.start_ns))
          .field("pid", tasks_pid)
          .field("tid", tid);
      w_.key("args").begin_object().field("state", to_string(s.state));
      if (s.state == TaskState::kRunning) {
        w_.field("worker", s.worker).field("stop", corun::to_string(s.why));
      }
      if (s.state == TaskState::kBlocked) w_.field("wait", s.wait);
      w_.end_object().end_object();
    }
  }

  // Flows: a wake-up from the waker's run (or, for a timer or a thread,
  // from the woken coroutine's own track) to the woken coroutine's next
  // run; a steal from the victim worker to the thief's next run.
  auto flow = [&](std::string_view phase, std::string_view flow_name, std::string_view cat,
                  std::int64_t id, std::int64_t ns, int process, std::int64_t tid, bool enclosing) {
    w_.begin_object()
        .field("name", flow_name)
        .field("cat", cat)
        .field("ph", phase)
        .field("id", id)
        .field("ts", us(ns))
        .field("pid", process)
        .field("tid", tid);
    if (enclosing) w_.field("bp", "e");
    w_.end_object();
  };
  for (const Wakeup& wk : history.wakeups) {
    if (wk.run_ns < 0) continue;  // never ran again in the trace
    const std::int64_t id = ++flows_;
    const bool by_coroutine = wk.waker != 0 && history.find(wk.waker) != nullptr;
    const std::string what = by_coroutine ? fmt::format("woken by G{}", wk.waker)
                             : wk.timer   ? std::string("timer fired")
                                          : std::string("woken by a thread");
    flow("s", what, "wakeup", id, wk.time_ns, tasks_pid,
         static_cast<std::int64_t>(by_coroutine ? wk.waker : wk.coroutine), false);
    flow("f", what, "wakeup", id, wk.run_ns, tasks_pid, static_cast<std::int64_t>(wk.coroutine),
         true);
  }
  for (const Steal& st : history.steals) {
    const std::int64_t id = ++flows_;
    const std::string what = fmt::format("P{} stole {} from P{}", st.thief, st.count, st.victim);
    flow("s", what, "steal", id, st.time_ns, pid, st.victim, false);
    flow("f", what, "steal", id, st.time_ns, pid, st.thief, false);
    w_.begin_object()
        .field("name", what)
        .field("cat", "scheduler")
        .field("ph", "i")
        .field("s", "t")
        .field("ts", us(st.time_ns))
        .field("pid", pid)
        .field("tid", st.thief);
    w_.key("args")
        .begin_object()
        .field("from", fmt::format("P{}", st.victim))
        .field("coroutines", st.count)
        .end_object()
        .end_object();
  }
  // The end of the run: where every coroutine still alive stops being drawn.
  w_.begin_object()
      .field("name", interrupted ? "end of the run (interrupted by Ctrl-C)" : "end of the run")
      .field("cat", "scheduler")
      .field("ph", "i")
      .field("s", "g")
      .field("ts", us(history.end_ns))
      .field("pid", pid)
      .field("tid", 0);
  w_.key("args").begin_object().field("end_ns", history.end_ns).end_object().end_object();
}

std::string ChromeTrace::json() const {
  JsonWriter done = w_;
  done.end_array().end_object();
  return done.str();
}

}  // namespace demo
