// progress.hpp: ProgressLine, the one line on a terminal's stderr that says
// how far a long run is (what runs, how far, elapsed and remaining), as
// hyperfine does: rewritten in place with '\r', erased when the run is done.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace demo {

class ProgressLine {
 public:
  // kDelay is how long a run goes before its progress shows: short runs
  // never show any.
  static constexpr std::chrono::milliseconds kDelay{2000};

  // ProgressLine() draws on stderr, `width` columns at most, when `enabled`
  // (stderr is a terminal). `out` is the lock of the program's other output:
  // the line is drawn and erased under it, so that text written under it
  // (after hide_locked()) never lands inside the line.
  ProgressLine(bool enabled, int width, std::mutex& out);
  ~ProgressLine();  // stop()
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // update() says what runs now and how far the run is: `done` of `total`
  // `unit` ("3/12 runs"). The first call starts the clock's drawing thread.
  void update(std::string_view what, std::int64_t done, std::int64_t total, std::string_view unit);

  // hide_locked() erases the line if it is shown; the caller holds `out`.
  // The next tick draws it again.
  void hide_locked();

  // stop() erases the line for good and ends the drawing thread.
  void stop();

 private:
  void tick();
  std::string text_locked() const;

  const bool enabled_;
  const int width_;
  std::mutex& mu_;  // the output lock: guards everything below
  std::condition_variable wake_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::string what_;
  std::string unit_;
  std::int64_t done_ = 0;
  std::int64_t total_ = 0;
  bool shown_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

// format_seconds() is a duration for the progress line: "0.8 s", "12 s",
// "3 min 05 s".
std::string format_seconds(double seconds);

}  // namespace demo
