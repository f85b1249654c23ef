// progress.cpp: see progress.hpp.
#include "demo/render/progress.hpp"

#include <fmt/core.h>

#include <cstdio>

#include "demo/render/output.hpp"

namespace demo {

namespace {

constexpr std::chrono::milliseconds kTick{200};
constexpr std::string_view kErase = "\r\x1b[K";  // to the line's start, clear it

void write_stderr(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::string format_seconds(double seconds) {
  if (seconds < 10) return fmt::format("{:.1f} s", seconds);
  if (seconds < 60) return fmt::format("{:.0f} s", seconds);
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  return fmt::format("{} min {:02} s", s / 60, s % 60);
}

ProgressLine::ProgressLine(bool enabled, int width, std::mutex& out)
    : enabled_(enabled), width_(width), mu_(out) {}

ProgressLine::~ProgressLine() { stop(); }

void ProgressLine::update(std::string_view what, std::int64_t done, std::int64_t total,
                          std::string_view unit) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (stopped_) return;
  what_ = what;
  unit_ = unit;
  done_ = done;
  total_ = total;
  if (!thread_.joinable()) thread_ = std::thread([this] { tick(); });
}

void ProgressLine::hide_locked() {
  if (!shown_) return;
  write_stderr(kErase);
  shown_ = false;
}

void ProgressLine::stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopped_ = true;
    hide_locked();
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) thread.join();
}

void ProgressLine::tick() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopped_) {
    wake_.wait_for(lk, kTick);
    if (stopped_) break;
    if (std::chrono::steady_clock::now() - start_ < kDelay) continue;
    write_stderr(std::string(kErase.substr(0, 1)) + text_locked() + "\x1b[K");
    shown_ = true;
  }
}

std::string ProgressLine::text_locked() const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = fmt::format("{} | {}/{} {} | {} elapsed", what_, done_, total_, unit_,
                                 format_seconds(elapsed));
  if (done_ > 0 && done_ < total_) {
    const double left = elapsed * static_cast<double>(total_ - done_) / static_cast<double>(done_);
    line += fmt::format(" | ~{} left", format_seconds(left));
  }
  // One column short of the width: a full line would make the terminal wrap.
  const auto max = static_cast<std::size_t>(std::max(10, width_ - 1));
  while (display_width(line) > max) line.pop_back();
  return line;
}

}  // namespace demo
