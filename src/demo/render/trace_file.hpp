// trace_file.hpp: --trace FILE, the run as Chrome/Perfetto trace JSON
// (open it in ui.perfetto.dev or chrome://tracing).
//
// The format: {"displayTimeUnit":"ms","traceEvents":[...]} with, per run,
// two processes: the workers (pid N, the run's number) and the coroutines
// (pid kCoroutinePidBase + N, "<run>: coroutines"):
//   - "ph":"M" metadata: process_name, thread_name "P0", "P1", ... (tid =
//     worker) and "Task A (G1)" (tid = coroutine id), sort indexes;
//   - "ph":"X" complete slices on a worker's track, one per run of a
//     coroutine: name = the task, ts/dur in microseconds, args {coroutine,
//     task, stop, wait};
//   - "ph":"X" slices on a coroutine's track (cat "state"), tiling its life
//     from its spawn to its exit or the end of the run: "running on P0",
//     "runnable", "sleeping", "blocked: chan receive", args {state, worker,
//     stop, wait};
//   - flows ("ph":"s" and "f", same id): cat "wakeup" from the waker's
//     running slice (or, woken by a timer or a thread, from the woken
//     coroutine's own track) to the woken coroutine's next run ("bp":"e");
//     cat "steal" from the victim worker to the thief's next run;
//   - "ph":"i" instants: each steal on the thief's track, args {from,
//     coroutines}, and "end of the run", args {end_ns}.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include "corun/trace.hpp"
#include "demo/render/off_cpu.hpp"
#include "demo/render/output.hpp"
#include "demo/render/trace_view.hpp"

namespace demo {

// TraceFile is the file --trace names. A regular file is written
// atomically: the constructor creates a temporary file next to it (so an
// unwritable path fails before the run starts), commit() fills it and
// renames it over the file, and a TraceFile destroyed without commit()
// removes it: nothing half-written. What is at the path is respected:
//   - a symbolic link is followed to its final target (even a dangling one:
//     the target is created), and that file is replaced, not the link;
//   - a regular file the user may not write is refused (for root, one with
//     no write permission bit at all), as is a directory or a path whose
//     directory does not exist;
//   - anything else that exists (/dev/null, a FIFO, a terminal) is opened
//     and written in place, and this process's own descriptors
//     (/dev/stdout, /dev/stderr, /dev/fd/N) are written to directly.
class TraceFile {
 public:
  // TraceFile() throws UsageError naming `option` (--trace, --svg) when
  // `path` cannot be written.
  explicit TraceFile(std::string path, std::string_view option = "--trace");
  ~TraceFile();
  TraceFile(const TraceFile&) = delete;
  TraceFile& operator=(const TraceFile&) = delete;

  // commit() writes `contents` (and renames); throws std::runtime_error.
  void commit(std::string_view contents);
  const std::string& path() const noexcept { return path_; }

 private:
  // Target is where a path leads once its symbolic links are followed.
  struct Target {
    std::string path;
    enum Kind { kMissing, kRegular, kOther, kDescriptor } kind;
    int fd;  // kDescriptor: this process's descriptor
  };
  Target resolve(const std::string& path) const;
  [[noreturn]] void unwritable(std::string_view why) const;
  static bool may_replace(const struct stat& st, const std::string& path);

  std::string path_;        // as given
  std::string option_;      // the option that named it
  std::string final_path_;  // the file the temporary replaces
  std::string temp_path_;
  int fd_ = -1;
};

// ChromeTrace collects runs into one trace document; each run is a process.
class ChromeTrace {
 public:
  ChromeTrace();

  // kCoroutinePidBase + pid is the process of run `pid`'s coroutines.
  static constexpr int kCoroutinePidBase = 1000;

  // add_run() adds one Runtime's trace as process `pid` called `name`
  // (and its coroutines' process); `interrupted` says the run was cut
  // short by Ctrl-C. With `cpu` (the worker threads' CPU clocks), a
  // counter track per worker: the share of its held time off the CPU.
  void add_run(int pid, std::string_view name, int procs,
               const std::vector<corun::TraceEvent>& events, const TaskLabels& labels,
               bool interrupted = false, const std::vector<CpuSample>& cpu = {});

  // json() is the finished document.
  std::string json() const;

 private:
  JsonWriter w_;
  std::int64_t flows_ = 0;  // flow ids given so far
};

}  // namespace demo
